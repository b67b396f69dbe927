"""Balanced code assignment by Sinkhorn-Knopp (LETTER's last RQ-VAE level, its collision
re-assignment).

Distances ``[B, K]`` are centred into ``[-1, 1]`` (as LETTER's ``center_distance_for_constraint``),
``Q = exp(-d / epsilon)`` is scaled alternately so every code receives mass ``1/K`` and every
item ``1/B`` (the SwAV/LETTER order), and each item takes its heaviest code. Computed in the
log domain: LETTER's ``epsilon = 0.003`` overflows ``exp`` in float32 otherwise.
"""

from __future__ import annotations

import math

import torch


def centre_distances(distances: torch.Tensor) -> torch.Tensor:
    """Affine map of ``distances`` onto ``[-1, 1]`` (midpoint of min and max -> 0)."""
    high, low = distances.max(), distances.min()
    middle = (high + low) / 2
    return (distances - middle) / (high - middle + 1e-5)


def sinkhorn_plan(distances: torch.Tensor, epsilon: float, iterations: int) -> torch.Tensor:
    """Log of the transport plan ``[B, K]`` with uniform marginals (rows sum to ``1/B``)."""
    log_q = -centre_distances(distances.double()) / epsilon
    log_q = log_q - torch.logsumexp(log_q.reshape(-1), 0)
    b, k = log_q.shape
    for _ in range(iterations):
        log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True) - math.log(k)   # each code: 1/K
        log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True) - math.log(b)   # each item: 1/B
    return log_q


def sinkhorn_assign(distances: torch.Tensor, epsilon: float, iterations: int = 100) -> torch.Tensor:
    """int64 ``[B]``: each row's code under the balanced plan of ``distances [B, K]``."""
    return sinkhorn_plan(distances, epsilon, iterations).argmax(dim=1)
