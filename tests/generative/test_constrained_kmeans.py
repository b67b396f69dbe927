"""Size-constrained k-means (LETTER's ``KMeansConstrained``): the capacitated assignment on
hand cases, the size bounds on skewed data where plain k-means breaks them, and the RQ-VAE
codebook initialisation built on it."""

from __future__ import annotations

import pytest
import torch

from genrec_bench.generative.kmeans import capacitated_assignment, constrained_kmeans, kmeans
from genrec_bench.generative.tokenizers.rq_vae import (
    RQVAE,
    RQVAEConfig,
    collision_rate,
    init_codebooks_with_constrained_kmeans,
)

torch.set_num_threads(1)


def test_capacitated_assignment_without_binding_bounds_is_the_nearest_cluster():
    distances = torch.tensor([[0.0, 5.0], [1.0, 4.0], [6.0, 0.5]])
    assert capacitated_assignment(distances, 0, 3).tolist() == [0, 0, 1]


def test_capacitated_assignment_full_cluster_keeps_its_closest_points():
    # all three prefer cluster 0, which holds two: the farthest of them (point 2) moves
    distances = torch.tensor([[0.0, 9.0], [1.0, 9.0], [2.0, 3.0]])
    assert capacitated_assignment(distances, 0, 2).tolist() == [0, 0, 1]


def test_capacitated_assignment_fills_an_undersized_cluster_with_the_cheapest_moves():
    # nobody prefers cluster 1; it needs one point: point 1's move costs 1, point 0's 5
    distances = torch.tensor([[0.0, 5.0], [1.0, 2.0], [0.5, 9.0]])
    assert capacitated_assignment(distances, 1, 3).tolist() == [0, 1, 0]


def test_capacitated_assignment_refuses_infeasible_bounds():
    with pytest.raises(ValueError, match="no assignment"):
        capacitated_assignment(torch.zeros(5, 2), 3, 4)       # 2 clusters x 3 > 5 points
    with pytest.raises(ValueError, match="no assignment"):
        capacitated_assignment(torch.zeros(5, 2), 0, 2)       # 2 clusters x 2 < 5 points


def _skewed(seed: int = 0) -> torch.Tensor:
    """One dense blob of 300 points and 60 scattered ones: plain k-means gives the scattered
    points clusters of one or two and splits the blob coarsely."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.randn(300, 4, generator=g) * 0.1, torch.randn(60, 4, generator=g) * 5])


def test_constrained_kmeans_keeps_every_cluster_within_its_bounds_where_plain_kmeans_does_not():
    x = _skewed()
    _, plain = kmeans(x, 12, iterations=20, generator=torch.Generator().manual_seed(0))
    plain_sizes = torch.bincount(plain, minlength=12)
    assert plain_sizes.min() < 15 or plain_sizes.max() > 60     # the data does break the bounds
    centroids, assign = constrained_kmeans(x, 12, size_min=15, size_max=60, iterations=10,
                                           generator=torch.Generator().manual_seed(0))
    sizes = torch.bincount(assign, minlength=12)
    assert sizes.min() >= 15 and sizes.max() <= 60 and int(sizes.sum()) == 360
    # the labels are the constrained assignment to the returned centroids
    assert torch.equal(assign, capacitated_assignment(torch.cdist(x, centroids) ** 2, 15, 60))


def test_constrained_kmeans_is_deterministic_for_a_seed():
    x = _skewed()
    a = constrained_kmeans(x, 8, size_min=20, size_max=80, generator=torch.Generator().manual_seed(3))
    b = constrained_kmeans(x, 8, size_min=20, size_max=80, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a[0], b[0])
    assert torch.equal(a[1], b[1])


def test_constrained_init_sets_level0_to_the_constrained_kmeans_of_the_latents():
    x = _skewed()
    torch.manual_seed(0)
    model = RQVAE(4, RQVAEConfig(hidden=(8,), latent_dim=4, levels=2, codebook_size=6))
    init_codebooks_with_constrained_kmeans(model, x, torch.Generator().manual_seed(0))
    with torch.no_grad():
        z = model.encoder(x)
    # official bounds: size_min = min(360 // 12, 50) = 30, size_max = 4 x 30 = 120
    expected, assign = constrained_kmeans(z, 6, size_min=30, size_max=120, iterations=10,
                                          generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model.codebooks[0].detach(), expected)
    sizes = torch.bincount(assign, minlength=6)
    assert sizes.min() >= 30 and sizes.max() <= 120


def test_collision_rate_counts_items_beyond_the_first_of_each_code():
    codes = torch.tensor([[0, 1], [0, 1], [0, 1], [2, 3], [4, 5]])
    assert collision_rate(codes) == pytest.approx(2 / 5)
