"""Benjamini-Hochberg step-up correction (controls the false discovery rate)."""

from __future__ import annotations

import numpy as np

from genrec_bench.stats.holm import CorrectionResult, check_p_values


def benjamini_hochberg(p_values: np.ndarray, *, alpha: float = 0.05) -> CorrectionResult:
    """Benjamini & Hochberg (1995) step-up adjusted p-values ("q-values").

    Sort ascending, ``p_(1) <= ... <= p_(m)``. The adjusted value of the ``i``-th smallest is
    ``min_{j >= i} min(1, m * p_(j) / j)``, taken from the largest p-value down. Rejecting
    ``p_adjusted <= alpha`` is the step-up rule: find the largest ``k`` with
    ``p_(k) <= k * alpha / m`` and reject ``p_(1) ... p_(k)``, *including* smaller p-values
    that fail their own threshold ``i * alpha / m`` (comparing each p-value with its own
    threshold independently is not the BH procedure). Valid under independence or
    positive dependence of the tests. Matches ``scipy.stats.false_discovery_control``.

    Args:
        p_values: ``[m]`` raw p-values of one family, in any order (``m`` may be 0).
        alpha: false discovery rate.
    Returns:
        :class:`CorrectionResult` ``(p_adjusted, reject)`` in the input order.

    >>> r = benjamini_hochberg(np.array([0.02, 0.045, 0.04]))
    >>> r.p_adjusted.round(6).tolist(), r.reject.tolist()  # 0.02 > 1*0.05/3, still rejected
    ([0.045, 0.045, 0.045], [True, True, True])
    """
    p = check_p_values(p_values, alpha)
    m = p.shape[0]
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted_sorted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    # mathematically >= p already; undo rounding such as p * 7 / 7 < p
    adjusted_sorted = np.maximum(adjusted_sorted, p[order])
    adjusted = np.empty(m, dtype=np.float64)
    adjusted[order] = adjusted_sorted
    return CorrectionResult(adjusted, adjusted <= alpha)
