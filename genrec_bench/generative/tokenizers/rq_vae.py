"""RQ-VAE (Lee et al. 2022; TIGER's tokenizer): an MLP autoencoder whose latent is quantised
by ``L`` residual codebooks.

``z = E(x)``; level ``l`` picks the code nearest to the residual ``r_l`` (``r_0 = z``), and
``r_{l+1} = r_l - e_l``; the decoder reconstructs ``x`` from ``z_q = sum_l e_l`` passed with
the straight-through estimator. Loss = reconstruction (squared error summed over dimensions,
the fix of EdoardoBotta/RQ-VAE-Recommender#65 against collapse) + sum over levels of
``||sg(r_l) - e_l||^2 + beta ||r_l - sg(e_l)||^2`` (beta = 0.25). Codebooks start from
k-means of the first latents; a code unused for a whole epoch is re-seeded with a random
latent residual of that level (guard against codebook collapse).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from genrec_bench import config_checks as checks
from genrec_bench.generative.kmeans import constrained_kmeans, kmeans

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RQVAEConfig:
    """Defaults: TIGER paper / EdoardoBotta ``rqvae_amazon.gin`` (hidden 512-256-128, latent
    32, 3 x 256 codes, beta 0.25, lr 1e-3, weight decay 1e-4, batch 1024 as in LETTER)."""

    hidden: tuple[int, ...] = (512, 256, 128)
    latent_dim: int = 32
    levels: int = 3
    codebook_size: int = 256
    beta: float = 0.25
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 1024
    epochs: int = 500
    restart_dead_codes: bool = True

    def __post_init__(self) -> None:
        checks.positive_ints(self, "latent_dim", "levels", "codebook_size", "batch_size", "epochs")
        checks.in_range(self, "beta", 0.0, 10.0)
        checks.in_range(self, "lr", 1e-12, 10.0)


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


#: ``assign(level, distances [B, K]) -> codes [B]``: how a level picks its codes (default argmin;
#: LETTER uses Sinkhorn on its last level)
CodeAssigner = Callable[[int, torch.Tensor], torch.Tensor]


class RQVAE(nn.Module):
    """``forward(x [B, d]) -> (reconstruction [B, d], codes [B, L], vq_loss, residuals)``.

    ``level_reduction`` combines the levels' VQ losses: ``sum`` (TIGER) or ``mean`` (LETTER).
    ``assign`` overrides how codes are picked from the distances (see :data:`CodeAssigner`).
    """

    def __init__(self, input_dim: int, config: RQVAEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = _mlp([input_dim, *config.hidden, config.latent_dim])
        self.decoder = _mlp([config.latent_dim, *reversed(config.hidden), input_dim])
        self.codebooks = nn.ParameterList(
            nn.Parameter(torch.randn(config.codebook_size, config.latent_dim) * 0.01) for _ in range(config.levels))

    def quantize(self, z: torch.Tensor, *, assign: CodeAssigner | None = None, level_reduction: str = "sum",
                 dim_reduction: str = "sum"):
        """Residual quantisation of latents ``z [B, D]`` -> (z_q, codes [B, L], vq loss, residuals [L, B, D]).

        Squared errors are summed (``dim_reduction="sum"``) or averaged (``"mean"``, i.e.
        ``F.mse_loss``) over the ``D`` dimensions, then averaged over the batch."""
        per_dim = (lambda t: t.sum(1).mean()) if dim_reduction == "sum" else (lambda t: t.mean())
        residual, z_q = z, torch.zeros_like(z)
        codes, residuals, loss = [], [], z.new_zeros(())
        for level, book in enumerate(self.codebooks):
            distances = torch.cdist(residual, book)
            index = distances.argmin(dim=1) if assign is None else assign(level, distances.detach())
            chosen = book[index]
            loss = loss + per_dim((residual.detach() - chosen) ** 2) \
                + self.config.beta * per_dim((residual - chosen.detach()) ** 2)
            residuals.append(residual.detach())
            codes.append(index)
            z_q = z_q + chosen
            residual = residual - chosen.detach()
        if level_reduction == "mean":
            loss = loss / len(self.codebooks)
        z_q = z + (z_q - z).detach()  # straight-through estimator
        return z_q, torch.stack(codes, 1), loss, torch.stack(residuals)

    def level_distances(self, z: torch.Tensor) -> list[torch.Tensor]:
        """Squared distances of each level's residual to its codebook: ``L`` x ``[B, K]``
        (residuals follow the argmin path; ETEGRec turns these into code distributions)."""
        residual, out = z, []
        for book in self.codebooks:
            d = (residual ** 2).sum(1, keepdim=True) - 2 * residual @ book.T + (book ** 2).sum(1)
            out.append(d)
            residual = residual - book[d.argmin(dim=1)]
        return out

    def forward(self, x: torch.Tensor, *, assign: CodeAssigner | None = None, level_reduction: str = "sum"):
        z = self.encoder(x)
        z_q, codes, vq_loss, residuals = self.quantize(z, assign=assign, level_reduction=level_reduction)
        return self.decoder(z_q), codes, vq_loss, residuals


def init_codebooks_with_kmeans(model: RQVAE, x: torch.Tensor, generator: torch.Generator) -> None:
    """k-means initialisation of every level on the initial latents of ``x [n, d]``."""
    with torch.no_grad():
        residual = model.encoder(x)
        for book in model.codebooks:
            centroids, assign = kmeans(residual.cpu(), model.config.codebook_size, iterations=20, generator=generator)
            book.copy_(centroids.to(x.device))
            residual = residual - book[assign.to(x.device)]


def xavier_normal_mlp_init(model: RQVAE) -> None:
    """LETTER's MLP initialisation (official ``layers.py::MLPLayers.init_weights``):
    Xavier-normal weights and zero biases in the encoder and the decoder."""
    for module in [*model.encoder, *model.decoder]:
        if isinstance(module, nn.Linear):
            nn.init.xavier_normal_(module.weight)
            nn.init.zeros_(module.bias)


def init_codebooks_with_constrained_kmeans(model: RQVAE, x: torch.Tensor, generator: torch.Generator, *,
                                           min_size_cap: int = 50, max_size_factor: int = 4,
                                           iterations: int = 10, restarts: int = 1) -> None:
    """LETTER's initialisation (official ``vq.py::init_emb``): every level's codebook is the
    size-constrained k-means of that level's residuals of all ``n`` items, each code holding
    between ``size_min = min(n // (2K), min_size_cap)`` and ``max_size_factor * size_min``
    items (raised to ``ceil(n / K)`` where that is larger, so a small ``n`` stays feasible);
    the next level's residual subtracts each item's *nearest* new code, as the official code
    does. With fewer items than codes it falls back to plain k-means."""
    with torch.no_grad():
        residual = model.encoder(x)
        k = model.config.codebook_size
        n = residual.shape[0]
        size_min = min(n // (2 * k), min_size_cap)
        size_max = max(max_size_factor * size_min, math.ceil(n / k))
        for book in model.codebooks:
            if n < k:
                centroids, _ = kmeans(residual.cpu(), k, iterations=20, generator=generator)
            else:
                centroids, _ = constrained_kmeans(residual.cpu(), k, size_min=size_min, size_max=size_max,
                                                  iterations=iterations, restarts=restarts, generator=generator)
            book.copy_(centroids.to(x.device))
            residual = residual - book[torch.cdist(residual, book).argmin(dim=1)]


def collision_rate(codes: torch.Tensor) -> float:
    """Share of items whose full code ``codes [n, L]`` repeats an earlier item's:
    ``(n - distinct codes) / n``, as LETTER's ``trainer.py::_valid_epoch``."""
    return (codes.shape[0] - torch.unique(codes, dim=0).shape[0]) / codes.shape[0]


def restart_dead_codes(model: RQVAE, used: list[torch.Tensor], residuals: torch.Tensor,
                       generator: torch.Generator) -> int:
    """Re-seed every code unused in an epoch (``used``: per level, bool ``[K]``) with a random
    residual of that level from ``residuals [L, B, D]``; returns how many were re-seeded."""
    restarted = 0
    with torch.no_grad():
        for level, book in enumerate(model.codebooks):
            dead = torch.nonzero(~used[level]).flatten()
            if dead.numel():
                pool = residuals[level]
                pick = torch.randint(pool.shape[0], (dead.numel(),), generator=generator).to(book.device)
                book[dead] = pool[pick]
                restarted += dead.numel()
    return restarted


@dataclass
class RQVAEHooks:
    """What a method adds to plain RQ-VAE training (LETTER, FlexCode); defaults = TIGER.

    Attributes:
        dim_reduction: squared errors (reconstruction and VQ terms) are summed over
            dimensions (``sum``: TIGER with the collapse fix) or averaged (``mean``: LETTER's
            ``F.mse_loss``).
        level_reduction: the levels' VQ losses are summed (``sum``) or averaged (``mean``).
        assign: code assignment used while training (``None`` = nearest code).
        extra_loss: ``(model, rows [B], z [B, D], z_q [B, D], codes [B, L]) -> (loss, parts)``,
            added to the loss of every batch (``rows`` index the embedding matrix); ``parts``
            maps names to floats, averaged per epoch into the training history.
        epoch_start: ``(model, epoch)`` called before every epoch (e.g. re-clustering).
        init_weights: ``(model)`` re-initialising the MLPs before the codebooks are
            (``None``: torch's defaults; LETTER: :func:`xavier_normal_mlp_init`).
        init_codebooks: ``(model, x, generator)`` initialising the codebooks before training
            (``None``: :func:`init_codebooks_with_kmeans`).
        select_every: ``0`` keeps the last epoch; ``m > 0`` computes the collision rate of
            the nearest codes of all items after every ``m``-th epoch and after the last, and
            keeps the weights of the epoch with the lowest (the earliest of equals), as
            LETTER's trainer keeps its best-collision checkpoint.
        history_every_epoch: record every epoch in the training history (default: ~20).
    """

    dim_reduction: str = "sum"
    level_reduction: str = "sum"
    assign: CodeAssigner | None = None
    extra_loss: Callable | None = None
    epoch_start: Callable | None = None
    init_weights: Callable | None = None
    init_codebooks: Callable | None = None
    select_every: int = 0
    history_every_epoch: bool = False


def is_reported_epoch(epoch: int, epochs: int) -> bool:
    """Whether 0-based ``epoch`` is one of the ~20 a tokenizer's training history keeps."""
    return epoch % max(1, epochs // 20) == 0 or epoch == epochs - 1


def log_tokenizer_epoch(label: str, entry: dict, epochs: int, started: float) -> None:
    """One progress line for a history ``entry`` (tokenizer phases run for minutes)."""
    values = ", ".join(f"{key}={value:.4f}" for key, value in entry.items() if key != "epoch")
    log.info("%s epoch %d/%d: %s, elapsed_seconds=%.0f", label, entry["epoch"], epochs, values,
             time.perf_counter() - started)


def fit_rq_vae(embeddings: np.ndarray, config: RQVAEConfig, seed: int,
               device: torch.device | str = "cpu", hooks: RQVAEHooks | None = None) -> tuple[np.ndarray, dict, RQVAE]:
    """Train an RQ-VAE on ``embeddings [n, d]``; codes int64 ``[n, L]``, diagnostics, model."""
    hooks = hooks or RQVAEHooks()
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x = torch.from_numpy(np.asarray(embeddings, dtype=np.float32)).to(device)
    model = RQVAE(x.shape[1], config).to(device)
    if hooks.init_weights is not None:
        hooks.init_weights(model)
    (hooks.init_codebooks or init_codebooks_with_kmeans)(model, x, generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    n = x.shape[0]
    history = []
    selection: list[dict] = []
    best_state: dict | None = None
    started = time.perf_counter()
    for epoch in range(config.epochs):
        if hooks.epoch_start is not None:
            hooks.epoch_start(model, epoch)
        order = torch.randperm(n, generator=generator).to(device)
        used = [torch.zeros(config.codebook_size, dtype=torch.bool, device=device) for _ in range(config.levels)]
        total = recon_total = quant_total = 0.0
        parts_total: dict[str, float] = {}
        last_residuals = None
        for start in range(0, n, config.batch_size):
            rows = order[start:start + config.batch_size]
            batch = x[rows]
            z = model.encoder(batch)
            z_q, codes, vq_loss, residuals = model.quantize(z, assign=hooks.assign,
                                                            level_reduction=hooks.level_reduction,
                                                            dim_reduction=hooks.dim_reduction)
            recon = model.decoder(z_q)
            squared = (recon - batch) ** 2
            recon_loss = squared.sum(1).mean() if hooks.dim_reduction == "sum" else squared.mean()
            loss = recon_loss + vq_loss
            if hooks.extra_loss is not None:
                extra, parts = hooks.extra_loss(model, rows, z, z_q, codes)
                loss = loss + extra
                for name, value in parts.items():
                    parts_total[name] = parts_total.get(name, 0.0) + value * batch.shape[0]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for level in range(config.levels):
                used[level][codes[:, level]] = True
            total += loss.item() * batch.shape[0]
            recon_total += recon_loss.item() * batch.shape[0]
            quant_total += vq_loss.item() * batch.shape[0]
            last_residuals = residuals
        restarted = 0
        # never after the last epoch: the final codes must use codewords the decoder trained with
        if config.restart_dead_codes and last_residuals is not None and epoch < config.epochs - 1:
            restarted = restart_dead_codes(model, used, last_residuals, generator)
        if hooks.history_every_epoch or is_reported_epoch(epoch, config.epochs):
            history.append({"epoch": epoch + 1, "loss": total / n, "reconstruction": recon_total / n,
                            "quantization": quant_total / n, "restarted_codes": restarted,
                            **{k: v / n for k, v in parts_total.items()}})
            log_tokenizer_epoch("rq-vae", history[-1], config.epochs, started)
        if hooks.select_every and ((epoch + 1) % hooks.select_every == 0 or epoch == config.epochs - 1):
            rate = _nearest_code_collision_rate(model, x, config.batch_size)
            if not selection or rate < min(entry["collision_rate"] for entry in selection):
                best_state = copy.deepcopy(model.state_dict())
            selection.append({"epoch": epoch + 1, "collision_rate": rate})
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        recon, codes, _, _ = model(x)  # nearest codes; a method re-assigns collisions itself
        relative = float(((recon - x) ** 2).sum() / (x ** 2).sum())
    info = {"relative_reconstruction_error": relative, "training": history}
    if selection:
        best = min(selection, key=lambda entry: entry["collision_rate"])   # earliest of equals
        info["selection"] = {"criterion": "lowest collision rate of nearest codes", "selected_epoch": best["epoch"],
                             "evaluations": selection}
    return codes.cpu().numpy().astype(np.int64), info, model


def _nearest_code_collision_rate(model: RQVAE, x: torch.Tensor, batch_size: int) -> float:
    """The collision rate of every item's nearest codes (LETTER evaluates without Sinkhorn)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        codes = torch.cat([model.quantize(model.encoder(x[start:start + batch_size]))[1]
                           for start in range(0, x.shape[0], batch_size)])
    model.train(was_training)
    return collision_rate(codes)
