"""Recall@K. With one held-out target per user it equals Hit Ratio@K."""

from __future__ import annotations

import numpy as np


def recall_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-user Recall@k from 1-based target ranks.

    Args:
        ranks: int64 ``[n]``, the 1-based rank of each user's target
            (``NOT_RETRIEVED`` when it is not in the returned list).
        k: the cut-off.
    Returns:
        float64 ``[n]``: 1.0 where ``rank <= k`` else 0.0.

    >>> recall_at_k(np.array([1, 3, 11]), 10).tolist()
    [1.0, 1.0, 0.0]
    """
    return (ranks <= k).astype(np.float64)
