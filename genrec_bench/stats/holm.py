"""Holm's step-down correction for a family of p-values (controls the family-wise error)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class CorrectionResult(NamedTuple):
    """Adjusted p-values and decisions, both in the order of the input p-values."""

    p_adjusted: np.ndarray
    """float64 ``[m]``, each in ``[p, 1]``."""
    reject: np.ndarray
    """bool ``[m]``: ``p_adjusted <= alpha``."""


def check_p_values(p_values: np.ndarray, alpha: float) -> np.ndarray:
    """Return ``p_values`` as float64 ``[m]`` after checking it and ``alpha``.

    Raises:
        ValueError: if ``p_values`` is not 1-D, holds a value outside ``[0, 1]`` (or NaN),
            or ``alpha`` is not in ``(0, 1)``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D; got shape {p.shape}")
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise ValueError(f"p_values must lie in [0, 1] (no NaN); got {p.tolist()}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha!r}")
    return p


def holm(p_values: np.ndarray, *, alpha: float = 0.05) -> CorrectionResult:
    """Holm (1979) step-down adjusted p-values.

    Sort the ``m`` p-values ascending, ``p_(1) <= ... <= p_(m)``. The adjusted value of the
    ``i``-th smallest is ``max_{j <= i} min(1, (m - j + 1) * p_(j))``: a hypothesis is
    rejected only if it *and every smaller p-value* pass their thresholds
    ``alpha / (m - j + 1)``. The step-down stops at the first failure, so a later p-value
    that would pass its own threshold is still not rejected (comparing each p-value with
    its threshold independently is not Holm's procedure). Equal p-values are ordered by
    position (stable sort), which does not change the adjusted values.

    Args:
        p_values: ``[m]`` raw p-values of one family, in any order (``m`` may be 0).
        alpha: family-wise error rate.
    Returns:
        :class:`CorrectionResult` ``(p_adjusted, reject)`` in the input order.

    >>> r = holm(np.array([0.01, 0.04, 0.03, 0.005]))
    >>> r.p_adjusted.round(6).tolist(), r.reject.tolist()
    ([0.03, 0.06, 0.06, 0.02], [True, False, False, True])
    """
    p = check_p_values(p_values, alpha)
    m = p.shape[0]
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate(scaled))
    adjusted = np.empty(m, dtype=np.float64)
    adjusted[order] = adjusted_sorted
    return CorrectionResult(adjusted, adjusted <= alpha)
