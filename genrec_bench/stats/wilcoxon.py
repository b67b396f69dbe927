"""Wilcoxon signed-rank test on paired per-user scores, with the handling of zeros and ties
stated."""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
from scipy import stats

from genrec_bench.stats.paired_t import paired_differences

ZeroMethod = Literal["wilcox", "pratt", "zsplit"]
WilcoxonMethod = Literal["auto", "exact", "asymptotic"]


class WilcoxonResult(NamedTuple):
    """Outcome of :func:`wilcoxon_test`."""

    statistic: float
    """``min(R+, R-)``, the smaller of the rank sums of positive and negative differences
    (scipy's two-sided statistic); 0.0 when every difference is zero."""
    p_value: float
    """Two-sided p-value."""
    n_nonzero: int
    """How many users have ``a != b`` (the effective sample size under ``"wilcox"``)."""


def wilcoxon_test(a: np.ndarray, b: np.ndarray, *, zero_method: ZeroMethod = "wilcox",
                  method: WilcoxonMethod = "auto", correction: bool = False) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of ``a - b`` (``scipy.stats.wilcoxon``).

    Zeros (users with ``a == b``, very common for top-K metrics) follow ``zero_method``:

    * ``"wilcox"`` (default): users with a zero difference are dropped before ranking, so
      the test runs on the ``n_nonzero`` remaining users;
    * ``"pratt"``: zeros are ranked with the others, then their ranks are dropped (more
      conservative);
    * ``"zsplit"``: zeros are ranked and half of their rank sum goes to each side.

    Ties among ``|a - b|`` get their average rank (midranks). Differences are compared
    exactly as floats, so two mathematically equal differences that round differently are
    not a tie. With ``method="auto"`` scipy computes the p-value from the exact null
    distribution when ``n <= 50`` and there are neither zeros nor ties; when there are
    zeros or ties it enumerates every sign flip for ``n <= 13`` and otherwise uses the
    normal approximation with the tie-corrected variance (with a continuity correction
    only when ``correction=True``). For ``n > 50`` it always uses the normal approximation.

    When every difference is zero there is nothing to rank and scipy would return NaN;
    this function returns ``statistic = 0.0, p_value = 1.0``.

    Args:
        a: ``[n]`` per-user scores of method A.
        b: ``[n]`` per-user scores of method B for the same users in the same order.
        zero_method: how to treat zero differences, see above.
        method: ``"auto"``, ``"exact"`` or ``"asymptotic"``, passed to scipy.
        correction: continuity correction of the normal approximation.
    Returns:
        :class:`WilcoxonResult` ``(statistic, p_value, n_nonzero)``.

    >>> a = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    >>> r = wilcoxon_test(a, a - np.arange(1, 9) / 100)  # all 8 differences positive
    >>> r.statistic, r.p_value, r.n_nonzero  # exact: 2 of 2**8 sign patterns are as extreme
    (0.0, 0.0078125, 8)
    >>> wilcoxon_test(a, a)
    WilcoxonResult(statistic=0.0, p_value=1.0, n_nonzero=0)
    """
    if zero_method not in ("wilcox", "pratt", "zsplit"):
        raise ValueError(f"zero_method must be 'wilcox', 'pratt' or 'zsplit'; got {zero_method!r}")
    d = paired_differences(a, b, min_users=1)
    n_nonzero = int(np.count_nonzero(d))
    if n_nonzero == 0:
        return WilcoxonResult(0.0, 1.0, 0)
    res = stats.wilcoxon(d, zero_method=zero_method, correction=correction,
                         alternative="two-sided", method=method)
    return WilcoxonResult(float(res.statistic), float(res.pvalue), n_nonzero)
