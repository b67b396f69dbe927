"""RQ-KMeans tokenizer (residual k-means): clusters become level-0 codes, every level only
lowers the reconstruction error, the reported error follows from the codes, and fits are
deterministic for a seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec_bench.errors import ConfigError
from genrec_bench.generative.tokenizers import RQKMeansConfig, fit_rq_kmeans

torch.set_num_threads(1)

N_CLUSTERS, PER_CLUSTER, DIM = 4, 30, 8


def clustered(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four tight blobs around ``10 * e_c`` (distinct directions, so they stay apart after
    L2 normalisation): (x [n, DIM], cluster label [n])."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(N_CLUSTERS), PER_CLUSTER)
    x = 10 * np.eye(DIM)[labels] + rng.normal(size=(labels.size, DIM)) * 0.3
    return x.astype(np.float32), labels


def relative_error_from_codes(x: np.ndarray, codes: np.ndarray) -> float:
    """Rebuild the residual path from the codes alone: every level subtracts the mean residual
    of the items that share its code."""
    residual = x.astype(np.float64).copy()
    for level in range(codes.shape[1]):
        means = {c: residual[codes[:, level] == c].mean(0) for c in np.unique(codes[:, level])}
        residual = residual - np.stack([means[c] for c in codes[:, level]])
    return float((residual ** 2).sum() / (x.astype(np.float64) ** 2).sum())


@pytest.mark.parametrize("normalize", [True, False])
def test_well_separated_clusters_each_get_their_own_level0_code(normalize):
    x, labels = clustered()
    codes, _ = fit_rq_kmeans(x, RQKMeansConfig(levels=2, codebook_size=N_CLUSTERS, iterations=20,
                                               normalize_residuals=normalize), seed=0)
    per_cluster = [set(codes[labels == c, 0].tolist()) for c in range(N_CLUSTERS)]
    assert all(len(s) == 1 for s in per_cluster)
    assert len(set.union(*per_cluster)) == N_CLUSTERS


@pytest.mark.parametrize("normalize", [True, False])
def test_reconstruction_error_does_not_increase_with_more_levels(normalize):
    x, _ = clustered()
    errors, first_levels = [], []
    for levels in (1, 2, 3):
        codes, info = fit_rq_kmeans(x, RQKMeansConfig(levels=levels, codebook_size=6, iterations=20,
                                                      normalize_residuals=normalize), seed=0)
        errors.append(info["relative_reconstruction_error"])
        first_levels.append(codes[:, 0])
    # the same seed makes the same level-0 clustering, later levels only add to it
    assert all(np.array_equal(first_levels[0], other) for other in first_levels[1:])
    assert errors[0] >= errors[1] >= errors[2] >= 0.0
    assert errors[0] < 0.05                               # the clusters carry almost all the energy
    assert errors[2] < errors[0]


def test_reported_error_matches_the_residual_path_rebuilt_from_the_codes():
    x, _ = clustered()
    codes, info = fit_rq_kmeans(x, RQKMeansConfig(levels=3, codebook_size=5, iterations=30), seed=2)
    assert info["relative_reconstruction_error"] == pytest.approx(relative_error_from_codes(x, codes), rel=1e-4)
    # and each level's residual energy is no larger than the previous level's
    energies = [relative_error_from_codes(x, codes[:, :levels]) for levels in (1, 2, 3)]
    assert energies[0] >= energies[1] >= energies[2]


def test_fit_is_deterministic_for_a_seed_and_codes_are_in_range():
    x = np.random.default_rng(3).normal(size=(60, 5)).astype(np.float32)
    config = RQKMeansConfig(levels=3, codebook_size=7, iterations=15)
    codes_a, info_a = fit_rq_kmeans(x, config, seed=11)
    codes_b, info_b = fit_rq_kmeans(x, config, seed=11)
    assert np.array_equal(codes_a, codes_b) and info_a == info_b
    assert codes_a.dtype == np.int64 and codes_a.shape == (60, 3)
    assert codes_a.min() >= 0 and codes_a.max() < 7
    # k-means re-seeds empty clusters: with n >= K every level uses all K codes
    assert all(np.unique(codes_a[:, level]).size == 7 for level in range(3))
    other, _ = fit_rq_kmeans(x, config, seed=12)
    assert not np.array_equal(codes_a, other)


def test_input_array_is_not_modified():
    x, _ = clustered()
    copy = x.copy()
    fit_rq_kmeans(x, RQKMeansConfig(levels=2, codebook_size=4, iterations=5), seed=0)
    assert np.array_equal(x, copy)


@pytest.mark.parametrize(("field", "value"), [("levels", 0), ("codebook_size", -3), ("iterations", 1.5)])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"RQKMeansConfig\.{field}"):
        RQKMeansConfig(**{field: value})
