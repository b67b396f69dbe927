"""Training samples of the semantic-ID generators: which (history, target) pairs an epoch
trains on, and in which batches."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from genrec_bench.data.types import Sequences
from genrec_bench.generative.samples import (
    all_prefixes,
    history_windows,
    one_random_prefix,
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
        rows, ends = training_samples(train, training, rng)
        out.append([(history_windows(train, rows[b], ends[b], max_history), targets_of(train, rows[b], ends[b]))
                    for b in epoch_batches(ends, training, rng)])
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
        _, ends = training_samples(SMALL, training, rng)
        got.append([b.tolist() for b in epoch_batches(ends, training, rng)])
    assert got == expected


@pytest.mark.parametrize("strategy, expected", [("all", "819200198fd7f58b"), ("one-random", "c54ab7f9ede84bfb")])
def test_the_existing_strategies_train_on_the_same_stream_as_before(strategy, expected):
    """Three epochs of (history, target) batches on 300 random users, hashed (recorded before
    the strategies were added): any change to the samples, their order or the rng use shows."""
    assert digest(epoch_stream(random_sequences(), strategy)) == expected
