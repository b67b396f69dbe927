import math

import numpy as np
import pytest
from scipy import stats

from genrec_bench.stats.seeds import seed_test


def test_paired_hand_case():
    # per-seed differences 0.02, 0.03, 0.01: mean 0.02, sd 0.01, t = 0.02 / (0.01 / sqrt 3)
    r = seed_test(np.array([0.30, 0.32, 0.31]), np.array([0.28, 0.29, 0.30]), paired=True)
    assert r.test == "paired t"
    assert r.statistic == pytest.approx(2 * math.sqrt(3), rel=1e-9)
    assert r.df == 2.0
    assert r.p_value == pytest.approx(2 * stats.t.sf(2 * math.sqrt(3), 2), rel=1e-9)
    assert r.p_value == pytest.approx(0.074180, abs=1e-6)
    assert (r.mean_a, r.std_a) == (pytest.approx(0.31), pytest.approx(0.01))
    assert (r.mean_b, r.std_b) == (pytest.approx(0.29), pytest.approx(0.01))
    assert r.mean_diff == pytest.approx(0.02)
    assert (r.n_seeds_a, r.n_seeds_b) == (3, 3)


def test_welch_hand_case():
    a = np.array([0.30, 0.34, 0.32, 0.36])
    b = np.array([0.28, 0.29, 0.30])
    va, vb = a.var(ddof=1) / 4, b.var(ddof=1) / 3  # squared standard errors
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 2)  # Welch-Satterthwaite
    r = seed_test(a, b, paired=False)
    assert r.test == "Welch t"
    assert r.statistic == pytest.approx(t, rel=1e-10)
    assert r.df == pytest.approx(df, rel=1e-10)
    assert r.p_value == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-9)
    assert r.std_a == pytest.approx(a.std(ddof=1))
    assert (r.n_seeds_a, r.n_seeds_b) == (4, 3)


def test_pairing_matters():
    # a shared per-seed shift makes the paired test far more sensitive than Welch
    shift = np.array([0.0, 0.05, -0.04, 0.08, -0.02])
    a = 0.30 + shift + np.array([0.011, 0.009, 0.010, 0.012, 0.008])
    b = 0.30 + shift
    # differences 0.011, 0.009, 0.010, 0.012, 0.008: mean 0.01, sd sqrt(1e-5 / 4),
    # t = 0.01 / (sqrt(2.5e-6) / sqrt 5) = 10 sqrt 2
    paired = seed_test(a, b, paired=True)
    assert paired.statistic == pytest.approx(10 * math.sqrt(2), rel=1e-9)
    assert paired.p_value < 1e-3
    assert seed_test(a, b, paired=False).p_value > 0.5


def test_degenerate_spreads():
    same = np.array([0.3, 0.3, 0.3])
    assert seed_test(same, same, paired=True)[:3] == ("paired t", 0.0, 1.0)
    assert seed_test(same, same, paired=False)[:3] == ("Welch t", 0.0, 1.0)
    r = seed_test(same, np.array([0.25, 0.25]), paired=False)
    assert (r.statistic, r.p_value) == (math.inf, 0.0)
    assert math.isnan(r.df)


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="as many runs"):
        seed_test(np.ones(3), np.ones(2), paired=True)
    with pytest.raises(ValueError, match="at least 2"):
        seed_test(np.ones(1), np.ones(3), paired=False)
    with pytest.raises(ValueError, match="non-finite"):
        seed_test(np.array([0.1, np.nan]), np.ones(2), paired=False)
