"""Training samples for next-item generation: (history window, target item) pairs.

A sample is a sequence index ``row``, the position ``end`` (>= 1) of its target inside that
sequence and the length ``width`` (1 .. ``end``) of the history before it: the history is the
contiguous window ``sequence[end - width:end]``. One function per strategy of
``GeneratorTrainingConfig.training_prefixes`` draws an epoch's samples (``all-shuffled`` has
the samples of ``all``; only its batches differ, ``seq2seq_training.epoch_batches``). All are
vectorized over users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genrec_bench.data.types import Sequences


@dataclass(frozen=True)
class TrainingSamples:
    """One epoch's samples. Attributes, int64 ``[S]`` each:
    rows: the sequence of each sample.
    ends: the target's position inside it (>= 1).
    widths: the history's length, 1 .. ``ends``: the ``widths`` items right before the target.
    """

    rows: np.ndarray
    ends: np.ndarray
    widths: np.ndarray

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def history(self, train: Sequences, batch: np.ndarray) -> np.ndarray:
        """int64 ``[B, H]``: the histories of samples ``batch`` (:func:`history_windows`)."""
        return history_windows(train, self.rows[batch], self.ends[batch], self.widths[batch])

    def targets(self, train: Sequences, batch: np.ndarray) -> np.ndarray:
        """int64 ``[B]``: the target items of samples ``batch``."""
        return targets_of(train, self.rows[batch], self.ends[batch])


def all_prefixes(train: Sequences) -> tuple[np.ndarray, np.ndarray]:
    """Every prefix of every training sequence as a sample (LETTER, ETEGRec, RecBole): with the
    history cut to the last ``max_history`` items, a sliding window over each sequence.

    Returns:
        (rows int64 ``[S]`` sequence index, ends int64 ``[S]`` target position inside it, >= 1),
        ``S`` = the sum over sequences of ``length - 1``.
    """
    lengths = train.lengths
    counts = np.maximum(lengths - 1, 0)
    rows = np.repeat(np.arange(len(train)), counts)
    ends = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    return rows, ends


def one_random_prefix(train: Sequences, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One random prefix per sequence (a cheaper epoch; learns faster per CPU minute).

    Returns:
        (rows int64 ``[S]``, ends int64 ``[S]`` uniform in 1..length-1), ``S`` = the sequences
        of length >= 2, in order.
    """
    lengths = train.lengths
    rows = np.flatnonzero(lengths >= 2)
    ends = rng.integers(1, lengths[rows])  # target position in 1..len-1
    return rows, ends


def random_window(train: Sequences, max_history: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One random contiguous window per sequence (Botta's and GRID's practice): a target
    position uniform in 1..length-1, then a history length uniform in 1..min(max_history,
    position), so short contexts are trained too.

    Returns:
        (rows int64 ``[S]``, ends int64 ``[S]``, widths int64 ``[S]``), ``S`` = the sequences of
        length >= 2, in order.
    """
    rows, ends = one_random_prefix(train, rng)
    widths = rng.integers(1, np.minimum(ends, max_history) + 1)
    return rows, ends, widths


def history_windows(train: Sequences, rows: np.ndarray, ends: np.ndarray,
                    max_history: int | np.ndarray) -> np.ndarray:
    """int64 ``[S, H]``: the up-to-``max_history`` items before each target, left-aligned,
    0-padded, ``H`` = the longest window in this batch. ``max_history``: one int for every
    sample, or int ``[S]``, one per sample."""
    starts = train.offsets[rows] + np.maximum(ends - max_history, 0)
    lengths = train.offsets[rows] + ends - starts
    width = int(max(1, lengths.max(initial=1)))
    index = starts[:, None] + np.arange(width)[None, :]
    valid = np.arange(width)[None, :] < lengths[:, None]
    return np.where(valid, train.items[np.minimum(index, train.items.shape[0] - 1)], 0)


def targets_of(train: Sequences, rows: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """int64 ``[S]`` target item of each sample."""
    return train.items[train.offsets[rows] + ends]
