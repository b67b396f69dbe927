"""A test across training seeds: one mean per seed per method, not per-user scores."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats

from genrec_bench.stats.paired_t import paired_t_test


class SeedTestResult(NamedTuple):
    """Outcome of :func:`seed_test`."""

    test: str
    """``"paired t"`` or ``"Welch t"``."""
    statistic: float
    """t statistic; positive when A has the higher mean over seeds."""
    p_value: float
    """Two-sided p-value."""
    df: float
    """Degrees of freedom (``n - 1`` paired, Welch-Satterthwaite unpaired; NaN when both
    spreads are 0)."""
    n_seeds_a: int
    n_seeds_b: int
    mean_a: float
    std_a: float
    """Standard deviation over seeds, ``ddof=1``."""
    mean_b: float
    std_b: float
    mean_diff: float
    """``mean_a - mean_b``."""


def _seed_vector(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.shape[0] < 2:
        raise ValueError(f"{name} must be a 1-D vector of at least 2 per-seed values; "
                         f"got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} has a non-finite per-seed value")
    return x


def seed_test(means_a: np.ndarray, means_b: np.ndarray, *, paired: bool) -> SeedTestResult:
    """Two-sided test of the difference between two methods' per-seed mean scores.

    With ``paired=True`` run ``i`` of both methods shares seed ``i`` (same data order,
    same initialisation stream), so a paired t-test on the per-seed differences is used
    (equal lengths required; degenerate cases as in :func:`paired_t_test`). With
    ``paired=False`` the runs are independent and Welch's unequal-variance t-test is used
    (``scipy.stats.ttest_ind(equal_var=False)``); when both methods have zero spread the
    result is ``(0, p=1)`` for equal means and ``(±inf, p=0)`` otherwise.

    Args:
        means_a: ``[s_a]`` per-seed means of method A, ``s_a >= 2``.
        means_b: ``[s_b]`` per-seed means of method B (``s_b == s_a`` when paired).
        paired: whether the seeds pair up run for run.
    Returns:
        :class:`SeedTestResult` with the test name, statistic, p-value, df and the mean
        and std (ddof=1) over seeds of each method.

    >>> r = seed_test(np.array([0.30, 0.32, 0.31]), np.array([0.28, 0.29, 0.30]), paired=True)
    >>> r.test, round(r.statistic, 3), round(r.p_value, 3), round(r.mean_diff, 3)
    ('paired t', 3.464, 0.074, 0.02)
    """
    a = _seed_vector(means_a, "means_a")
    b = _seed_vector(means_b, "means_b")
    if paired:
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"paired seeds need as many runs of each method; got "
                             f"{a.shape[0]} and {b.shape[0]}")
        t = paired_t_test(a, b)
        test, statistic, p_value, df = "paired t", t.statistic, t.p_value, float(t.df)
    else:
        test = "Welch t"
        if np.all(a == a[0]) and np.all(b == b[0]):
            diff = a[0] - b[0]
            statistic = 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
            p_value = 1.0 if diff == 0.0 else 0.0
            df = math.nan
        else:
            res = stats.ttest_ind(a, b, equal_var=False)
            statistic, p_value, df = float(res.statistic), float(res.pvalue), float(res.df)
    return SeedTestResult(
        test=test, statistic=float(statistic), p_value=float(p_value), df=df,
        n_seeds_a=int(a.shape[0]), n_seeds_b=int(b.shape[0]),
        mean_a=float(a.mean()), std_a=float(a.std(ddof=1)),
        mean_b=float(b.mean()), std_b=float(b.std(ddof=1)),
        mean_diff=float(a.mean() - b.mean()))
