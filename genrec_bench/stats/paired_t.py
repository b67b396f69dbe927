"""Paired two-sided Student t-test on per-user scores (and the shared paired-input check)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats


class PairedTResult(NamedTuple):
    """Outcome of :func:`paired_t_test`."""

    statistic: float
    """t statistic of ``a - b``: positive when ``a`` has the higher mean."""
    p_value: float
    """Two-sided p-value."""
    df: int
    """Degrees of freedom ``n - 1``."""


def paired_differences(a: np.ndarray, b: np.ndarray, *, min_users: int = 1) -> np.ndarray:
    """Check that ``a`` and ``b`` are paired per-user vectors and return ``a - b``.

    Args:
        a: ``[n]`` per-user scores of the first method.
        b: ``[n]`` per-user scores of the second method, same users in the same order.
        min_users: the smallest ``n`` the caller can work with.
    Returns:
        float64 ``[n]`` differences ``a - b``.
    Raises:
        ValueError: if either is not 1-D, the lengths differ, ``n < min_users`` or a value
            is NaN or infinite.

    >>> paired_differences(np.array([1.0, 0.5]), np.array([0.0, 0.5])).tolist()
    [1.0, 0.0]
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"a and b must be 1-D per-user vectors; got shapes {a.shape} and {b.shape}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must hold the same users in the same order; got lengths "
                         f"{a.shape[0]} and {b.shape[0]}")
    if a.shape[0] < min_users:
        raise ValueError(f"need at least {min_users} paired users; got {a.shape[0]}")
    for name, x in (("a", a), ("b", b)):
        if not np.all(np.isfinite(x)):
            bad = int(np.flatnonzero(~np.isfinite(x))[0])
            raise ValueError(f"{name} has a non-finite value {x[bad]} at position {bad}")
    return a - b


def paired_t_test(a: np.ndarray, b: np.ndarray) -> PairedTResult:
    """Paired two-sided t-test of ``mean(a - b) == 0`` (``scipy.stats.ttest_rel``).

    Degenerate cases, where scipy would return NaN or warn, are decided here:

    * every difference is 0: ``statistic = 0.0``, ``p_value = 1.0`` (no evidence at all);
    * every difference is the same nonzero value ``c`` (standard deviation 0):
      ``statistic = copysign(inf, c)``, ``p_value = 0.0``, the limit of the test as the
      spread of the differences goes to 0.

    Args:
        a: ``[n]`` per-user scores of method A, ``n >= 2``.
        b: ``[n]`` per-user scores of method B for the same users in the same order.
    Returns:
        :class:`PairedTResult` ``(statistic, p_value, df)``.

    >>> r = paired_t_test(np.array([0.3, 0.5, 0.4, 0.6]), np.array([0.2, 0.5, 0.1, 0.4]))
    >>> round(r.statistic, 4), round(r.p_value, 4), r.df
    (2.3238, 0.1027, 3)
    >>> paired_t_test(np.ones(5), np.ones(5))
    PairedTResult(statistic=0.0, p_value=1.0, df=4)
    """
    d = paired_differences(a, b, min_users=2)
    df = d.shape[0] - 1
    if np.all(d == d[0]):
        if d[0] == 0.0:
            return PairedTResult(0.0, 1.0, df)
        return PairedTResult(math.copysign(math.inf, d[0]), 0.0, df)
    res = stats.ttest_rel(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return PairedTResult(float(res.statistic), float(res.pvalue), df)
