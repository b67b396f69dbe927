"""build_sequences: iterative k-core, stable chronological order, deterministic indexing."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest

from genrec_bench.data.kcore import build_sequences, k_core_mask
from genrec_bench.data.split import leave_last_out
from genrec_bench.data.types import InteractionLog
from genrec_bench.errors import ConfigError, DataError


def make_log(rows: list[tuple[str, str, int]], *, times: bool = True) -> InteractionLog:
    users, items, stamps = zip(*rows, strict=True)
    return InteractionLog(user=np.array(users), item=np.array(items),
                          timestamp=np.array(stamps, dtype=np.int64) if times else None,
                          source="fixture.log")


def as_lists(dataset) -> dict[str, list[str]]:
    """{raw user: [raw items in order]}."""
    return {str(dataset.user_ids[u]): [str(dataset.item_ids[i]) for i in dataset.sequences[u]]
            for u in range(dataset.n_users)}


def reference(rows: list[tuple[str, str, int]], k: int) -> dict[str, list[str]]:
    """Plain-Python k-core + stable chronological order, for comparison."""
    rows = list(rows)
    while True:
        users = Counter(r[0] for r in rows)
        items = Counter(r[1] for r in rows)
        kept = [r for r in rows if users[r[0]] >= k and items[r[1]] >= k]
        if len(kept) == len(rows):
            break
        rows = kept
    out: dict[str, list[tuple[int, int, str]]] = {}
    for position, (u, i, t) in enumerate(rows):
        out.setdefault(u, []).append((t, position, i))
    return {u: [i for _, _, i in sorted(v)] for u, v in out.items()}


def test_k_core_needs_several_rounds() -> None:
    # k = 2. Round 1 drops item z (1 row), leaving user c with 1 row; round 2 drops c,
    # leaving item w with 1 row; round 3 drops w, leaving user d with 1 row; round 4 drops
    # d; then x has 2 rows (a, b) and nothing else falls.
    rows = [("a", "x", 1), ("a", "y", 2), ("b", "x", 3), ("b", "y", 4),
            ("c", "z", 5), ("c", "w", 6), ("d", "w", 7), ("d", "x", 8)]
    dataset = build_sequences(make_log(rows), name="t", k_core=2)
    assert as_lists(dataset) == {"a": ["x", "y"], "b": ["x", "y"]}
    assert dataset.provenance["k_core_rounds"] == 4
    assert dataset.provenance["counts_before"] == {"users": 4, "items": 4, "interactions": 8}
    assert dataset.provenance["counts_after"] == {"users": 2, "items": 2, "interactions": 4}
    assert dataset.counts() == {"users": 2, "items": 2, "interactions": 4}


def test_k_core_mask_of_a_core_is_everything() -> None:
    user = np.array([0, 0, 1, 1])
    item = np.array([0, 1, 0, 1])
    keep, rounds = k_core_mask(user, item, 2)
    assert keep.all() and rounds == 0


def test_chronological_order_is_stable_on_ties() -> None:
    rows = [("u", "p", 5), ("u", "q", 3), ("u", "r", 3), ("u", "s", 1), ("u", "t", 3)]
    dataset = build_sequences(make_log(rows), name="t", k_core=1)
    assert as_lists(dataset) == {"u": ["s", "q", "r", "t", "p"]}


def test_item_index_is_first_appearance_in_ordered_sequences() -> None:
    rows = [("u2", "c", 2), ("u1", "b", 9), ("u1", "a", 1), ("u2", "b", 1)]
    dataset = build_sequences(make_log(rows), name="t", k_core=1)
    # users in log order: u2 then u1; u2 = [b, c], u1 = [a, b] -> b=1, c=2, a=3
    assert dataset.user_ids.tolist() == ["u2", "u1"]
    assert dataset.item_ids.tolist() == ["<pad>", "b", "c", "a"]
    assert dataset.sequences.items.tolist() == [1, 2, 3, 1]
    assert dataset.sequences.offsets.tolist() == [0, 2, 4]


def test_without_timestamps_a_chronological_split_is_refused() -> None:
    log = make_log([("u", "a", 0), ("u", "b", 0)], times=False)
    with pytest.raises(DataError) as info:
        build_sequences(log, name="t", k_core=1)
    message = str(info.value)
    assert "fixture.log" in message and "no timestamps" in message
    assert "not in time order" in message and "leave-last-out" in message


def test_file_order_when_not_chronological() -> None:
    log = make_log([("u", "a", 0), ("u", "b", 0), ("v", "a", 0), ("u", "c", 0)], times=False)
    dataset = build_sequences(log, name="t", k_core=1, chronological=False)
    assert as_lists(dataset) == {"u": ["a", "b", "c"], "v": ["a"]}


def test_nothing_left_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no interaction is left after the 5-core"):
        build_sequences(make_log([("u", "a", 1), ("u", "b", 2)]), name="t", k_core=5)


def test_empty_log_and_bad_k() -> None:
    empty = InteractionLog(user=np.array([], dtype=str), item=np.array([], dtype=str),
                           timestamp=np.array([], dtype=np.int64), source="empty.log")
    with pytest.raises(DataError, match="empty.log: the log has no interactions"):
        build_sequences(empty, name="t")
    with pytest.raises(ConfigError, match="k_core"):
        build_sequences(make_log([("u", "a", 1)]), name="t", k_core=0)


def test_drop_duplicates() -> None:
    rows = [("u", "a", 1), ("u", "a", 1), ("u", "b", 2), ("u", "a", 3)]
    kept = build_sequences(make_log(rows), name="t", k_core=1)
    deduped = build_sequences(make_log(rows), name="t", k_core=1, drop_duplicates=True)
    assert as_lists(kept) == {"u": ["a", "a", "b", "a"]}
    assert as_lists(deduped) == {"u": ["a", "b", "a"]}
    assert deduped.provenance["duplicates_dropped"] == 1


@pytest.mark.parametrize("seed", range(5))
def test_matches_a_plain_python_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 600
    rows = [(f"u{rng.integers(40)}", f"i{rng.integers(30)}", int(rng.integers(0, 20)))
            for _ in range(n)]
    k = int(rng.integers(2, 6))
    dataset = build_sequences(make_log(rows), name="t", k_core=k)
    assert as_lists(dataset) == reference(rows, k)
    assert dataset.sequences.items.min() == 1
    assert dataset.sequences.items.max() == dataset.n_items
    assert np.unique(dataset.sequences.items).size == dataset.n_items
    counts = np.bincount(dataset.sequences.items)
    assert counts[1:].min() >= k and dataset.sequences.lengths.min() >= k


def test_vectorized_on_a_large_log() -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    log = InteractionLog(user=rng.integers(0, 60_000, n), item=rng.integers(0, 20_000, n),
                         timestamp=rng.integers(0, 10**9, n), source="big")
    start = time.perf_counter()
    dataset = build_sequences(log, name="big", k_core=5)
    assert time.perf_counter() - start < 10.0
    splits = leave_last_out(dataset)
    assert len(splits.test) == dataset.n_users
    assert dataset.user_ids.dtype.kind == "U" and dataset.n_interactions > 0.9 * n
