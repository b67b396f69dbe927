"""Paired sign-flip randomization (Fisher) test of the mean difference, with the
``(b + 1) / (n_resamples + 1)`` p-value, so the p-value is never 0."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from genrec_bench.stats.paired_t import paired_differences

#: at most this many sign bits are materialised at once (``chunk * n``), as float64 that
#: is 32 MiB; for 50,000 users a chunk is 83 resamples
CHUNK_ELEMENTS = 1 << 22

#: relative tolerance (to ``mean(|a - b|)``) under which a resampled mean counts as equal
#: to the observed one: sums taken in a different order differ in the last bits
RTOL = 1e-9


class PermutationResult(NamedTuple):
    """Outcome of :func:`permutation_test`."""

    statistic: float
    """Observed mean difference ``mean(a - b)``."""
    p_value: float
    """Two-sided p-value ``(b + 1) / (n_resamples + 1)``, in ``(0, 1]``."""
    n_extreme: int
    """``b``: resamples whose ``|mean|`` is at least the observed ``|mean|``."""
    n_resamples: int


def permutation_test(a: np.ndarray, b: np.ndarray, *, n_resamples: int = 10_000,
                     seed: int = 0) -> PermutationResult:
    """Two-sided paired randomization test: under H0 each user's ``a_i - b_i`` is equally
    likely to have either sign, so every resample flips each difference's sign with
    probability 1/2 and recomputes the mean.

    ``b`` counts resamples with ``|mean| >= |observed mean| - tol`` (``tol = RTOL *
    mean(|a - b|)``, so that exact ties such as the identity flip are counted despite
    rounding), and ``p = (b + 1) / (n_resamples + 1)``: the observed assignment counts as one
    of the equally likely ones, so ``p >= 1 / (n_resamples + 1)`` and the test is valid
    (never anti-conservative). Resamples are drawn in chunks of at most ``CHUNK_ELEMENTS``
    sign bits from ``numpy.random.default_rng(seed)``; the same ``(a, b, n_resamples,
    seed)`` always gives the same p-value. When every difference is zero the p-value is 1.

    Args:
        a: ``[n]`` per-user scores of method A.
        b: ``[n]`` per-user scores of method B for the same users in the same order.
        n_resamples: number of random sign-flip vectors, ``>= 1``.
        seed: seed of the ``numpy.random.Generator``.
    Returns:
        :class:`PermutationResult` ``(statistic, p_value, n_extreme, n_resamples)``.

    >>> a = np.linspace(0.5, 1.0, 30)
    >>> r = permutation_test(a, a - 0.1, n_resamples=999, seed=0)  # every user improves
    >>> r.p_value == 1 / 1000, r.n_extreme
    (True, 0)
    """
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) \
            or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive int; got {n_resamples!r}")
    d = paired_differences(a, b, min_users=1)
    n = d.shape[0]
    observed = float(d.mean())
    if not np.any(d):
        return PermutationResult(observed, 1.0, int(n_resamples), int(n_resamples))
    total = float(d.sum())
    # |mean(s * d)| >= |mean(d)|  <=>  |sum(s * d)| >= |sum(d)|; with s = 2 * bits - 1,
    # sum(s * d) = 2 * bits @ d - sum(d)
    tol = RTOL * float(np.abs(d).sum())
    threshold = abs(total) - tol
    rng = np.random.default_rng(seed)
    n_bytes = (n + 7) // 8
    chunk = max(1, CHUNK_ELEMENTS // n)
    extreme = 0
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        raw = np.frombuffer(rng.bytes(size * n_bytes), dtype=np.uint8).reshape(size, n_bytes)
        bits = np.unpackbits(raw, axis=1, count=n)
        sums = 2.0 * (bits.astype(np.float64) @ d) - total
        extreme += int(np.count_nonzero(np.abs(sums) >= threshold))
        done += size
    p = (extreme + 1) / (n_resamples + 1)
    return PermutationResult(observed, p, extreme, int(n_resamples))
