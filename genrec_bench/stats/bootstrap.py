"""Paired bootstrap percentile confidence interval of the mean difference."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from genrec_bench.stats.paired_t import paired_differences

#: at most this many resampled user indices are materialised at once (``chunk * n``)
CHUNK_ELEMENTS = 1 << 22


class BootstrapCI(NamedTuple):
    """Outcome of :func:`bootstrap_ci`."""

    mean_diff: float
    """Observed mean difference ``mean(a - b)``."""
    low: float
    """Lower end, the ``(1 - confidence) / 2`` quantile of the resampled means."""
    high: float
    """Upper end, the ``(1 + confidence) / 2`` quantile of the resampled means."""
    confidence: float
    n_resamples: int


def bootstrap_ci(a: np.ndarray, b: np.ndarray, *, n_resamples: int = 10_000,
                 confidence: float = 0.95, seed: int = 0) -> BootstrapCI:
    """Percentile bootstrap CI of ``mean(a - b)``, resampling *users* (pairs kept together).

    Each resample draws ``n`` user indices with replacement and takes the mean of their
    differences; the interval is the pair of quantiles (``numpy.quantile``, linear
    interpolation) of the ``n_resamples`` resampled means. Indices are drawn in chunks of
    at most ``CHUNK_ELEMENTS`` from ``numpy.random.default_rng(seed)``, so the same inputs
    and seed always give the same interval. The percentile interval can undercover for
    very few users or very skewed differences.

    Args:
        a: ``[n]`` per-user scores of method A.
        b: ``[n]`` per-user scores of method B for the same users in the same order.
        n_resamples: number of bootstrap resamples, ``>= 1``.
        confidence: coverage of the interval, in ``(0, 1)``.
        seed: seed of the ``numpy.random.Generator``.
    Returns:
        :class:`BootstrapCI` ``(mean_diff, low, high, confidence, n_resamples)``.

    >>> a = np.array([0.25, 0.5, 0.75, 1.0])
    >>> bootstrap_ci(a, a - 0.25).low  # every user gains exactly 0.25
    0.25
    >>> ci = bootstrap_ci(np.array([1.0, 0.0, 1.0, 1.0, 0.0]), np.zeros(5), seed=0)
    >>> ci.low < ci.mean_diff < ci.high
    True
    """
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) \
            or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive int; got {n_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence!r}")
    d = paired_differences(a, b, min_users=1)
    n = d.shape[0]
    observed = float(d.mean())
    if np.all(d == d[0]):
        v = float(d[0])
        return BootstrapCI(observed, v, v, float(confidence), int(n_resamples))
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_ELEMENTS // n)
    means = np.empty(n_resamples, dtype=np.float64)
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        idx = rng.integers(0, n, size=(size, n))
        means[done:done + size] = d[idx].mean(axis=1)
        done += size
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2, 1.0 - alpha / 2])
    return BootstrapCI(observed, float(low), float(high), float(confidence), int(n_resamples))
