"""NDCG@K for one relevant item per user (so the ideal DCG is 1)."""

from __future__ import annotations

import numpy as np


def ndcg_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-user NDCG@k = ``1 / log2(rank + 1)`` when ``rank <= k``, else 0.

    Args:
        ranks: int64 ``[n]`` 1-based target ranks.
        k: the cut-off.
    Returns:
        float64 ``[n]``.

    >>> ndcg_at_k(np.array([1, 3, 11]), 10).round(4).tolist()
    [1.0, 0.5, 0.0]
    """
    hit = ranks <= k
    out = np.zeros(ranks.shape[0], dtype=np.float64)
    out[hit] = 1.0 / np.log2(ranks[hit].astype(np.float64) + 1.0)
    return out
