import math

import numpy as np
import pytest

from genrec_bench.stats.effect_size import cohens_dz
from genrec_bench.stats.paired_t import paired_t_test


def test_hand_case():
    # diffs 0.25, 0.5, 0.5: mean 5/12, sd sqrt(((-1/6)**2 + 2 * (1/12)**2) / 2) = sqrt(1/48)
    dz = cohens_dz(np.array([0.5, 0.75, 1.0]), np.array([0.25, 0.25, 0.5]))
    assert dz == pytest.approx((5 / 12) / math.sqrt(1 / 48), rel=1e-12)
    assert dz == pytest.approx(2.886751, abs=1e-6)


def test_sign_follows_the_better_method_and_t_equals_dz_sqrt_n():
    rng = np.random.default_rng(0)
    a, b = rng.random(40), rng.random(40)
    dz = cohens_dz(a, b)
    assert cohens_dz(b, a) == -dz
    assert paired_t_test(a, b).statistic == pytest.approx(dz * math.sqrt(40), rel=1e-10)


def test_zero_spread():
    a = np.array([0.1, 0.7, 0.3])
    assert cohens_dz(a, a) == 0.0
    assert cohens_dz(np.array([1.0, 0.5]), np.array([0.5, 0.0])) == math.inf
    assert cohens_dz(np.array([0.5, 0.0]), np.array([1.0, 0.5])) == -math.inf


def test_needs_two_users():
    with pytest.raises(ValueError, match="at least 2"):
        cohens_dz(np.ones(1), np.zeros(1))
