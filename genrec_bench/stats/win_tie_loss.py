"""Win / tie / loss counts over users."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from genrec_bench.stats.paired_t import paired_differences


class WinTieLoss(NamedTuple):
    """Users where ``a`` beats, equals, and loses to ``b``; they sum to ``n``."""

    wins: int
    ties: int
    losses: int


def win_tie_loss(a: np.ndarray, b: np.ndarray, *, atol: float = 0.0) -> WinTieLoss:
    """Count users with ``a > b`` (win), ``a == b`` (tie) and ``a < b`` (loss).

    By default a tie is exact float equality, which is what identical ranks give for
    rank-based metrics; ``atol > 0`` counts ``|a - b| <= atol`` as a tie instead.

    Args:
        a: ``[n]`` per-user scores of method A.
        b: ``[n]`` per-user scores of method B for the same users in the same order.
        atol: absolute tolerance of a tie, ``>= 0``.
    Returns:
        :class:`WinTieLoss` ``(wins, ties, losses)``.

    >>> win_tie_loss(np.array([1.0, 0.5, 0.0, 0.2]), np.array([0.0, 0.5, 1.0, 0.1]))
    WinTieLoss(wins=2, ties=1, losses=1)
    """
    if not atol >= 0.0:
        raise ValueError(f"atol must be >= 0; got {atol!r}")
    d = paired_differences(a, b, min_users=0)
    ties = int(np.count_nonzero(np.abs(d) <= atol))
    wins = int(np.count_nonzero(d > atol))
    return WinTieLoss(wins, ties, d.shape[0] - wins - ties)
