"""Training batches: grouped by length, so padding (and compute) stays small, or uniformly
shuffled (a plain PyTorch ``DataLoader(shuffle=True)``, the references' batching)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from genrec_bench.data.types import Sequences


def length_grouped_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                           *, bucket_factor: int = 50) -> Iterator[np.ndarray]:
    """Yield row-index batches; rows of similar length share a batch, batch order shuffled.

    Rows are shuffled, cut into buckets of ``bucket_factor * batch_size``, each bucket sorted
    by length and cut into batches; then all batches are shuffled. Deterministic given ``rng``.

    Args:
        lengths: int ``[n]`` sequence lengths.
        batch_size: rows per batch (the last batch of a bucket may be smaller).
    """
    order = rng.permutation(lengths.shape[0])
    bucket = batch_size * bucket_factor
    batches = []
    for start in range(0, order.shape[0], bucket):
        chunk = order[start:start + bucket]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, chunk.shape[0], batch_size))
    for b in rng.permutation(len(batches)):
        yield batches[b]


def shuffled_batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield row-index batches of ``0..n-1`` in one uniformly random order, ``batch_size`` rows
    each (the last may be smaller), whatever the rows' lengths. Deterministic given ``rng``."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def tail_window(seqs: Sequences, rows: np.ndarray, width: int) -> np.ndarray:
    """int64 ``[len(rows), w]`` of each row's last ``width`` items, left-aligned, 0-padded,
    with ``w`` = the longest kept length in the batch (trimmed, not padded to ``width``)."""
    sub = seqs.select(rows)
    w = int(min(width, sub.lengths.max(initial=1)))
    return sub.padded(w, align="left")
