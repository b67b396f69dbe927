"""Training samples for next-item generation: (history window, target item) pairs."""

from __future__ import annotations

import numpy as np

from genrec_bench.data.types import Sequences


def all_prefixes(train: Sequences) -> tuple[np.ndarray, np.ndarray]:
    """Every prefix of every training sequence as a sample (LETTER, ETEGRec, RecBole).

    Returns:
        (rows int64 ``[S]`` sequence index, ends int64 ``[S]`` target position inside it, >= 1).
    """
    lengths = train.lengths
    counts = np.maximum(lengths - 1, 0)
    rows = np.repeat(np.arange(len(train)), counts)
    ends = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    return rows, ends


def one_random_prefix(train: Sequences, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One random prefix per sequence (a cheaper epoch; learns faster per CPU minute)."""
    lengths = train.lengths
    rows = np.flatnonzero(lengths >= 2)
    ends = rng.integers(1, lengths[rows])  # target position in 1..len-1
    return rows, ends


def history_windows(train: Sequences, rows: np.ndarray, ends: np.ndarray, max_history: int) -> np.ndarray:
    """int64 ``[S, H]``: the up-to-``max_history`` items before each target, left-aligned,
    0-padded, ``H`` = the longest window in this batch."""
    starts = train.offsets[rows] + np.maximum(ends - max_history, 0)
    lengths = train.offsets[rows] + ends - starts
    width = int(max(1, lengths.max(initial=1)))
    index = starts[:, None] + np.arange(width)[None, :]
    valid = np.arange(width)[None, :] < lengths[:, None]
    return np.where(valid, train.items[np.minimum(index, train.items.shape[0] - 1)], 0)


def targets_of(train: Sequences, rows: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """int64 ``[S]`` target item of each sample."""
    return train.items[train.offsets[rows] + ends]
