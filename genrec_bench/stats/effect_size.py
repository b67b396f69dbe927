"""Cohen's d_z, the standardized mean difference of paired data."""

from __future__ import annotations

import math

import numpy as np

from genrec_bench.stats.paired_t import paired_differences


def cohens_dz(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's ``d_z = mean(a - b) / std(a - b, ddof=1)``.

    It relates to the paired t statistic by ``t = d_z * sqrt(n)``. When every difference
    is the same value ``c`` (standard deviation exactly 0) the ratio is defined as its
    limit: ``0.0`` when ``c == 0`` (the methods are identical on every user) and
    ``copysign(inf, c)`` otherwise (a uniform shift has unbounded standardized size).

    Args:
        a: ``[n]`` per-user scores of method A, ``n >= 2``.
        b: ``[n]`` per-user scores of method B for the same users in the same order.
    Returns:
        d_z as a float; positive when ``a`` has the higher mean.

    >>> cohens_dz(np.array([0.5, 0.75, 1.0]), np.array([0.25, 0.25, 0.5]))  # diffs .25 .5 .5
    2.886751345948129
    >>> cohens_dz(np.ones(3), np.ones(3)), cohens_dz(np.ones(3), np.zeros(3))
    (0.0, inf)
    """
    d = paired_differences(a, b, min_users=2)
    if np.all(d == d[0]):
        return 0.0 if d[0] == 0.0 else math.copysign(math.inf, d[0])
    return float(d.mean() / d.std(ddof=1))
