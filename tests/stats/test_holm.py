import numpy as np
import pytest

from genrec_bench.stats.holm import holm


def test_hand_computed_adjusted_values():
    # p = [0.01, 0.04, 0.03, 0.005], m = 4. Sorted: 0.005, 0.01, 0.03, 0.04 with
    # multipliers m - j + 1 = 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04; running max:
    # 0.02, 0.03, 0.06, 0.06. Back in input order: [0.03, 0.06, 0.06, 0.02].
    r = holm(np.array([0.01, 0.04, 0.03, 0.005]), alpha=0.05)
    np.testing.assert_allclose(r.p_adjusted, [0.03, 0.06, 0.06, 0.02], rtol=1e-12)
    assert r.reject.tolist() == [True, False, False, True]


def test_step_down_stops_at_the_first_failure():
    # Thresholds alpha / (m - j + 1) for the sorted p-values 0.005, 0.01, 0.03, 0.04 are
    # 0.0125, 0.01667, 0.025, 0.05. Checked independently (WarpRec's mistake) 0.04 <= 0.05
    # would be rejected; Holm stops at 0.03 > 0.025, so 0.04 is *not* rejected.
    p = np.array([0.01, 0.04, 0.03, 0.005])
    order = np.argsort(p)
    independent = np.empty(4, dtype=bool)
    independent[order] = p[order] <= 0.05 / (4 - np.arange(4))
    assert independent.tolist() == [True, True, False, True]
    assert holm(p, alpha=0.05).reject.tolist() == [True, False, False, True]


def test_single_p_value_and_cap_at_one():
    r = holm(np.array([0.03]))
    assert r.p_adjusted.tolist() == [0.03] and r.reject.tolist() == [True]
    r = holm(np.array([0.5, 0.9, 0.4]))
    assert r.p_adjusted.tolist() == [1.0, 1.0, 1.0]
    assert not r.reject.any()


def test_monotone_and_never_below_raw_nor_above_bonferroni():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.random(12) ** 3
        adj = holm(p).p_adjusted
        order = np.argsort(p, kind="stable")
        assert np.all(np.diff(adj[order]) >= 0)
        assert np.all(adj >= p)
        assert np.all(adj <= np.minimum(1.0, 12 * p) + 1e-15)


def test_matches_the_step_down_definition():
    rng = np.random.default_rng(1)
    alpha = 0.05
    for _ in range(200):
        p = rng.random(6) * 0.06
        order = np.argsort(p, kind="stable")
        expected = np.zeros(6, dtype=bool)
        for j, i in enumerate(order):  # reject in order until the first failure
            if p[i] > alpha / (6 - j):
                break
            expected[i] = True
        assert holm(p, alpha=alpha).reject.tolist() == expected.tolist()


def test_ties_get_equal_adjusted_values():
    r = holm(np.array([0.02, 0.01, 0.02]))
    # sorted 0.01, 0.02, 0.02 -> 0.03, 0.04, 0.02 -> running max 0.03, 0.04, 0.04
    np.testing.assert_allclose(r.p_adjusted, [0.04, 0.03, 0.04], rtol=1e-12)


def test_empty_and_invalid():
    r = holm(np.array([]))
    assert r.p_adjusted.shape == (0,) and r.reject.shape == (0,)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm(np.array([0.1, 1.2]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm(np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="alpha"):
        holm(np.array([0.1]), alpha=0.0)
