import dataclasses

import numpy as np
import pytest

from genrec_bench.stats.benjamini_hochberg import benjamini_hochberg
from genrec_bench.stats.bootstrap import bootstrap_ci
from genrec_bench.stats.comparison import compare_family, pair_seed
from genrec_bench.stats.effect_size import cohens_dz
from genrec_bench.stats.holm import holm
from genrec_bench.stats.paired_t import paired_t_test
from genrec_bench.stats.permutation import permutation_test
from genrec_bench.stats.wilcoxon import wilcoxon_test


def family_scores() -> dict[str, np.ndarray]:
    """'tiger' is best; best - other = delta + 0.1 z with z of mean 0 and sd exactly 1, so
    the paired t statistic is exactly delta / (0.1 / sqrt(100)) = 100 delta:
    sasrec t = 3.5 (p = 0.0007), bert4rec t = 2.2 (p = 0.0301), pop t = 2.1 (p = 0.0383)."""
    rng = np.random.default_rng(0)
    n = 100
    best = rng.random(n) * 0.5 + 0.25

    def z() -> np.ndarray:
        v = rng.normal(size=n)
        return (v - v.mean()) / v.std(ddof=1)

    return {"pop": best - (0.021 + 0.1 * z()), "tiger": best,
            "bert4rec": best - (0.022 + 0.1 * z()), "sasrec": best - (0.035 + 0.1 * z())}


def test_best_by_mean_vs_every_other_with_raw_t_test_p_values():
    scores = family_scores()
    res = compare_family(scores, metric="ndcg@10", test="t-test", correction="none")
    assert res.best_method == "tiger"
    assert len(res) == 3  # family size = number of methods - 1
    assert [c.method_b for c in res] == ["pop", "bert4rec", "sasrec"]  # by mean, high first
    for c in res:
        assert c.method_a == "tiger" and c.metric == "ndcg@10" and c.n_users == 100
        assert c.test == "t-test"
        t = paired_t_test(scores["tiger"], scores[c.method_b])
        assert c.p_value == t.p_value
        assert c.p_adjusted == c.p_value and c.significant == (c.p_value <= 0.05)
        assert c.mean_a == pytest.approx(scores["tiger"].mean())
        assert c.mean_b == pytest.approx(scores[c.method_b].mean())
        assert c.effect_size == cohens_dz(scores["tiger"], scores[c.method_b])
    assert [round(paired_t_test(scores["tiger"], scores[m]).statistic, 9)
            for m in ("pop", "bert4rec", "sasrec")] == [2.1, 2.2, 3.5]
    assert [round(c.mean_diff, 12) for c in res] == [0.021, 0.022, 0.035]
    assert [round(c.p_value, 4) for c in res] == [0.0383, 0.0301, 0.0007]


def test_holm_keeps_raw_significant_p_values_out_and_bh_lets_them_in():
    scores = family_scores()
    res = compare_family(scores, metric="ndcg@10", correction="holm")
    raw = np.array([c.p_value for c in res])
    assert np.all(raw < 0.05)
    # Holm: sorted 0.0007, 0.0301, 0.0383 -> x3, x2, x1 = 0.0021, 0.060, 0.0383 -> running
    # max 0.0021, 0.060, 0.060: only sasrec survives although all raw p < 0.05
    np.testing.assert_array_equal([c.p_adjusted for c in res], holm(raw).p_adjusted)
    assert [c.significant for c in res] == [False, False, True]
    assert "Holm step-down" in res.family and res.correction == "holm"
    # BH: 0.0021, 0.0451, 0.0383 -> min from the right -> 0.0021, 0.0383, 0.0383: all in
    bh = compare_family(scores, metric="ndcg@10", correction="bh")
    np.testing.assert_array_equal([c.p_adjusted for c in bh],
                                  benjamini_hochberg(raw).p_adjusted)
    assert [c.significant for c in bh] == [True, True, True]


@pytest.mark.parametrize("correction", ["holm", "bh", "none"])
@pytest.mark.parametrize("test", ["t-test", "wilcoxon", "permutation"])
def test_significant_flags_follow_adjusted_p_values(test, correction):
    res = compare_family(family_scores(), metric="recall@10", test=test,
                         correction=correction, alpha=0.04, n_resamples=2000)
    for c in res:
        assert c.significant == (c.p_adjusted <= 0.04)
        assert c.p_adjusted >= c.p_value
        assert c.ci_low <= c.mean_diff <= c.ci_high
    assert res.alpha == 0.04 and res.test == test


def test_resampling_results_equal_direct_calls_with_the_pair_seed():
    scores = family_scores()
    res = compare_family(scores, metric="ndcg@10", test="permutation", seed=3,
                         n_resamples=2000, confidence=0.9)
    for c in res:
        s = pair_seed(3, "tiger", c.method_b)
        a, b = scores["tiger"], scores[c.method_b]
        assert c.p_value == permutation_test(a, b, n_resamples=2000, seed=s).p_value
        ci = bootstrap_ci(a, b, n_resamples=2000, confidence=0.9, seed=s)
        assert (c.ci_low, c.ci_high) == (ci.low, ci.high)
    wil = compare_family(scores, metric="ndcg@10", test="wilcoxon", zero_method="pratt")
    assert [c.p_value for c in wil] == [
        wilcoxon_test(scores["tiger"], scores[c.method_b], zero_method="pratt").p_value
        for c in wil]
    assert "zero_method 'pratt'" in wil.family


def test_order_of_the_methods_does_not_matter_and_seed_is_reproducible():
    scores = family_scores()
    res = compare_family(scores, metric="m", test="permutation", n_resamples=1000)
    reversed_scores = dict(reversed(list(scores.items())))
    again = compare_family(reversed_scores, metric="m", test="permutation", n_resamples=1000)
    assert again.comparisons == res.comparisons


def test_family_is_stated_in_words():
    res = compare_family(family_scores(), metric="ndcg@10", dataset="beauty")
    assert res.family == (
        "dataset 'beauty', metric 'ndcg@10': best method by mean 'tiger' vs each of the "
        "other 3 methods (3 comparisons); paired t-test (two-sided); Holm step-down "
        "(family-wise error) over these 3 p-values at alpha = 0.05")
    assert res.dataset == "beauty" and res.metric == "ndcg@10"


def test_win_tie_loss_and_tie_for_best_goes_to_the_first_name():
    a = np.array([0.5, 0.75, 1.0, 0.75])
    per_user = {"z": a.copy(), "b": np.array([0.25, 0.5, 0.5, 0.25]), "a": a.copy()}
    res = compare_family(per_user, metric="hr@10", n_resamples=200)
    assert res.best_method == "a"
    tie, low = res
    assert (tie.method_b, tie.wins, tie.ties, tie.losses) == ("z", 0, 4, 0)
    assert (tie.p_value, tie.mean_diff, tie.effect_size) == (1.0, 0.0, 0.0)
    assert (low.method_b, low.wins, low.ties, low.losses) == ("b", 4, 0, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        low.significant = True  # type: ignore[misc]


def test_invalid_families_raise():
    with pytest.raises(ValueError, match=r"'a' \(3 users\) and 'b' \(2 users\)"):
        compare_family({"a": np.zeros(3), "b": np.zeros(2)}, metric="m")
    with pytest.raises(ValueError, match="at least 2 methods"):
        compare_family({"a": np.zeros(3)}, metric="m")
    with pytest.raises(ValueError, match="unknown test 'sign'"):
        compare_family({"a": np.zeros(3), "b": np.ones(3)}, metric="m", test="sign")
    with pytest.raises(ValueError, match="unknown correction 'bonferroni'"):
        compare_family({"a": np.zeros(3), "b": np.ones(3)}, metric="m",
                       correction="bonferroni")
    with pytest.raises(ValueError, match="'b' hold a NaN"):
        compare_family({"a": np.zeros(2), "b": np.array([0.0, np.nan])}, metric="m")


@pytest.mark.parametrize("test", ["t-test", "wilcoxon", "permutation"])
def test_without_intervals_only_the_ci_is_left_out(test):
    full = compare_family(family_scores(), metric="ndcg@10", test=test, n_resamples=500)
    lean = compare_family(family_scores(), metric="ndcg@10", test=test, n_resamples=500, intervals=False)
    for a, b in zip(full, lean, strict=True):
        assert np.isnan(b.ci_low) and np.isnan(b.ci_high)
        assert dataclasses.replace(b, ci_low=a.ci_low, ci_high=a.ci_high) == a
    assert lean.family == full.family
