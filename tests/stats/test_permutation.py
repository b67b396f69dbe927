import itertools

import numpy as np
import pytest

import genrec_bench.stats.permutation as permutation_module
from genrec_bench.stats.permutation import permutation_test

# 10 users, mean difference 0.127, exact two-sided p = 196 / 1024 = 0.1914
D10 = np.array([0.31, -0.12, 0.45, 0.08, -0.27, 0.52, 0.19, -0.04, 0.36, -0.21])


def exact_sign_flip_p(k: np.ndarray) -> float:
    """Exact two-sided p over all 2**n sign flips of *integer* differences ``k`` (so ties
    of |sum| are decided without rounding): share of flips with |sum| >= |observed sum|."""
    observed = abs(int(k.sum()))
    flips = np.array(list(itertools.product([1, -1], repeat=k.shape[0])))
    return float(np.mean(np.abs(flips @ k) >= observed))


def test_every_user_improves_so_only_the_plus_one_keeps_p_above_zero():
    # 30 positive differences: only the all-plus and all-minus flips (2 of 2**30) reach
    # the observed |mean|, none among 999 resamples, so b = 0 and p = 1 / (999 + 1)
    a = np.linspace(0.5, 1.0, 30)
    r = permutation_test(a, a - np.linspace(0.01, 0.3, 30), n_resamples=999, seed=7)
    assert r.n_extreme == 0
    assert r.p_value == 1 / 1000
    assert r.statistic == pytest.approx(np.linspace(0.01, 0.3, 30).mean())


def test_same_seed_same_result_other_seed_slightly_different():
    b = np.zeros(10)
    r1 = permutation_test(D10, b, n_resamples=5000, seed=1)
    assert permutation_test(D10, b, n_resamples=5000, seed=1) == r1
    r2 = permutation_test(D10, b, n_resamples=5000, seed=2)
    assert r2.p_value != r1.p_value
    assert abs(r2.p_value - r1.p_value) < 0.02


def test_close_to_exact_enumeration_over_all_sign_flips():
    exact = exact_sign_flip_p(np.round(D10 * 100).astype(np.int64))
    assert exact == 196 / 1024
    r = permutation_test(D10, np.zeros(10), n_resamples=20_000, seed=0)
    # Monte Carlo standard error sqrt(p (1 - p) / 20000) = 0.0028
    assert r.p_value == pytest.approx(exact, abs=0.006)


def test_ties_of_the_observed_mean_count_despite_rounding():
    # differences k / 10 with observed |sum| 0.8: flipping any users whose k sum to 0
    # (e.g. 7, 1 and -8) or to -8 gives exactly the same |sum|, but in floats the sums
    # differ in the last bit; without the tolerance a sixth of the flips are lost and the
    # estimate is 0.61 instead of the exact 46 / 64 = 0.71875
    k = np.array([7, -6, -8, 7, -9, 1])
    exact = exact_sign_flip_p(k)
    assert exact == 46 / 64
    r = permutation_test(k / 10, np.zeros(6), n_resamples=20_000, seed=0)
    assert r.p_value == pytest.approx(exact, abs=0.012)


def test_metric_like_ties_match_enumeration():
    # hit-rate differences are -1, 0 or 1, so many flips tie with the observed sum
    k = np.array([1, 1, 0, -1, 1, 0, 1, 1, -1, 1, 0, 1])
    exact = exact_sign_flip_p(k)
    r = permutation_test(k.astype(float), np.zeros(12), n_resamples=20_000, seed=3)
    assert r.p_value == pytest.approx(exact, abs=0.01)


def test_small_chunks_give_the_same_kind_of_answer(monkeypatch):
    monkeypatch.setattr(permutation_module, "CHUNK_ELEMENTS", 64)  # 6 resamples a chunk
    a = np.linspace(0.5, 1.0, 30)
    r = permutation_test(a, a - 0.125, n_resamples=1001, seed=0)
    assert (r.n_extreme, r.n_resamples, r.p_value) == (0, 1001, 1 / 1002)
    r = permutation_test(D10, np.zeros(10), n_resamples=20_000, seed=0)
    assert r.p_value == pytest.approx(196 / 1024, abs=0.01)


def test_all_zero_differences_give_p_one():
    a = np.array([0.0, 1.0, 0.5])
    assert permutation_test(a, a, n_resamples=100).p_value == 1.0


def test_fifty_thousand_users_run_in_bounded_memory():
    rng = np.random.default_rng(0)
    b = rng.random(50_000)
    a = b + rng.normal(0.002, 0.1, size=50_000)
    r = permutation_test(a, b, n_resamples=500, seed=0)
    assert r.n_resamples == 500
    assert 0.0 < r.p_value <= 1.0


def test_invalid_n_resamples_raise():
    with pytest.raises(ValueError, match="n_resamples"):
        permutation_test(np.ones(3), np.zeros(3), n_resamples=0)
    with pytest.raises(ValueError, match="n_resamples"):
        permutation_test(np.ones(3), np.zeros(3), n_resamples=10.5)
