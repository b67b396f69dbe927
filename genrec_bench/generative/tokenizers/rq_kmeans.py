"""RQ-KMeans (residual k-means; GRID's default tokenizer): level ``l`` clusters the residual
left by levels ``< l``. Cheap, deterministic given the seed, no training loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genrec_bench import config_checks as checks
from genrec_bench.generative.kmeans import kmeans


@dataclass(frozen=True)
class RQKMeansConfig:
    """Attributes:
    levels: number of residual levels ``L`` (TIGER/GRID: 3).
    codebook_size: codes per level ``K`` (TIGER/GRID: 256).
    iterations: Lloyd iterations per level.
    normalize_residuals: L2-normalise each level's residuals before clustering (GRID default).
    """

    levels: int = 3
    codebook_size: int = 256
    iterations: int = 50
    normalize_residuals: bool = True

    def __post_init__(self) -> None:
        checks.positive_ints(self, "levels", "codebook_size", "iterations")


def fit_rq_kmeans(embeddings: np.ndarray, config: RQKMeansConfig, seed: int) -> tuple[np.ndarray, dict]:
    """Codes int64 ``[n, L]`` for ``embeddings [n, d]`` and the relative reconstruction error."""
    generator = torch.Generator().manual_seed(seed)
    residual = torch.from_numpy(np.asarray(embeddings, dtype=np.float32)).clone()
    total = residual.norm(dim=1).pow(2).sum()
    codes = []
    for _ in range(config.levels):
        target = torch.nn.functional.normalize(residual, dim=1) if config.normalize_residuals else residual
        centroids, assign = kmeans(target, config.codebook_size, iterations=config.iterations, generator=generator)
        codes.append(assign)
        if config.normalize_residuals:
            # the centroid in the residual's own scale: mean residual of the cluster
            sums = torch.zeros(config.codebook_size, residual.shape[1]).index_add_(0, assign, residual)
            counts = torch.bincount(assign, minlength=config.codebook_size).clamp(min=1).unsqueeze(1)
            centroids = sums / counts
        residual = residual - centroids[assign]
    recon_error = float(residual.norm(dim=1).pow(2).sum() / total)
    return torch.stack(codes, dim=1).numpy().astype(np.int64), {"relative_reconstruction_error": recon_error}
