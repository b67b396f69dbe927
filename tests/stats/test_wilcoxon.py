import itertools

import numpy as np
import pytest

from genrec_bench.stats.wilcoxon import wilcoxon_test

SLEEP_1 = np.array([0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0])
SLEEP_2 = np.array([1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4])


def exact_signed_rank_p(d: np.ndarray) -> float:
    """Two-sided p of the signed-rank test by enumerating all 2**n sign patterns of the
    ranks of |d| (zeros dropped, no ties assumed): 2 * min(P(W+ <= w), P(W+ >= w))."""
    d = d[d != 0]
    ranks = np.argsort(np.argsort(np.abs(d))) + 1
    w = ranks[d > 0].sum()
    null = np.array([sum(r for r, s in zip(ranks, signs, strict=True) if s)
                     for signs in itertools.product([0, 1], repeat=d.shape[0])])
    return min(1.0, 2 * min(np.mean(null <= w), np.mean(null >= w)))


def test_all_positive_differences_exact_p():
    # W- = 0: only the all-positive and all-negative patterns of 2**8 are as extreme
    a = np.linspace(1.0, 2.0, 8)
    r = wilcoxon_test(a, a - np.arange(1, 9) / 64)
    assert r.statistic == 0.0
    assert r.p_value == 2 / 2**8
    assert r.n_nonzero == 8


def test_one_negative_smallest_difference_exact_p():
    # ranks 1..8, rank 1 negative: W- = 1. P(W- <= 1) = P(W- = 0) + P(W- = 1) = 2 / 256,
    # two-sided 4 / 256 = 0.015625
    d = np.array([-1, 2, 3, 4, 5, 6, 7, 8]) / 8
    r = wilcoxon_test(d, np.zeros(8))
    assert r.statistic == 1.0
    assert r.p_value == pytest.approx(4 / 256, rel=1e-12)


def test_matches_exact_enumeration_of_sign_patterns():
    d = np.array([0.31, -0.12, 0.45, 0.08, -0.27, 0.52, 0.19, -0.04, 0.36, 0.61])
    expected = exact_signed_rank_p(d)
    # by |d|: ranks of the negatives are 1 (-0.04), 3 (-0.12), 5 (-0.27), so W- = 9; the
    # subsets of {1..10} with sum <= 9 number 1+1+1+2+2+3+4+5+6+8 = 33 (sums 0..9), so
    # p = 2 * 33 / 1024
    assert expected == 66 / 1024
    assert wilcoxon_test(d, np.zeros(10)).p_value == pytest.approx(expected, rel=1e-12)


def test_sleep_data_normal_approximation_matches_r():
    # R: wilcox.test(SLEEP_2, SLEEP_1, paired = TRUE) gives V = 0, p-value = 0.009091
    # (zero dropped, n = 9, the tie 1.3 = 1.3 gets midrank, continuity correction):
    # z = (0 - 22.5 + 0.5) / sqrt((9 * 10 * 19 - (2**3 - 2) / 2) / 24) = -2.6087
    r = wilcoxon_test(SLEEP_1, SLEEP_2, method="asymptotic", correction=True)
    assert r.statistic == 0.0
    assert r.n_nonzero == 9
    assert r.p_value == pytest.approx(0.009091, abs=5e-7)


def test_sleep_data_auto_enumerates_signs_when_there_are_ties_and_zeros():
    # n = 10 with a zero and a tie: scipy enumerates all sign flips; of the 2**9 patterns
    # of the 9 nonzero differences only all-positive and all-negative reach W = 0
    r = wilcoxon_test(SLEEP_1, SLEEP_2)
    assert r.p_value == pytest.approx(2 / 2**9, rel=1e-12)


def test_wilcox_zero_method_drops_zeros():
    rng = np.random.default_rng(3)
    d = np.round(rng.normal(0.1, 0.3, size=40), 3)
    d[::4] = 0.0
    full = wilcoxon_test(d, np.zeros_like(d), method="asymptotic")
    nonzero = wilcoxon_test(d[d != 0], np.zeros(int((d != 0).sum())), method="asymptotic")
    assert full.n_nonzero == 30
    assert full.p_value == nonzero.p_value
    assert full.statistic == nonzero.statistic


def test_zero_methods_differ_when_there_are_zeros():
    d = np.array([0.0, 0.0, 0.0, 0.1, 0.2, -0.05, 0.3, 0.4, 0.15, 0.25, -0.35, 0.45, 0.5,
                  0.55, 0.6, 0.65])
    p = {zm: wilcoxon_test(d, np.zeros_like(d), zero_method=zm, method="asymptotic").p_value
         for zm in ("wilcox", "pratt", "zsplit")}
    assert len(set(p.values())) == 3
    assert wilcoxon_test(d, np.zeros_like(d), zero_method="pratt").n_nonzero == 13


@pytest.mark.parametrize("zero_method", ["wilcox", "pratt", "zsplit"])
def test_all_zero_differences_give_p_one(zero_method):
    a = np.array([0.2, 0.4, 0.0])
    assert wilcoxon_test(a, a, zero_method=zero_method) == (0.0, 1.0, 0)


def test_invalid_zero_method_and_lengths_raise():
    with pytest.raises(ValueError, match="zero_method"):
        wilcoxon_test(np.zeros(3), np.ones(3), zero_method="drop")
    with pytest.raises(ValueError, match="same users"):
        wilcoxon_test(np.zeros(3), np.ones(4))
