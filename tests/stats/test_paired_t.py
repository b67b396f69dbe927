import math
import warnings

import numpy as np
import pytest
from scipy import stats

from genrec_bench.stats.paired_t import paired_differences, paired_t_test

# Student's sleep data (Cushny & Peebles 1905; R's datasets::sleep): extra hours of sleep
# of the same 10 patients under two drugs. R: t.test(extra ~ group, data = sleep,
# paired = TRUE) gives t = -4.0621, df = 9, p-value = 0.002833.
SLEEP_1 = np.array([0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0])
SLEEP_2 = np.array([1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4])


def test_sleep_data_matches_the_textbook_values():
    r = paired_t_test(SLEEP_1, SLEEP_2)
    assert r.df == 9
    assert r.statistic == pytest.approx(-4.0621, abs=5e-5)
    assert r.p_value == pytest.approx(0.002833, abs=5e-7)


def test_statistic_and_p_value_match_the_formula():
    d = SLEEP_1 - SLEEP_2
    n = d.shape[0]
    t = d.mean() / (d.std(ddof=1) / math.sqrt(n))  # mean / standard error
    r = paired_t_test(SLEEP_1, SLEEP_2)
    assert r.statistic == pytest.approx(t, rel=1e-12)
    assert r.p_value == pytest.approx(2 * stats.t.sf(abs(t), n - 1), rel=1e-10)


def test_small_hand_case():
    # diffs 0.1, 0, 0.3, 0.2: mean 0.15, sd sqrt(0.05 / 3) = 0.1290994, se = sd / 2
    r = paired_t_test(np.array([0.3, 0.5, 0.4, 0.6]), np.array([0.2, 0.5, 0.1, 0.4]))
    assert r.statistic == pytest.approx(0.15 / (math.sqrt(0.05 / 3) / 2), rel=1e-9)
    assert r.statistic == pytest.approx(2.32379, abs=1e-5)
    assert r.p_value == pytest.approx(0.102728, abs=1e-6)


def test_swapping_the_methods_flips_the_sign_only():
    r, s = paired_t_test(SLEEP_1, SLEEP_2), paired_t_test(SLEEP_2, SLEEP_1)
    assert s.statistic == pytest.approx(-r.statistic, rel=1e-12)
    assert s.p_value == pytest.approx(r.p_value, rel=1e-12)


def test_all_zero_differences_give_p_one_without_nan_or_warning():
    a = np.array([0.1, 0.5, 0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = paired_t_test(a, a.copy())
    assert (r.statistic, r.p_value, r.df) == (0.0, 1.0, 3)


def test_constant_nonzero_difference_is_an_infinite_statistic():
    a = np.array([0.5, 0.75, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        up, down = paired_t_test(a, a - 0.25), paired_t_test(a - 0.25, a)
    assert (up.statistic, up.p_value) == (math.inf, 0.0)
    assert (down.statistic, down.p_value) == (-math.inf, 0.0)


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="lengths 3 and 2"):
        paired_t_test(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="at least 2"):
        paired_t_test(np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match="non-finite value nan at position 1"):
        paired_t_test(np.array([0.0, np.nan]), np.zeros(2))
    with pytest.raises(ValueError, match="1-D"):
        paired_differences(np.zeros((2, 2)), np.zeros((2, 2)))


def test_paired_differences_accepts_lists():
    assert paired_differences([1, 2], [0.5, 3]).tolist() == [0.5, -1.0]
