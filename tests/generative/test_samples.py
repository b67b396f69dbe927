"""Training samples of the semantic-ID generators: which (history, target) pairs an epoch
trains on, and in which batches."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from genrec_bench.data.types import Sequences
from genrec_bench.errors import ConfigError
from genrec_bench.generative.samples import (
    all_prefixes,
    history_windows,
    one_random_prefix,
    random_window,
    targets_of,
)
from genrec_bench.generative.seq2seq_training import epoch_batches, training_samples
from genrec_bench.training.generator_config import GeneratorTrainingConfig

#: user 1 is too short to give a sample; users 0 and 3 are longer than ``max_history`` = 3
SMALL = Sequences.from_lists([[1, 2, 3, 4, 5], [6], [7, 8], [9, 10, 11, 12, 13, 14, 15]])


def random_sequences(n: int = 300, seed: int = 0) -> Sequences:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 31, size=n)
    return Sequences.from_lists([rng.integers(1, 500, size=k) for k in lengths])


def epoch_stream(train: Sequences, strategy: str, *, epochs: int = 3, seed: int = 123, max_history: int = 5,
                 batch_size: int = 16) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Every epoch's (history, targets) batches, as the training loop builds them."""
    training = GeneratorTrainingConfig(max_history=max_history, training_prefixes=strategy, batch_size=batch_size)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        samples = training_samples(train, training, rng)
        out.append([(samples.history(train, b), samples.targets(train, b))
                    for b in epoch_batches(samples.widths, training, rng)])
    return out


def digest(stream: list[list[tuple[np.ndarray, np.ndarray]]]) -> str:
    h = hashlib.sha256()
    for epoch in stream:
        for history, targets in epoch:
            h.update(np.ascontiguousarray(history, dtype=np.int64).tobytes())
            h.update(b"|")
            h.update(np.ascontiguousarray(targets, dtype=np.int64).tobytes())
            h.update(b";")
        h.update(b"#")
    return h.hexdigest()[:16]


# ------------------------------------------------- the existing strategies, pinned


def test_all_prefixes_is_every_target_position_of_every_sequence():
    rows, ends = all_prefixes(SMALL)
    assert rows.tolist() == [0, 0, 0, 0, 2, 3, 3, 3, 3, 3, 3]
    assert ends.tolist() == [1, 2, 3, 4, 1, 1, 2, 3, 4, 5, 6]
    assert history_windows(SMALL, rows, ends, 3).tolist() == [
        [1, 0, 0], [1, 2, 0], [1, 2, 3], [2, 3, 4], [7, 0, 0], [9, 0, 0], [9, 10, 0], [9, 10, 11],
        [10, 11, 12], [11, 12, 13], [12, 13, 14]]
    assert targets_of(SMALL, rows, ends).tolist() == [2, 3, 4, 5, 8, 10, 11, 12, 13, 14, 15]


def test_one_random_prefix_is_pinned_for_a_seed():
    rows, ends = one_random_prefix(SMALL, np.random.default_rng(7))
    assert rows.tolist() == [0, 2, 3] and ends.tolist() == [4, 1, 4]
    assert history_windows(SMALL, rows, ends, 3).tolist() == [[2, 3, 4], [7, 0, 0], [10, 11, 12]]


@pytest.mark.parametrize("strategy, expected", [
    ("all", [[[2, 8], [1, 9], [4, 5], [7], [10, 3], [0, 6]], [[5, 1], [3], [2, 8], [9, 7], [4, 0], [6, 10]]]),
    ("one-random", [[[2], [1, 0]], [[0], [2, 1]]]),
])
def test_the_existing_strategies_draw_the_same_batches_as_before(strategy, expected):
    """Sample indices of two epochs' batches, seeded (recorded before the strategies were added)."""
    training = GeneratorTrainingConfig(max_history=3, training_prefixes=strategy, batch_size=2)
    rng = np.random.default_rng(11)
    got = []
    for _ in range(2):
        samples = training_samples(SMALL, training, rng)
        got.append([b.tolist() for b in epoch_batches(samples.widths, training, rng)])
    assert got == expected


@pytest.mark.parametrize("strategy, expected", [("all", "819200198fd7f58b"), ("one-random", "c54ab7f9ede84bfb")])
def test_the_existing_strategies_train_on_the_same_stream_as_before(strategy, expected):
    """Three epochs of (history, target) batches on 300 random users, hashed (recorded before
    the strategies were added): any change to the samples, their order or the rng use shows."""
    assert digest(epoch_stream(random_sequences(), strategy)) == expected


# ------------------------------------------------- all-shuffled: the samples of all, batches of a plain DataLoader


def sample_multiset(stream) -> list[tuple]:
    return sorted((tuple(int(x) for x in h if x), int(t)) for epoch in stream for hs, ts in epoch
                  for h, t in zip(hs, ts, strict=True))


def test_all_shuffled_draws_the_samples_of_all_in_batches_of_one_uniform_permutation():
    training = GeneratorTrainingConfig(max_history=3, training_prefixes="all-shuffled", batch_size=2)
    rng = np.random.default_rng(11)
    samples = training_samples(SMALL, training, rng)
    rows, ends = all_prefixes(SMALL)
    assert samples.rows.tolist() == rows.tolist() and samples.ends.tolist() == ends.tolist()
    assert samples.widths.tolist() == [1, 2, 3, 3, 1, 1, 2, 3, 3, 3, 3]
    batches = [b.tolist() for b in epoch_batches(samples.widths, training, rng)]
    assert batches == [[6, 9], [2, 1], [8, 4], [5, 10], [3, 7], [0]]
    order = np.random.default_rng(11).permutation(11).tolist()   # what DataLoader(shuffle=True) draws
    assert sum(batches, []) == order


def test_all_shuffled_has_the_multiset_of_all_but_batches_not_grouped_by_length():
    train = random_sequences()
    grouped = epoch_stream(train, "all", epochs=1)
    shuffled = epoch_stream(train, "all-shuffled", epochs=1)
    assert sample_multiset(shuffled) == sample_multiset(grouped)
    # grouped: (almost) every batch holds one history length; shuffled: most batches mix them
    mixed = [len({int((h > 0).sum()) for h in hs}) > 1 for hs, _ in shuffled[0]]
    assert sum(mixed) > 0.9 * len(mixed)
    assert sum(len({int((h > 0).sum()) for h in hs}) > 1 for hs, _ in grouped[0]) < 0.1 * len(grouped[0])
    padding = {name: sum(int((hs == 0).sum()) for hs, _ in stream[0])
               for name, stream in (("all", grouped), ("all-shuffled", shuffled))}
    assert padding["all-shuffled"] > 5 * padding["all"]


def test_all_shuffled_epochs_differ_and_are_seeded():
    train = random_sequences()
    first = epoch_stream(train, "all-shuffled", epochs=2)
    assert digest(first) == digest(epoch_stream(train, "all-shuffled", epochs=2))
    assert digest(first) != digest(epoch_stream(train, "all-shuffled", epochs=2, seed=124))
    assert digest(first[:1]) != digest(first[1:])


# ------------------------------------------------- random-window: one random contiguous window per user


def test_random_window_draws_a_target_then_a_history_length_per_user():
    rows, ends, widths = random_window(SMALL, 3, np.random.default_rng(0))
    assert rows.tolist() == [0, 2, 3] and ends.tolist() == [4, 1, 4] and widths.tolist() == [2, 1, 1]
    # user 0 [1..5]: target 5 after [3, 4]; user 2 [7, 8]: 8 after [7]; user 3 [9..15]: 13 after [12]
    assert history_windows(SMALL, rows, ends, widths).tolist() == [[3, 4], [7, 0], [12, 0]]
    assert targets_of(SMALL, rows, ends).tolist() == [5, 8, 13]
    training = GeneratorTrainingConfig(max_history=3, training_prefixes="random-window")
    samples = training_samples(SMALL, training, np.random.default_rng(0))
    assert samples.widths.tolist() == [2, 1, 1]
    assert samples.history(SMALL, np.arange(3)).tolist() == [[3, 4], [7, 0], [12, 0]]


def test_random_window_histories_are_contiguous_end_before_the_target_and_stay_in_bounds():
    train, max_history = random_sequences(2000), 5
    rows, ends, widths = random_window(train, max_history, np.random.default_rng(3))
    assert rows.tolist() == np.flatnonzero(train.lengths >= 2).tolist()     # one window per usable user
    assert (ends >= 1).all() and (ends < train.lengths[rows]).all()
    assert (widths >= 1).all() and (widths <= np.minimum(ends, max_history)).all()
    histories, targets = history_windows(train, rows, ends, widths), targets_of(train, rows, ends)
    for i in range(rows.shape[0]):
        sequence = train[int(rows[i])]
        end, width = int(ends[i]), int(widths[i])
        assert histories[i, :width].tolist() == sequence[end - width:end].tolist()
        assert (histories[i, width:] == 0).all() and targets[i] == sequence[end]
    # every allowed history length occurs, short ones included, not only the longest
    assert set(widths.tolist()) == set(range(1, max_history + 1))
    assert (widths < np.minimum(ends, max_history)).mean() > 0.3


def test_random_window_is_reproducible_for_a_seed_and_batched_by_history_length():
    train = random_sequences()
    first = epoch_stream(train, "random-window", epochs=2)
    assert digest(first) == digest(epoch_stream(train, "random-window", epochs=2))
    assert digest(first) != digest(epoch_stream(train, "random-window", epochs=2, seed=124))
    assert digest(first) != digest(epoch_stream(train, "one-random", epochs=2))
    grouped = sum(len({int((h > 0).sum()) for h in hs}) == 1 for hs, _ in first[0])
    assert grouped > 0.7 * len(first[0])


def test_the_strategies_are_config_values_and_others_are_refused():
    for strategy in ("all", "one-random", "all-shuffled", "random-window"):
        assert GeneratorTrainingConfig(training_prefixes=strategy).training_prefixes == strategy
    with pytest.raises(ConfigError, match="training_prefixes"):
        GeneratorTrainingConfig(training_prefixes="windows")
