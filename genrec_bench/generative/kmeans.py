"""Seeded k-means (k-means++ initialisation, Lloyd iterations) in torch, for RQ-KMeans and
for initialising RQ-VAE codebooks."""

from __future__ import annotations

import torch


def kmeans(x: torch.Tensor, k: int, *, iterations: int = 50, generator: torch.Generator,
           chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster ``x [n, d]`` into ``k`` centroids.

    Returns:
        (centroids ``[k, d]``, assignment int64 ``[n]``). Empty clusters are re-seeded with
        the points farthest from their centroid, so every centroid is used when ``n >= k``.
    """
    n = x.shape[0]
    if n == 0:
        raise ValueError("k-means of an empty set")
    centroids = _kmeans_plus_plus(x, min(k, n), generator)
    if k > n:  # more codes than points: duplicate with noise (unused codes are allowed then)
        extra = x[torch.randint(n, (k - n,), generator=generator)]
        centroids = torch.cat([centroids, extra + 1e-3 * torch.randn(extra.shape, generator=generator)])
    assign = torch.zeros(n, dtype=torch.long)
    for _ in range(iterations):
        dist, assign = _nearest(x, centroids, chunk)
        counts = torch.bincount(assign, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        new = sums / counts.clamp(min=1).unsqueeze(1)
        empty = torch.nonzero(counts == 0).flatten()
        if empty.numel():
            new[empty] = x[torch.topk(dist, empty.numel()).indices] if n >= k else centroids[empty]
        if torch.allclose(new, centroids):
            centroids = new
            break
        centroids = new
    _, assign = _nearest(x, centroids, chunk)
    return centroids, assign


def _nearest(x: torch.Tensor, centroids: torch.Tensor, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    dists, assigns = [], []
    c_norm = (centroids ** 2).sum(1)
    for start in range(0, x.shape[0], chunk):
        part = x[start:start + chunk]
        d = (part ** 2).sum(1, keepdim=True) - 2 * part @ centroids.T + c_norm
        value, index = d.min(dim=1)
        dists.append(value)
        assigns.append(index)
    return torch.cat(dists), torch.cat(assigns)


def _kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    first = torch.randint(n, (1,), generator=generator)
    centroids = [x[first]]
    closest = ((x - x[first]) ** 2).sum(1)
    for _ in range(1, k):
        probs = closest.clamp(min=0)
        index = torch.multinomial(probs / probs.sum(), 1, generator=generator) if probs.sum() > 0 \
            else torch.randint(n, (1,), generator=generator)
        centroids.append(x[index])
        closest = torch.minimum(closest, ((x - x[index]) ** 2).sum(1))
    return torch.cat(centroids)
