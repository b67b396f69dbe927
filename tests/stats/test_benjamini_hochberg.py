import numpy as np
import pytest
from scipy import stats

from genrec_bench.stats.benjamini_hochberg import benjamini_hochberg
from genrec_bench.stats.holm import holm

# Benjamini & Hochberg (1995), section 4.2: 15 p-values of a myocardial-infarction study.
# At q = 0.05 BH rejects the 4 smallest (0.0095 <= 4 * 0.05 / 15 = 0.01333, and no larger
# p_(k) <= k * 0.05 / 15), while Bonferroni and Holm reject only the 3 smallest.
BH_1995 = np.array([0.0201, 0.7590, 0.0001, 0.0278, 0.0004, 0.0298, 0.3240, 0.0019,
                    0.0344, 0.4262, 0.0095, 0.5719, 0.0459, 0.6528, 1.0000])


def test_textbook_example():
    r = benjamini_hochberg(BH_1995, alpha=0.05)
    assert sorted(BH_1995[r.reject].tolist()) == [0.0001, 0.0004, 0.0019, 0.0095]
    assert sorted(BH_1995[holm(BH_1995).reject].tolist()) == [0.0001, 0.0004, 0.0019]
    # by hand, sorted: 15 p_(k) / k, then running minimum from the largest down
    # k=1..9: .0015 .003 .0095 .035625 .0603 .0695 .063857 .0645 .0765
    # -> min from the right: .0015 .003 .0095 .035625 .0603 .063857 .063857 .0645 .0765
    # k=10..15: .486 .58118 .714875 .75323 .81321 1.0 (already increasing)
    expected = [0.0015, 0.003, 0.0095, 0.035625, 0.0603, 0.0298 * 15 / 7, 0.0298 * 15 / 7,
                0.0645, 0.0765, 0.486, 0.4262 * 15 / 11, 0.714875, 0.6528 * 15 / 13,
                0.759 * 15 / 14, 1.0]
    np.testing.assert_allclose(np.sort(r.p_adjusted), expected, rtol=1e-12)
    np.testing.assert_allclose(r.p_adjusted, stats.false_discovery_control(BH_1995),
                               rtol=1e-12)


def test_step_up_rejects_smaller_p_values_that_fail_their_own_threshold():
    # thresholds k * 0.05 / 3 = 0.0167, 0.0333, 0.05 for sorted 0.02, 0.04, 0.045. 0.02 and
    # 0.04 fail their own thresholds (WarpRec would keep them), but 0.045 <= 0.05 so the
    # step-up rejects all three. Adjusted: 0.06, 0.06, 0.045 -> min from the right: 0.045.
    p = np.array([0.02, 0.045, 0.04])
    r = benjamini_hochberg(p, alpha=0.05)
    np.testing.assert_allclose(r.p_adjusted, [0.045, 0.045, 0.045], rtol=1e-12)
    assert r.reject.all()


def test_small_hand_case_with_cap():
    # sorted 0.01, 0.03, 0.5, 0.9 (m = 4): 0.04, 0.06, 0.6667, 0.9 (already increasing)
    r = benjamini_hochberg(np.array([0.9, 0.01, 0.5, 0.03]), alpha=0.05)
    np.testing.assert_allclose(r.p_adjusted, [0.9, 0.04, 2 / 3, 0.06], rtol=1e-12)
    assert r.reject.tolist() == [False, True, False, False]
    assert benjamini_hochberg(np.array([0.9, 0.95])).p_adjusted.tolist() == [0.95, 0.95]


def test_agrees_with_scipy_and_is_monotone():
    rng = np.random.default_rng(0)
    for m in (1, 2, 7, 40):
        for _ in range(20):
            p = rng.random(m) ** 2
            adj = benjamini_hochberg(p).p_adjusted
            np.testing.assert_allclose(adj, stats.false_discovery_control(p), rtol=1e-12)
            order = np.argsort(p, kind="stable")
            assert np.all(np.diff(adj[order]) >= 0)
            assert np.all((adj >= p) & (adj <= 1.0))
            assert np.all(adj <= holm(p).p_adjusted + 1e-15)  # BH is never stricter


def test_matches_the_step_up_definition():
    rng = np.random.default_rng(2)
    for _ in range(200):
        p = rng.random(8) * 0.1
        ps = np.sort(p)
        passing = np.flatnonzero(ps <= np.arange(1, 9) * 0.05 / 8)
        k = passing[-1] + 1 if passing.size else 0
        expected = p <= (ps[k - 1] if k else -1.0)
        assert benjamini_hochberg(p, alpha=0.05).reject.tolist() == expected.tolist()


def test_empty_and_invalid():
    assert benjamini_hochberg(np.array([])).p_adjusted.shape == (0,)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        benjamini_hochberg(np.array([-0.1]))
    with pytest.raises(ValueError, match="1-D"):
        benjamini_hochberg(np.zeros((2, 2)))
