"""FlexCode (Hui et al., arXiv 2511.20673): dual collaborative/semantic codebooks with
popularity-aware token allocation.

No public code exists; this file is a reference implementation from the paper's description
(``shared/seeds/flexcode_dual_codebook.txt``). The parts, in the paper's order:

1. Dual codebooks: a semantic RQ-VAE over item text embeddings (``L_SCL``) and a
   collaborative RQ-VAE over SASRec item embeddings (``L_CCL``); each has ``L`` levels of
   ``K`` codes, so either can supply the whole budget.
2. Cross-codebook alignment (``L_CCA``): InfoNCE between projections of the two
   *reconstructed* embeddings of the same item, the other items of the batch as negatives.
3. Popularity-aware token allocation (PATA): features ``x_i`` = [normalised log frequency,
   age, inverse interaction density, embedding variance] -> MLP router -> temperature softmax
   over {collaborative, semantic} -> ``alpha_i``; ``n_cf = alpha_i L`` soft tokens. Sigmoid
   masks ``m_cf,t = sigma((alpha_i L - t + 1/2) / kappa)`` and ``m_sem,t = sigma(((1 - alpha_i)
   L - t + 1/2) / kappa)`` weight the tokens in training; at inference ``n_cf =
   round(alpha_i L)`` (integral, and the two counts sum to ``L``). Regularized by a stratified
   load-balancing term over popularity bins (``L_lb``) and a local smoothness term on
   ``alpha`` (``L_smooth``).
4. The item's ID = its first ``n_cf`` collaborative codes, then its first ``L - n_cf``
   semantic codes, then a disambiguation code, in one vocabulary where every (codebook,
   level) has its own token range; a T5 generates the next item's ID (``L_ARG``) and is
   decoded with the trie-constrained beam search.

Total objective: ``L_SCL + L_CCL + lambda_align L_CCA + lambda_ARG L_ARG + lambda_lb L_lb +
lambda_smooth L_smooth``. Paper defaults: ``K = 512``, ``d = 64``, ``lambda_align = 0.1``,
``lambda_smooth = 0.01``, ``L = 3`` (Table 4 varies it over 3..6).

Assumptions (values and choices the paper leaves open; every one is a config field):
* schedule: two stages instead of one joint optimisation. Stage 1 trains both RQ-VAEs and
  the alignment jointly (``L_SCL + L_CCL + lambda_align L_CCA``); stage 2 trains the router
  and the generator (``lambda_ARG L_ARG + lambda_lb L_lb + lambda_smooth L_smooth``) on the
  frozen codes. The generator's targets are discrete codes; letting them move under the
  generator is what ETEGRec's alternation exists for, and the paper does not say how
  FlexCode handles it;
* the router learns from generation during the first ``router_epochs`` epochs of stage 2,
  then it is frozen with its allocation. In those epochs the T5 learns every target's ID
  under every allocation ``m = 0..L`` (mean cross-entropy), and the router minimises the
  expected cross-entropy of the target's ID under ``m ~ Binomial(L, alpha)`` (mean
  ``alpha L``, the paper's soft token count), the cross-entropies held fixed: its gradient
  moves each item towards the allocations whose IDs the T5 generates better. Training the
  T5 on every allocation equally keeps the comparison fair (a T5 trained on the likelier
  allocation makes it the easier one, and the router never leaves its start). Afterwards
  the T5 trains on the frozen IDs alone;
* IDs: an item's ID under each allocation is fixed once (the disambiguation code is its
  rank among the items with the same codes under that allocation, and IDs under different
  allocations never share codes), so a reallocation changes which ID an item uses, never
  another item's. The allocation is set before each epoch (and held, with the checkpoint,
  as a buffer), the epoch trains on it, its validation decodes with it, and the selected
  epoch's allocation is restored with its weights: validation and test decode the IDs the
  T5 trained on. A new allocation keeps an item's ``n_cf`` while ``alpha L`` is within
  ``1/2 + allocation_hysteresis`` tokens of it; the share of items that changed is
  recorded per epoch (``allocation_changed``);
* masks: the encoder reads, for each history item, its ``L`` collaborative and ``L``
  semantic tokens times 0/1 masks of the allocation (the first ``n_cf`` and the first
  ``L - n_cf``), in training as at inference, and masked tokens are kept out of attention.
  While the router learns, the paper's sigmoid masks (sharpness ``kappa``) give the
  gradient through a straight-through estimator;
* ``L_lb`` ("stratified load balancing across popularity bins"): popularity quintiles by
  training count; the Switch-Transformer term ``2 sum_e f_e P_e`` with ``f_e`` (the share
  routed to expert ``e`` by argmax) and ``P_e`` (the mean probability) averaged over bins,
  each bin weighing the same. We read the balance as global across the bins, not inside
  each one: head bins on the collaborative codebook and tail bins on the semantic one cost
  no more than 50/50 everywhere, while a collapse onto one codebook is penalised. The
  paper gives no ``lambda_lb``; 1.0 here, so that the balance can hold the generation
  signal of the head from pulling the tail along through the shared router. ``L_smooth``:
  mean squared difference of ``alpha`` between items adjacent in popularity order;
* ``d = 64`` is the latent size of both RQ-VAEs and of the collaborative SASRec embedding;
  RQ-VAE MLPs as TIGER's (hidden 512-256-128), beta 0.25, k-means initialisation, dead-code
  restarts;
* CCA: projection heads are linear maps to 64 dimensions, cosine similarity, tau = 0.1;
* router: MLP 4 -> 32 -> 2 (ReLU), softmax temperature 1, learning rate 1e-2, ten epochs;
  mask sharpness kappa = 0.25; hysteresis 0.25 tokens;
* router features (``item_features``; the P5 files have no timestamps): popularity
  ``log(1 + count)``; age, how early the item appears in the users' training sequences
  (1 - mean relative position); user sparsity, minus the mean log length of the training
  sequences the item occurs in (standing in for the paper's inverse interaction density,
  which without timestamps is ``log(N / (1 + count))``, exactly minus the popularity); and
  embedding variance, the variance of the components of the item's collaborative embedding
  (the paper's variance across training is not recorded by the SASRec stage). Each is
  standardised over items;
* Fix (50/50 split): ``alpha = 0.5`` for every item, router off; ``n_cf = round(L / 2)``
  with halves rounded up (2 of 3 tokens collaborative at ``L = 3``);
* the generator and its training as TIGER's in each profile (the ``cpu`` profile's shared
  generator recipe: the cosine that ends with the 75-minute budget, selection on 4,096
  validation users), so that FlexCode and TIGER differ
  in their IDs under the same budget (and in TIGER's cpu profile appending the P5 data's brand/category codes to the
  text embedding, which FlexCode's does not yet); the router's rate follows the same
  schedule as the T5's (each scaled from its own base rate); lambda_ARG = 1.

Measured results: ``docs/methods/flexcode.md`` and the run records under
``results/runs/*/flexcode*``.

Variants as methods: ``flexcode-sid-only``, ``flexcode-cf-only``, ``flexcode-fix``,
``flexcode-no-align``; Table 4's budgets with ``--set budget=4``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genrec_bench import config_checks as checks
from genrec_bench.data.split import SequenceSplits
from genrec_bench.errors import ConfigError
from genrec_bench.evaluation import Validator
from genrec_bench.generative.beam_search import beam_search
from genrec_bench.generative.collaborative import (
    CollaborativeEmbeddingConfig,
    collaborative_item_embeddings,
)
from genrec_bench.generative.semantic_ids import N_SPECIAL, add_dedup_level, code_diagnostics
from genrec_bench.generative.seq2seq_training import (
    epoch_batches,
    scheduled_steps,
    selection_validator,
    stage_schedule,
    training_samples,
)
from genrec_bench.generative.t5_generator import SharedEncoderDecoder, T5GeneratorConfig, build_t5
from genrec_bench.generative.text_embeddings import TextEmbeddingConfig, dataset_text_embeddings
from genrec_bench.generative.tokenizers import RQVAE, RQVAEConfig
from genrec_bench.generative.tokenizers.rq_vae import (
    init_codebooks_with_kmeans,
    is_reported_epoch,
    log_tokenizer_epoch,
    restart_dead_codes,
)
from genrec_bench.generative.trie import PrefixTrie
from genrec_bench.paths import artifact_key, cache_dir
from genrec_bench.recommender import FitReport, HistoryBatch, Recommender, TopK
from genrec_bench.records.atomic import atomic_write_bytes, atomic_write_json
from genrec_bench.registry import register_method
from genrec_bench.training.distributed import wrap
from genrec_bench.training.generator_config import CPU_GENERATOR_TRAINING, GeneratorTrainingConfig
from genrec_bench.training.loop import adam_step, run_epochs
from genrec_bench.training.lr_schedule import scale_lr
from genrec_bench.training.precision import training_autocast
from genrec_bench.training.seeding import seed_everything

ALLOCATIONS = ("learned", "fixed", "semantic-only", "collaborative-only")


@dataclass(frozen=True)
class FlexCodeConfig:
    """Attributes (paper defaults where it gives them; see the module docstring):
    budget: ``L``, tokens per item from the two codebooks (paper 3; Table 4: 3..6).
    codebook_size: ``K`` (512); latent_dim: ``d`` (64).
    rq_hidden, beta, tokenizer_lr, tokenizer_batch_size, tokenizer_epochs: both RQ-VAEs.
    lambda_align, align_temperature, projection_dim: cross-codebook alignment.
    allocation: ``learned`` (PATA), ``fixed`` (FlexCode-Fix), ``semantic-only``,
        ``collaborative-only``.
    router_hidden, router_temperature, mask_sharpness: the router and its soft masks.
    lambda_arg, lambda_lb, lambda_smooth, popularity_bins: stage-2 objective.
    disambiguation_tokens: size of the disambiguation level (the most items one ID may
        have to separate under any allocation; codes that need more are an error).
    router_lr: the router's learning rate (the generator uses ``training.lr``); the
        schedule of ``training`` scales both rates by the same factor.
    router_epochs: the epochs of stage 2 in which the router learns; then it and the
        allocation are frozen.
    allocation_hysteresis: an item keeps its ``n_cf`` while ``alpha L`` is within
        ``1/2 +`` this many tokens of it (0 = plain rounding).
    collaborative, text, generator: the embeddings and the T5.
    training: the generator's training, validation and decoding, as TIGER's.
    """

    budget: int = 3
    codebook_size: int = 512
    latent_dim: int = 64
    rq_hidden: tuple[int, ...] = (512, 256, 128)
    beta: float = 0.25
    tokenizer_lr: float = 1e-3
    tokenizer_batch_size: int = 1024
    tokenizer_epochs: int = 3000
    lambda_align: float = 0.1
    align_temperature: float = 0.1
    projection_dim: int = 64
    allocation: str = "learned"
    router_hidden: int = 32
    router_temperature: float = 1.0
    mask_sharpness: float = 0.25
    lambda_arg: float = 1.0
    lambda_lb: float = 1.0
    lambda_smooth: float = 0.01
    popularity_bins: int = 5
    disambiguation_tokens: int = 512
    router_lr: float = 1e-2
    allocation_hysteresis: float = 0.25
    router_epochs: int = 10
    collaborative: CollaborativeEmbeddingConfig = field(default_factory=lambda: CollaborativeEmbeddingConfig(dim=64))
    text: TextEmbeddingConfig = field(default_factory=TextEmbeddingConfig)
    generator: T5GeneratorConfig = field(default_factory=T5GeneratorConfig)
    training: GeneratorTrainingConfig = field(default_factory=GeneratorTrainingConfig)

    def __post_init__(self) -> None:
        checks.positive_ints(self, "budget", "codebook_size", "latent_dim", "tokenizer_batch_size",
                             "tokenizer_epochs", "projection_dim", "router_hidden", "popularity_bins", "disambiguation_tokens",
                             "router_epochs")
        checks.one_of(self, "allocation", ALLOCATIONS)
        for name in ("lambda_align", "lambda_arg", "lambda_lb", "lambda_smooth", "beta"):
            checks.in_range(self, name, 0.0, 1000.0)
        for name in ("align_temperature", "router_temperature", "mask_sharpness"):
            checks.in_range(self, name, 1e-6, 1000.0)
        checks.in_range(self, "allocation_hysteresis", 0.0, 0.49)
        for name in ("tokenizer_lr", "router_lr"):
            checks.in_range(self, name, 1e-12, 10.0)

    def rq_vae(self) -> RQVAEConfig:
        return RQVAEConfig(hidden=self.rq_hidden, latent_dim=self.latent_dim, levels=self.budget,
                           codebook_size=self.codebook_size, beta=self.beta, lr=self.tokenizer_lr,
                           batch_size=self.tokenizer_batch_size, epochs=self.tokenizer_epochs)


_SMOKE_GENERATOR = T5GeneratorConfig(d_model=32, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2, d_kv=16)
_CPU_GENERATOR = T5GeneratorConfig(d_model=128, d_ff=512, num_layers=2, num_decoder_layers=2, num_heads=4, d_kv=32,
                                   train_precision="auto")
PROFILES = {
    "smoke": FlexCodeConfig(
        codebook_size=16, latent_dim=8, rq_hidden=(32,), tokenizer_epochs=3, projection_dim=8,
        disambiguation_tokens=2048, router_epochs=1,
        collaborative=CollaborativeEmbeddingConfig(dim=8, n_layers=1, max_len=20, max_epochs=1, patience=1),
        generator=_SMOKE_GENERATOR,
        training=GeneratorTrainingConfig(max_history=10, training_prefixes="one-random", lr=1e-3,
                                         weight_decay=1e-4, max_epochs=2, patience=1)),
    # 2-core CPU budget: collaborative SASRec at most 8 min, dual codebooks 150 epochs, then the
    # shared cpu generator recipe (75-minute budget); the durations measured: docs/methods/flexcode.md
    "cpu": FlexCodeConfig(
        codebook_size=256, tokenizer_epochs=150,
        collaborative=CollaborativeEmbeddingConfig(dim=64, max_epochs=30, patience=3, time_budget_s=8 * 60),
        generator=_CPU_GENERATOR, training=CPU_GENERATOR_TRAINING),
    "paper": FlexCodeConfig(),
}


# --- losses ------------------------------------------------------------------------------------

def cross_codebook_alignment(semantic: torch.Tensor, collaborative: torch.Tensor, temperature: float) -> torch.Tensor:
    """``L_CCA``: InfoNCE of the projected reconstructions ``semantic [B, p]`` against
    ``collaborative [B, p]`` (cosine similarity / ``temperature``); item ``i``'s positive is
    its own other view, the rest of the batch are negatives."""
    logits = F.normalize(semantic, dim=1) @ F.normalize(collaborative, dim=1).T / temperature
    return F.cross_entropy(logits, torch.arange(semantic.shape[0], device=semantic.device))


def soft_token_masks(alpha: torch.Tensor, budget: int, sharpness: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Sigmoid masks ``([n, L], [n, L])`` over collaborative and semantic token positions
    ``t = 1..L``: ``sigma((alpha L - t + 1/2) / kappa)`` and ``sigma(((1 - alpha) L - t + 1/2) / kappa)``."""
    t = torch.arange(1, budget + 1, device=alpha.device, dtype=alpha.dtype)
    n_cf = alpha.unsqueeze(1) * budget
    return (torch.sigmoid((n_cf - t + 0.5) / sharpness),
            torch.sigmoid((budget - n_cf - t + 0.5) / sharpness))


def hard_token_masks(n_cf: torch.Tensor, budget: int) -> tuple[torch.Tensor, torch.Tensor]:
    """0/1 masks ``([n, L], [n, L])``: the first ``n_cf`` collaborative and the first
    ``L - n_cf`` semantic token positions of every item."""
    t = torch.arange(budget, device=n_cf.device)
    return (t < n_cf.unsqueeze(1)).float(), (t < (budget - n_cf).unsqueeze(1)).float()


def straight_through_masks(n_cf: torch.Tensor, alpha: torch.Tensor, budget: int,
                           sharpness: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The hard masks of ``n_cf`` in the forward pass (what inference uses), the gradient of
    the soft masks of ``alpha`` in the backward pass (straight-through estimator)."""
    soft = soft_token_masks(alpha, budget, sharpness)
    hard = hard_token_masks(n_cf, budget)
    return tuple(h.to(s.dtype) + (s - s.detach()) for h, s in zip(hard, soft, strict=True))  # exactly h


def hard_allocation(alpha: torch.Tensor, budget: int) -> torch.Tensor:
    """int64 ``[n]`` collaborative tokens per item: ``alpha L`` rounded, halves up; the
    semantic codebook supplies the other ``L - n_cf``."""
    return torch.floor(alpha * budget + 0.5).long().clamp(0, budget)


def hysteresis_allocation(alpha: torch.Tensor, previous: torch.Tensor, budget: int, margin: float) -> torch.Tensor:
    """int64 ``[n]``: ``previous`` where ``alpha L`` lies within ``1/2 + margin`` tokens of it,
    ``alpha L`` rounded elsewhere; an item at the rounding boundary keeps its ID."""
    keep = (alpha * budget - previous.to(alpha.dtype)).abs() <= 0.5 + margin
    return torch.where(keep, previous, hard_allocation(alpha, budget))


def allocation_distribution(alpha: torch.Tensor, budget: int) -> torch.Tensor:
    """``[n, L + 1]``: ``Binomial(L, alpha)``, the probability of ``m`` collaborative tokens
    when each of the ``L`` positions is collaborative with probability ``alpha``: its mean is
    the soft count ``alpha L``, its mode ``alpha L`` rounded (up to ties), and it is
    differentiable in ``alpha``."""
    m = torch.arange(budget + 1, device=alpha.device, dtype=alpha.dtype)
    choose = torch.tensor([math.comb(budget, int(k)) for k in range(budget + 1)], device=alpha.device,
                          dtype=alpha.dtype)
    a = alpha.unsqueeze(1)
    return choose * a.pow(m) * (1 - a).pow(budget - m)


def stratified_load_balance(probs: torch.Tensor, bins: torch.Tensor, n_bins: int) -> torch.Tensor:
    """``L_lb``: the Switch balance ``E * sum_e f_e P_e`` over bin-averaged usage, for ``probs
    [n, E]``: ``f_e`` and ``P_e`` are the means over popularity bins of the bin's share routed
    to expert ``e`` by argmax and of its mean probability of ``e`` (every bin weighs the same,
    whatever its size). 1 when the bins together use every expert equally, however each bin
    splits: head bins on one codebook and tail bins on the other cost no more than 50/50 in
    every bin (the module docstring states this reading)."""
    experts = probs.shape[1]
    routed = F.one_hot(probs.argmax(1), experts).to(probs.dtype)
    shares, means = [], []
    for b in range(n_bins):
        member = bins == b
        if bool(member.any()):
            shares.append(routed[member].mean(0))
            means.append(probs[member].mean(0))
    return experts * (torch.stack(shares).mean(0) * torch.stack(means).mean(0)).sum()


def local_smoothness(alpha: torch.Tensor, popularity_order: torch.Tensor) -> torch.Tensor:
    """``L_smooth``: mean squared difference of ``alpha`` between items adjacent in popularity."""
    ordered = alpha[popularity_order]
    return (ordered[1:] - ordered[:-1]).pow(2).mean()


# --- the parts ---------------------------------------------------------------------------------

class DualCodebooks(nn.Module):
    """The semantic and collaborative RQ-VAEs and the alignment's projection heads."""

    def __init__(self, semantic_dim: int, collaborative_dim: int, config: FlexCodeConfig) -> None:
        super().__init__()
        self.semantic = RQVAE(semantic_dim, config.rq_vae())
        self.collaborative = RQVAE(collaborative_dim, config.rq_vae())
        self.project_semantic = nn.Linear(semantic_dim, config.projection_dim)
        self.project_collaborative = nn.Linear(collaborative_dim, config.projection_dim)


class PopularityRouter(nn.Module):
    """``forward(features [n, 4]) -> probabilities [n, 2]`` over (collaborative, semantic)."""

    def __init__(self, n_features: int, hidden: int, temperature: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 2))
        self.temperature = temperature

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(features) / self.temperature, dim=1)


ROUTER_FEATURES = ("popularity", "age", "user_sparsity", "embedding_variance")


def item_features(splits: SequenceSplits, cf_table: np.ndarray) -> np.ndarray:
    """float32 ``[n_items + 1, 4]`` router features (row 0 = padding, zeros), each
    standardised over items, in the order of ``ROUTER_FEATURES``:

    * popularity: ``log(1 + c)``, ``c`` = the item's training interactions;
    * age: how early the item appears in the users' training sequences, ``1 - `` the mean
      relative position of its occurrences (0 = only at the ends of sequences, 1 = only at
      the starts), a stand-in for the time since introduction (the data has no timestamps);
    * user sparsity: minus the mean log length of the training sequences the item occurs
      in, high for an item whose users have few interactions. It stands in for the paper's
      inverse interaction density, which without timestamps is ``log(N / (1 + c))``, exactly
      minus the standardised popularity;
    * embedding variance: the variance of the components of the item's collaborative
      embedding.
    """
    train = splits.train
    n = splits.n_items
    counts = splits.train_item_counts().astype(np.float64)                    # [n + 1]
    lengths = train.lengths
    occurrence_length = np.repeat(lengths, lengths)
    position = np.arange(train.items.shape[0]) - np.repeat(train.offsets[:-1], lengths)
    relative = position / np.maximum(occurrence_length - 1, 1)
    age = 1.0 - np.bincount(train.items, weights=relative, minlength=n + 1) / np.maximum(counts, 1)
    log_length = np.bincount(train.items, weights=np.log(occurrence_length), minlength=n + 1)
    user_sparsity = -log_length / np.maximum(counts, 1)
    raw = np.stack([np.log1p(counts), age, user_sparsity, cf_table.astype(np.float64).var(axis=1)], axis=1)
    body = raw[1:]
    standardised = (body - body.mean(0)) / np.maximum(body.std(0), 1e-8)
    return np.vstack([np.zeros((1, len(ROUTER_FEATURES))), standardised]).astype(np.float32)


def train_dual_codebooks(semantic_x: np.ndarray, collaborative_x: np.ndarray, config: FlexCodeConfig, seed: int,
                         device: torch.device) -> tuple[np.ndarray, np.ndarray, dict]:
    """Stage 1: ``L_SCL + L_CCL + lambda_align L_CCA`` over all items jointly.

    Returns semantic codes ``[n, L]``, collaborative codes ``[n, L]`` and diagnostics."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    sem = torch.from_numpy(np.asarray(semantic_x, dtype=np.float32)).to(device)
    cf = torch.from_numpy(np.asarray(collaborative_x, dtype=np.float32)).to(device)
    model = DualCodebooks(sem.shape[1], cf.shape[1], config).to(device)
    init_codebooks_with_kmeans(model.semantic, sem, generator)
    init_codebooks_with_kmeans(model.collaborative, cf, generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.tokenizer_lr, weight_decay=1e-4)
    n, history = sem.shape[0], []
    started = time.perf_counter()
    for epoch in range(config.tokenizer_epochs):
        order = torch.randperm(n, generator=generator).to(device)
        used = {name: [torch.zeros(config.codebook_size, dtype=torch.bool, device=device)
                       for _ in range(config.budget)] for name in ("semantic", "collaborative")}
        residuals, totals = {}, {"scl": 0.0, "ccl": 0.0, "cca": 0.0}
        for start in range(0, n, config.tokenizer_batch_size):
            rows = order[start:start + config.tokenizer_batch_size]
            losses, recon = {}, {}
            for name, x in (("semantic", sem[rows]), ("collaborative", cf[rows])):
                rq = getattr(model, name)
                out, codes, vq_loss, residuals[name] = rq(x)
                losses[name] = ((out - x) ** 2).sum(1).mean() + vq_loss
                recon[name] = out
                for level in range(config.budget):
                    used[name][level][codes[:, level]] = True
            cca = cross_codebook_alignment(model.project_semantic(recon["semantic"]),
                                           model.project_collaborative(recon["collaborative"]),
                                           config.align_temperature)
            loss = losses["semantic"] + losses["collaborative"] + config.lambda_align * cca
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            size = rows.shape[0]
            totals["scl"] += losses["semantic"].item() * size
            totals["ccl"] += losses["collaborative"].item() * size
            totals["cca"] += cca.item() * size
        # never after the last epoch: the final codes must use codewords the decoders trained with
        last = epoch == config.tokenizer_epochs - 1
        restarted = 0 if last else sum(restart_dead_codes(getattr(model, name), used[name], residuals[name], generator)
                                       for name in ("semantic", "collaborative"))
        if is_reported_epoch(epoch, config.tokenizer_epochs):
            history.append({"epoch": epoch + 1, **{k: v / n for k, v in totals.items()}, "restarted_codes": restarted})
            log_tokenizer_epoch("flexcode dual codebooks", history[-1], config.tokenizer_epochs, started)
    model.eval()
    with torch.no_grad():
        sem_out, sem_codes, _, _ = model.semantic(sem)
        cf_out, cf_codes, _, _ = model.collaborative(cf)
        errors = {"semantic_relative_reconstruction_error": float(((sem_out - sem) ** 2).sum() / (sem ** 2).sum()),
                  "collaborative_relative_reconstruction_error": float(((cf_out - cf) ** 2).sum() / (cf ** 2).sum())}
    return (sem_codes.cpu().numpy().astype(np.int64), cf_codes.cpu().numpy().astype(np.int64),
            {**errors, "training": history})


@dataclass(frozen=True)
class DualCodes:
    """Both codebooks' codes for every item (row 0 = padding): int64 ``[n_items + 1, L]`` each."""

    collaborative: np.ndarray
    semantic: np.ndarray
    diagnostics: dict


def build_dual_codes(text_x: np.ndarray, cf_x: np.ndarray, config: FlexCodeConfig, seed: int, provenance: dict,
                     device: torch.device) -> DualCodes:
    """Train (or load from the cache) the dual codebooks."""
    keys = ("budget", "codebook_size", "latent_dim", "rq_hidden", "beta", "tokenizer_lr", "tokenizer_batch_size",
            "tokenizer_epochs", "lambda_align", "align_temperature", "projection_dim")
    # revision: bumped when the training code changes what a config produces (2: no dead-code
    # restart after the last epoch), so an older cached artifact is never reused
    identity = {"tokenizer": "flexcode-dual", "revision": 2, "config": {k: getattr(config, k) for k in keys},
                "seed": seed, **provenance, "n_items": int(text_x.shape[0] - 1)}
    identity = json.loads(json.dumps(identity))
    key = artifact_key(identity)
    path = cache_dir() / f"dual-codes-{key}"
    meta = path.with_suffix(".json")
    if meta.exists() and path.with_suffix(".npz").exists():
        saved = json.loads(meta.read_text())
        if saved.get("identity") != identity:
            raise ConfigError(f"{meta}: cached dual codes were made with another config")
        with np.load(path.with_suffix(".npz")) as data:
            return DualCodes(collaborative=data["collaborative"], semantic=data["semantic"],
                             diagnostics=saved["diagnostics"])
    sem, cf, info = train_dual_codebooks(text_x[1:], cf_x[1:], config, seed, device)
    sizes = (config.codebook_size,) * config.budget
    diagnostics = {"semantic": code_diagnostics(sem, sizes), "collaborative": code_diagnostics(cf, sizes), **info}
    pad = np.zeros((1, config.budget), dtype=np.int64)
    codes = DualCodes(collaborative=np.vstack([pad, cf]), semantic=np.vstack([pad, sem]), diagnostics=diagnostics)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, collaborative=codes.collaborative, semantic=codes.semantic)
    atomic_write_bytes(path.with_suffix(".npz"), buffer.getvalue())
    atomic_write_json(meta, {"identity": identity, "diagnostics": diagnostics})
    return codes


class FlexVocabulary:
    """Token layout: ``N_SPECIAL`` reserved ids, then per level ``l`` a collaborative range
    and a semantic range of ``K`` tokens each, then ``D`` disambiguation tokens.

    Position ``p < L`` of an ID holds collaborative level ``p`` (if ``n_cf > p``) or
    semantic level ``p - n_cf``; its *position codes* are ``c`` (collaborative) or
    ``K (j + 1) + c`` (semantic level ``j <= p``), so position ``p`` has ``K (p + 2)`` codes
    and the trie and beam search work on them unchanged.
    """

    def __init__(self, budget: int, codebook_size: int, disambiguation: int) -> None:
        self.budget, self.k, self.d = budget, codebook_size, disambiguation
        self.vocab_size = N_SPECIAL + 2 * budget * codebook_size + disambiguation
        self.level_sizes = tuple(codebook_size * (p + 2) for p in range(budget)) + (disambiguation,)

    def cf_token(self, level: int, code):
        return N_SPECIAL + 2 * level * self.k + code

    def sem_token(self, level: int, code):
        return N_SPECIAL + (2 * level + 1) * self.k + code

    def position_tokens(self) -> list[torch.Tensor]:
        """Per position, int64 ``[level_sizes[p]]``: the token of every position code."""
        out = []
        for p in range(self.budget):
            parts = [self.cf_token(p, torch.arange(self.k))]
            parts += [self.sem_token(j, torch.arange(self.k)) for j in range(p + 1)]
            out.append(torch.cat(parts))
        out.append(N_SPECIAL + 2 * self.budget * self.k + torch.arange(self.d))
        return out

    def item_position_codes(self, codes: DualCodes, n_cf: np.ndarray) -> np.ndarray:
        """int64 ``[n_items, L]``: position codes of every item (rows 1..n) under ``n_cf``."""
        cf, sem = codes.collaborative[1:], codes.semantic[1:]
        p = np.arange(self.budget)[None, :]
        n = n_cf[:, None]
        sem_level = np.clip(p - n, 0, self.budget - 1)
        sem_code = np.take_along_axis(sem, sem_level, axis=1)
        return np.where(p < n, np.take_along_axis(cf, np.broadcast_to(p, cf.shape), axis=1),
                        self.k * (sem_level + 1) + sem_code)

    def allocation_ids(self, codes: DualCodes) -> tuple[np.ndarray, int]:
        """Every item's full ID under every allocation: (int64 ``[L + 1, n_items, L + 1]``, the
        largest disambiguation group). Entry ``[m, i]`` = item ``i``'s position codes with
        ``n_cf = m``, then its rank among the items whose codes under ``m`` are the same.

        IDs under different ``n_cf`` never share a body (position ``min(n_cf)`` is collaborative
        in one and semantic in the other), so the IDs of any allocation are unique, and an
        item's ID under ``m`` never depends on the other items' allocations.
        """
        n = codes.collaborative.shape[0] - 1
        tables, largest = [], 0
        for m in range(self.budget + 1):
            full, size = add_dedup_level(self.item_position_codes(codes, np.full(n, m, dtype=np.int64)))
            tables.append(full)
            largest = max(largest, size)
        return np.stack(tables), largest


# --- the method --------------------------------------------------------------------------------

class AllocationState(nn.Module):
    """The allocation the current IDs are built from, ``n_cf`` int64 ``[n_items]``, held as a
    buffer so that the epoch loop checkpoints it and restores the selected epoch's allocation
    together with that epoch's weights."""

    def __init__(self, n_items: int) -> None:
        super().__init__()
        self.register_buffer("n_cf", torch.zeros(n_items, dtype=torch.long))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))


@register_method("flexcode", config=FlexCodeConfig, profiles=PROFILES)
class FlexCode(Recommender):
    """Dual codebooks, popularity-aware allocation, T5 generator, trie-constrained beams."""

    uses_item_text = True

    def fit(self, splits: SequenceSplits, validator: Validator | None = None) -> FitReport:
        cfg: FlexCodeConfig = self.config
        rng = seed_everything(self.seed)
        text_x, embedding_info = dataset_text_embeddings(splits.dataset, cfg.text, self.name)
        cf = collaborative_item_embeddings(splits, cfg.collaborative, seed=self.seed, device=self.device,
                                           validator=validator)
        codes = build_dual_codes(text_x, cf.table, cfg, self.seed,
                                 {"embeddings": embedding_info.get("content_key"),
                                  "collaborative": cf.info["cache_file"]}, self.device)
        seed_everything(self.seed)
        self.build_generator(splits, codes, item_features(splits, cf.table))
        report = self.train_generator(splits, validator, rng)
        report.extra["dual_codebooks"] = codes.diagnostics
        report.extra["semantic_ids"]["text_embeddings"] = embedding_info
        report.extra["collaborative_embeddings"] = {k: v for k, v in cf.info.items() if k != "identity"}
        return report

    def build_generator(self, splits: SequenceSplits, codes: DualCodes, features: np.ndarray) -> None:
        """Stage 2's parts from the frozen codes: vocabulary, every item's ID under every
        allocation, router features and popularity bins, the router, the T5, the allocation.

        Args:
            codes: both codebooks' codes (row 0 = padding).
            features: float32 ``[n_items + 1, 4]`` router features (``item_features``).
        """
        cfg: FlexCodeConfig = self.config
        self.codes = codes
        self.vocab = FlexVocabulary(cfg.budget, cfg.codebook_size, cfg.disambiguation_tokens)
        self.position_tokens = [t.to(self.device) for t in self.vocab.position_tokens()]
        self.history_tokens = torch.from_numpy(np.concatenate([  # [n_items + 1, 2L]: all CF then all SEM tokens
            self.vocab.cf_token(np.arange(cfg.budget), codes.collaborative),
            self.vocab.sem_token(np.arange(cfg.budget), codes.semantic)], axis=1)).to(self.device)
        self.history_tokens[0] = 0
        self.id_table, self.dedup_size = self.vocab.allocation_ids(codes)      # [L + 1, n_items, L + 1]
        if self.dedup_size > cfg.disambiguation_tokens:
            raise ConfigError(f"flexcode: {self.dedup_size} items share one ID, more than the "
                              f"{cfg.disambiguation_tokens} disambiguation tokens; raise "
                              f"disambiguation_tokens, codebook_size or budget")
        position_tokens = [t.cpu().numpy() for t in self.position_tokens]
        tokens = np.stack([position_tokens[p][self.id_table[:, :, p]] for p in range(cfg.budget + 1)], axis=2)
        pad = np.zeros((cfg.budget + 1, 1, cfg.budget + 1), dtype=np.int64)
        self.allocation_tokens = torch.from_numpy(np.concatenate([pad, tokens], axis=1)).to(self.device)
        self.features = torch.from_numpy(features).to(self.device)
        counts = torch.from_numpy(splits.train_item_counts()[1:]).to(self.device)
        self.popularity_order = torch.argsort(counts, stable=True)
        ranks = torch.empty_like(self.popularity_order)
        ranks[self.popularity_order] = torch.arange(counts.shape[0], device=self.device)
        self.popularity_bin = (ranks * cfg.popularity_bins // counts.shape[0]).clamp(max=cfg.popularity_bins - 1)
        self.router = PopularityRouter(features.shape[1], cfg.router_hidden, cfg.router_temperature).to(self.device)
        self.model = build_t5(cfg.generator, self.vocab.vocab_size).to(self.device)
        self.allocation = AllocationState(splits.n_items).to(self.device)

    def train_generator(self, splits: SequenceSplits, validator: Validator | None,
                        rng: np.random.Generator) -> FitReport:
        """Stage 2: the router and the T5 jointly, ``lambda_ARG L_ARG + lambda_lb L_lb +
        lambda_smooth L_smooth``. Each epoch first fixes the allocation (with hysteresis) and
        the IDs, trains on them, and is validated on them; the selected epoch's allocation is
        restored with its weights, so validation and test decode the IDs the T5 trained on."""
        cfg: FlexCodeConfig = self.config
        training = cfg.training
        train_model = wrap(self.model)        # DistributedDataParallel under torchrun: both the T5
        train_router = wrap(self.router) if cfg.allocation == "learned" else None  # and the router
        optimizer = torch.optim.AdamW([
            {"params": self.model.parameters(), "lr": training.lr, "weight_decay": training.weight_decay},
            {"params": self.router.parameters(), "lr": cfg.router_lr, "weight_decay": 0.0}])
        train = splits.train
        schedule, clock = stage_schedule(training)
        extra: dict = {}
        validator = selection_validator(validator, training, self.seed, extra)

        def train_epoch(epoch: int) -> dict:
            learned = cfg.allocation == "learned"
            self.router_active = learned and epoch <= cfg.router_epochs
            # the first frozen epoch takes the allocation of the router's last epoch
            changed = (self.refresh_allocation() if epoch == 1 or (learned and epoch <= cfg.router_epochs + 1)
                       else self.install_ids_if_stale())
            samples = training_samples(train, training, rng)
            totals, steps = {"loss": 0.0, "arg": 0.0, "lb": 0.0, "smooth": 0.0}, 0
            for batch, factor in scheduled_steps(epoch_batches(samples.widths, training, rng), epoch, training, clock):
                scale_lr(optimizer, factor)
                history = torch.from_numpy(samples.history(train, batch)).to(self.device)
                targets = torch.from_numpy(samples.targets(train, batch)).to(self.device)
                lb = smooth = torch.zeros((), device=self.device)
                if self.router_active:
                    probs = self.item_probabilities(train_router)                     # [n_items, 2]
                    arg = self.generation_loss(train_model, history, targets, probs[:, 0], explore=True)
                    lb = stratified_load_balance(probs, self.popularity_bin, cfg.popularity_bins)
                    smooth = local_smoothness(probs[:, 0], self.popularity_order)
                    loss = cfg.lambda_arg * arg + cfg.lambda_lb * lb + cfg.lambda_smooth * smooth
                else:
                    arg = self.generation_loss(train_model, history, targets, self.alpha)
                    loss = cfg.lambda_arg * arg
                adam_step(optimizer, loss, [*self.model.parameters(), *self.router.parameters()],
                          clip=training.grad_clip)
                for name, value in (("loss", loss), ("arg", arg), ("lb", lb), ("smooth", smooth)):
                    totals[name] += value.item()
                steps += 1
            stats = {**{k: v / max(steps, 1) for k, v in totals.items()}, "steps": steps,
                     "samples": len(samples), "lr": optimizer.param_groups[0]["lr"],
                     "progress": clock.progress(epoch, 1.0), "router_active": self.router_active,
                     "mean_n_cf": float(self.n_cf.float().mean())}
            if changed is not None:
                stats["allocation_changed"] = changed
            return stats

        report = run_epochs(self, train_epoch, validator, schedule, optimizer=optimizer,
                            generators={"data_order": rng}, checkpoint_path=self.checkpoint_path, clock=clock)
        report.extra.update(extra)
        self.install_ids()                # the selected epoch's allocation, restored with its weights
        report.extra["allocation"] = self.allocation_by_popularity()
        report.extra["semantic_ids"] = {"level_sizes": list(self.vocab.level_sizes),
                                        "collision_rate_before_disambiguation": self.collision_rate,
                                        "largest_disambiguation_group": self.dedup_size}
        return report

    # -- allocation and IDs ------------------------------------------------------------------

    def item_probabilities(self, router: torch.nn.Module | None = None) -> torch.Tensor:
        """float ``[n_items, 2]``: (collaborative, semantic) routing probabilities; the
        variants replace the router by a constant. ``router``: the module to call (its DDP
        wrapper in training), default the router itself."""
        cfg: FlexCodeConfig = self.config
        n = self.features.shape[0] - 1
        constant = {"fixed": 0.5, "semantic-only": 0.0, "collaborative-only": 1.0}.get(cfg.allocation)
        if constant is not None:
            alpha = torch.full((n,), constant, device=self.device)
            return torch.stack([alpha, 1 - alpha], dim=1)
        return (router or self.router)(self.features[1:])

    def encoder_inputs(self, history: torch.Tensor, alpha: torch.Tensor, hard: bool = False):
        """History items ``[B, H]`` -> input embeddings ``[B, H * 2L, d]`` (every item's L
        collaborative and L semantic token embeddings times their masks) and the attention
        mask, which keeps masked-out tokens out of attention.

        Training (``hard=False``): the 0/1 masks of the current allocation in the forward
        pass, so training reads what inference reads; while the router learns, the soft masks
        of ``alpha [n_items]`` give the gradient (straight-through). Inference
        (``hard=True``): the 0/1 masks of ``alpha L`` rounded."""
        cfg: FlexCodeConfig = self.config
        if hard:
            cf_mask, sem_mask = hard_token_masks(hard_allocation(alpha, cfg.budget), cfg.budget)
        elif getattr(self, "router_active", False):
            cf_mask, sem_mask = straight_through_masks(self.allocation.n_cf, alpha, cfg.budget, cfg.mask_sharpness)
        else:
            cf_mask, sem_mask = hard_token_masks(self.allocation.n_cf, cfg.budget)
        masks = torch.cat([torch.zeros(1, 2 * cfg.budget, device=alpha.device, dtype=cf_mask.dtype),
                           torch.cat([cf_mask, sem_mask], dim=1)])                   # [n_items + 1, 2L]
        tokens = self.history_tokens[history].reshape(history.shape[0], -1)         # [B, H * 2L]
        weights = masks[history].reshape(history.shape[0], -1, 1)
        embeds = self.model.get_input_embeddings()(tokens) * weights
        return embeds, ((tokens != 0) & (weights.detach().squeeze(-1) > 0)).long()

    def generation_loss(self, model: torch.nn.Module, history: torch.Tensor, targets: torch.Tensor,
                        alpha: torch.Tensor, explore: bool = False) -> torch.Tensor:
        """``L_ARG`` of a batch (``history [B, H]``, ``targets [B]``, ``alpha [n_items]``).

        Without ``explore``: the token cross-entropy of the targets' current IDs. With
        ``explore`` (the router's epochs): the T5 learns the target's ID under every
        allocation ``m = 0..L`` equally (mean cross-entropy), and the router gets the
        expected cross-entropy under ``m ~ Binomial(L, alpha)`` (``allocation_distribution``)
        with the cross-entropies held fixed, ``sum_m P(m) CE_m``, so
        ``d/d alpha = L E_{Binomial(L - 1, alpha)}[CE_{m+1} - CE_m]`` moves each item towards
        the allocations whose IDs the T5 generates better. Training the T5 on every
        allocation equally keeps that comparison fair: trained only on the likelier
        allocation, the T5 would make it the easier one. The returned value is the T5's
        mean cross-entropy (the router's term adds its gradient, not its value)."""
        cfg: FlexCodeConfig = self.config
        embeds, mask = self.encoder_inputs(history, alpha)
        vocab = self.vocab.vocab_size
        if not explore:
            labels = self.item_target_tokens[targets]
            with training_autocast(self.device, cfg.generator.train_precision):
                logits = model(inputs_embeds=embeds, attention_mask=mask, labels=labels).logits.float()
            return F.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1))
        copies = cfg.budget + 1
        labels = self.allocation_tokens[:, targets].reshape(copies * targets.shape[0], -1)  # m-major
        with training_autocast(self.device, cfg.generator.train_precision):
            encoded = self.model.encoder(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
            logits = model(encoder_outputs=(encoded.repeat(copies, 1, 1),), attention_mask=mask.repeat(copies, 1),
                           labels=labels).logits.float()
        per_target = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none").mean(1)   # [(L + 1) B]
        per_target = per_target.reshape(copies, -1).T                                        # [B, L + 1]
        weights = allocation_distribution(alpha[targets - 1], cfg.budget)                 # [B, L + 1]
        routed = (weights * per_target.detach()).sum(1).mean()
        return per_target.mean(1).mean() + (routed - routed.detach())    # the value: the T5's mean

    def refresh_allocation(self) -> float | None:
        """Set the allocation from the router (rounded; with hysteresis once there is one) and
        rebuild the IDs. Returns the share of items whose ``n_cf`` changed (None the first time)."""
        cfg: FlexCodeConfig = self.config
        with torch.no_grad():
            alpha = self.item_probabilities()[:, 0]
        state = self.allocation
        previous = state.n_cf.clone()
        if bool(state.initialised):
            new = hysteresis_allocation(alpha, previous, cfg.budget, cfg.allocation_hysteresis)
            changed: float | None = float((new != previous).float().mean())
        else:
            new, changed = hard_allocation(alpha, cfg.budget), None
        state.n_cf.copy_(new)
        state.initialised.fill_(True)
        self.install_ids()
        return changed

    def install_ids_if_stale(self) -> float:
        """Install the held allocation's IDs unless they are installed (a resumed run holds
        the checkpoint's allocation but has built no IDs yet); 0.0, the share reallocated."""
        if getattr(self, "n_cf", None) is None or not torch.equal(self.n_cf, self.allocation.n_cf):
            self.install_ids()
        return 0.0

    def install_ids(self) -> None:
        """Every item's ID, target tokens and the trie from the held allocation; ``alpha`` =
        the allocated share ``n_cf / L`` (what the inference masks round), ``router_alpha`` =
        the router's current share (for the record)."""
        cfg: FlexCodeConfig = self.config
        with torch.no_grad():
            self.router_alpha = self.item_probabilities()[:, 0].detach()
        self.n_cf = self.allocation.n_cf.clone()
        self.alpha = self.n_cf.float() / cfg.budget
        n_cf = self.n_cf.cpu().numpy()
        full = self.id_table[n_cf, np.arange(n_cf.shape[0])]
        _, counts = np.unique(full[:, :cfg.budget], axis=0, return_counts=True)
        self.collision_rate = float(counts[counts > 1].sum() / full.shape[0])
        self.position_codes = full
        self.trie = PrefixTrie.build(full, self.vocab.level_sizes).to(self.device)
        items = torch.arange(self.n_cf.shape[0] + 1, device=self.device)
        allocation = torch.cat([torch.zeros(1, dtype=torch.long, device=self.device), self.n_cf])
        self.item_target_tokens = self.allocation_tokens[allocation, items]

    def allocation_by_popularity(self) -> list[dict]:
        """The allocation per popularity bin (training counts, least popular first): for the record."""
        cfg: FlexCodeConfig = self.config
        out = []
        for b in range(cfg.popularity_bins):
            member = self.popularity_bin == b
            n_cf = self.n_cf[member]
            out.append({"bin": b, "items": int(member.sum()), "mean_alpha": float(self.router_alpha[member].mean()),
                        "mean_collaborative_tokens": float(n_cf.float().mean()),
                        "collaborative_tokens_histogram": torch.bincount(n_cf, minlength=cfg.budget + 1).tolist()})
        return out

    # -- inference ----------------------------------------------------------------------------

    @torch.no_grad()
    def recommend(self, histories: HistoryBatch, k: int, exclude: torch.Tensor | None = None) -> TopK:
        """Trie-constrained beams; items of ``exclude`` are pruned in the trie."""
        cfg: FlexCodeConfig = self.config
        history = histories.padded(cfg.training.max_history, align="left", device=self.device)
        embeds, mask = self.encoder_inputs(history, self.alpha, hard=True)
        decoder = SharedEncoderDecoder(self.model)
        decoder.encode(None, mask, inputs_embeds=embeds)
        result = beam_search(decoder.step, batch_size=history.shape[0], level_offsets=None,
                             level_sizes=self.vocab.level_sizes, beam_width=max(cfg.training.beam_width, k), trie=self.trie,
                             device=self.device, level_tokens=self.position_tokens,
                             exclude=None if exclude is None else exclude.to(self.device))
        return TopK(items=result.items[:, :k], scores=result.scores[:, :k])


def _variant(**changes) -> dict[str, FlexCodeConfig]:
    return {name: dataclasses.replace(cfg, **changes) for name, cfg in PROFILES.items()}


@register_method("flexcode-sid-only", config=FlexCodeConfig, profiles=_variant(allocation="semantic-only"))
class FlexCodeSemanticOnly(FlexCode):
    """FlexCode-SID only: every token from the semantic codebook."""


@register_method("flexcode-cf-only", config=FlexCodeConfig, profiles=_variant(allocation="collaborative-only"))
class FlexCodeCollaborativeOnly(FlexCode):
    """FlexCode-CF only: every token from the collaborative codebook."""


@register_method("flexcode-fix", config=FlexCodeConfig, profiles=_variant(allocation="fixed"))
class FlexCodeFixed(FlexCode):
    """FlexCode-Fix: router off, a fixed 50/50 split."""


@register_method("flexcode-no-align", config=FlexCodeConfig, profiles=_variant(lambda_align=0.0))
class FlexCodeWithoutAlignment(FlexCode):
    """FlexCode without the cross-codebook alignment."""

