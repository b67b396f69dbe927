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


def capacitated_assignment(distances: torch.Tensor, size_min: int, size_max: int) -> torch.Tensor:
    """Assign ``n`` points to ``k`` clusters with every cluster's size in ``[size_min, size_max]``.

    ``distances [n, k]`` (smaller = closer). Two passes, both deterministic:

    1. capacity: in rounds, every unassigned point proposes to its nearest cluster that still
       has room; a cluster keeps its closest proposers up to its remaining room. Each round
       either places every proposer or fills a cluster, so at most ``k + 1`` rounds.
    2. minimum: a cluster below ``size_min`` takes the points whose move to it costs least
       (``d[i, j] - d[i, own]``) from clusters that stay at or above ``size_min``.

    This is a greedy stand-in for the min-cost-flow assignment of ``KMeansConstrained``: the
    size bounds hold exactly, the total distance is near (not always at) the optimum.

    Returns:
        int64 ``[n]``. Raises ``ValueError`` when the bounds admit no assignment.
    """
    n, k = distances.shape
    if not 0 <= size_min <= size_max or k * size_min > n or k * size_max < n:
        raise ValueError(f"no assignment of {n} points to {k} clusters of sizes [{size_min}, {size_max}]")
    assign = torch.full((n,), -1, dtype=torch.long)
    room = torch.full((k,), size_max, dtype=torch.long)
    pending = torch.arange(n)
    while pending.numel():
        d = distances[pending].masked_fill(room.eq(0).unsqueeze(0), float("inf"))
        cost, choice = d.min(dim=1)
        by_cost = torch.argsort(cost, stable=True)
        order = by_cost[torch.argsort(choice[by_cost], stable=True)]       # by cluster, then by cost
        sizes = torch.bincount(choice, minlength=k)
        starts = torch.cumsum(sizes, 0) - sizes
        rank = torch.empty_like(order)
        rank[order] = torch.arange(order.numel()) - starts[choice[order]]
        accept = rank < room[choice]
        assign[pending[accept]] = choice[accept]
        room -= torch.bincount(choice[accept], minlength=k)
        pending = pending[~accept]
    counts = torch.bincount(assign, minlength=k)
    for cluster in torch.argsort(counts).tolist():
        need = size_min - int(counts[cluster])
        if need <= 0:
            continue
        move_cost = distances[:, cluster] - distances.gather(1, assign.unsqueeze(1)).squeeze(1)
        shortlist = torch.topk(move_cost, min(n, 4 * need + 64), largest=False, sorted=True).indices
        for candidates in (shortlist, torch.argsort(move_cost, stable=True)):   # the full order if needed
            need = _take_points(assign, counts, candidates.tolist(), cluster, need, size_min)
            if need == 0:
                break
    return assign


def _take_points(assign: torch.Tensor, counts: torch.Tensor, candidates: list[int], cluster: int, need: int,
                 size_min: int) -> int:
    """Move up to ``need`` of ``candidates`` (in order) into ``cluster`` from clusters larger
    than ``size_min``; updates ``assign`` and ``counts`` in place, returns what is still needed."""
    for point in candidates:
        own = int(assign[point])
        if own != cluster and counts[own] > size_min:
            assign[point] = cluster
            counts[own] -= 1
            counts[cluster] += 1
            need -= 1
            if need == 0:
                break
    return need


def constrained_kmeans(x: torch.Tensor, k: int, *, size_min: int, size_max: int, iterations: int = 10,
                       restarts: int = 1, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """k-means whose clusters hold between ``size_min`` and ``size_max`` points (LETTER's
    ``KMeansConstrained``: codebook initialisation and the diversity loss's code groups).

    k-means++ seeds, then ``iterations`` rounds of :func:`capacitated_assignment` and centroid
    means; of ``restarts`` seeded runs the one with the lowest total squared distance is kept.

    Returns:
        (centroids ``[k, d]``, assignment int64 ``[n]``).
    """
    best: tuple[float, torch.Tensor, torch.Tensor] | None = None
    for _ in range(restarts):
        centroids = _kmeans_plus_plus(x, k, generator)
        for _ in range(iterations):
            assign = capacitated_assignment(torch.cdist(x, centroids) ** 2, size_min, size_max)
            counts = torch.bincount(assign, minlength=k)
            sums = torch.zeros_like(centroids).index_add_(0, assign, x)
            new = torch.where(counts.unsqueeze(1) > 0, sums / counts.clamp(min=1).unsqueeze(1), centroids)
            converged = torch.allclose(new, centroids)
            centroids = new
            if converged:
                break
        assign = capacitated_assignment(torch.cdist(x, centroids) ** 2, size_min, size_max)
        inertia = float(((x - centroids[assign]) ** 2).sum())
        if best is None or inertia < best[0]:
            best = (inertia, centroids, assign)
    assert best is not None, "restarts must be >= 1"
    return best[1], best[2]
