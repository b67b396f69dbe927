"""MRR@K (mean reciprocal rank truncated at K) for one target per user."""

from __future__ import annotations

import numpy as np


def mrr_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-user reciprocal rank ``1 / rank`` when ``rank <= k``, else 0.

    Args:
        ranks: int64 ``[n]`` 1-based target ranks.
        k: the cut-off.
    Returns:
        float64 ``[n]``.

    >>> mrr_at_k(np.array([1, 4, 11]), 10).tolist()
    [1.0, 0.25, 0.0]
    """
    hit = ranks <= k
    out = np.zeros(ranks.shape[0], dtype=np.float64)
    out[hit] = 1.0 / ranks[hit].astype(np.float64)
    return out
