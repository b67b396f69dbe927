import numpy as np
import pytest

import genrec_bench.stats.bootstrap as bootstrap_module
from genrec_bench.stats.bootstrap import bootstrap_ci


def reference_ci(d: np.ndarray, n_resamples: int, confidence: float, seed: int):
    """One-shot version of the algorithm, for inputs small enough to fit in one chunk."""
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.shape[0], size=(n_resamples, d.shape[0]))].mean(axis=1)
    alpha = 1 - confidence
    return np.quantile(means, [alpha / 2, 1 - alpha / 2])


def test_ci_contains_the_true_mean_difference_and_is_deterministic():
    rng = np.random.default_rng(0)
    b = rng.random(2000)
    a = b + 0.05 + rng.normal(0.0, 0.1, size=2000)  # true mean difference 0.05
    ci = bootstrap_ci(a, b, n_resamples=2000, seed=1)
    assert ci.low < 0.05 < ci.high
    assert ci.low < ci.mean_diff < ci.high
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * 0.1 / np.sqrt(2000), rel=0.1)
    assert bootstrap_ci(a, b, n_resamples=2000, seed=1) == ci
    other = bootstrap_ci(a, b, n_resamples=2000, seed=2)
    assert other.low != ci.low
    assert other.low == pytest.approx(ci.low, abs=0.002)


def test_matches_the_one_shot_reference_exactly():
    d = np.array([0.5, 0.0, 0.25, 1.0, -0.25, 0.0, 0.75])
    ci = bootstrap_ci(d, np.zeros(7), n_resamples=3000, confidence=0.9, seed=5)
    low, high = reference_ci(d, 3000, 0.9, 5)
    assert (ci.low, ci.high) == (low, high)
    assert ci.mean_diff == pytest.approx(2.25 / 7)
    assert (ci.confidence, ci.n_resamples) == (0.9, 3000)


def test_chunking_covers_every_resample(monkeypatch):
    monkeypatch.setattr(bootstrap_module, "CHUNK_ELEMENTS", 50)  # 7 resamples a chunk
    d = np.array([0.5, 0.0, 0.25, 1.0, -0.25, 0.0, 0.75])
    ci = bootstrap_ci(d, np.zeros(7), n_resamples=3000, confidence=0.9, seed=5)
    # the draws are the same stream cut into pieces, so the interval is unchanged
    low, high = reference_ci(d, 3000, 0.9, 5)
    assert (ci.low, ci.high) == (low, high)


def test_constant_difference_gives_a_point_interval():
    a = np.array([0.25, 0.5, 0.75, 1.0])
    assert bootstrap_ci(a, a - 0.25)[:3] == (0.25, 0.25, 0.25)


def test_higher_confidence_gives_a_wider_interval():
    d = np.random.default_rng(4).normal(0.0, 1.0, size=100)
    narrow = bootstrap_ci(d, np.zeros(100), confidence=0.8, seed=0)
    wide = bootstrap_ci(d, np.zeros(100), confidence=0.99, seed=0)
    assert wide.low < narrow.low < narrow.high < wide.high


def test_coverage_is_close_to_nominal():
    rng = np.random.default_rng(11)
    hits = 0
    for i in range(200):
        d = rng.normal(0.1, 1.0, size=60)
        ci = bootstrap_ci(d, np.zeros(60), n_resamples=1000, seed=i)
        hits += ci.low <= 0.1 <= ci.high
    assert 0.88 <= hits / 200 <= 0.99


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(np.ones(3), np.zeros(3), confidence=95)
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_ci(np.ones(3), np.zeros(3), n_resamples=-1)
    with pytest.raises(ValueError, match="same users"):
        bootstrap_ci(np.ones(3), np.zeros(4))
