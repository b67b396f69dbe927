"""ETEGRec (Liu et al., SIGIR 2025): end-to-end learnable item tokenization and generative
recommendation, following the official code (``BishopLiu/ETEGRec``, see the reference notes,
section 5) wherever the paper is silent.

1. Item input = the 256-d item table of a SASRec trained on the training split
   (``genrec_bench.generative.collaborative``), frozen.
2. Tokenizer = an RQ-VAE (MLP 256-512-256-128, 3 levels x 256 codes, beta 0.25), first
   pre-trained alone with ``fit_rq_vae`` (k-means initialised), then trained jointly.
   Item ID = its 3 codes + a disambiguation code (index among items sharing the 3 codes),
   recomputed for all items after every epoch that updates the tokenizer.
3. Recommender = a T5 (6+6 layers, d_model 128, d_ff 512, 4 heads x 64, dropout 0.1, relu)
   reading the last 50 history items' 4 tokens and generating the target's 4 tokens. Token
   embeddings are tied to the output: the logits of level ``l`` are the decoder state times
   level ``l``'s embedding rows. ``enc_adapter`` (Linear 128 -> 128) maps the mean-pooled
   encoder output into the tokenizer's latent space; ``dec_adapter`` (Linear 128 -> 256)
   maps the first decoder state into the item-embedding space.
4. Losses (functions below): ``code_loss`` (token cross-entropy), ``sia_loss`` (symmetric
   KL between the code distributions of ``enc_adapter(mean encoder state)`` and of the target
   item, per level), ``psa_loss`` (symmetric InfoNCE between the tokenizer's reconstruction of
   the target and ``dec_adapter(first decoder state)``), ``vq_loss`` (reconstruction +
   ``alpha`` x quantisation loss).
5. Stage 1 alternates: epoch ``e`` (0-based) with ``e % cycle == 0`` trains the tokenizer
   (generator frozen; loss vq + mu SIA + lambda PSA), the other epochs train the generator
   (tokenizer frozen; loss code + mu SIA + lambda PSA); SIA/PSA weights are 0 before
   ``warm_epochs``. Stage 2 freezes the tokenizer and the IDs and fine-tunes the generator
   with the code loss only. Both stages select their epoch on validation NDCG@10 through
   the suite's evaluator (``run_epochs``); the final model is stage 2's best.
6. Decoding: beam search (beam 20) WITHOUT a prefix trie by default, as the official code
   (a generated tuple that is no item's ID simply misses; the rate is recorded);
   ``constrained=True`` decodes with the trie instead.

Ablation variants are registered as methods of their own: ``etegrec-no-sia``,
``etegrec-no-psa``, ``etegrec-no-align`` (neither), ``etegrec-joint`` (no alternation: both
parts trained every epoch on the sum of all losses) and ``etegrec-no-ete`` (no end-to-end
training: the pre-trained tokenizer is frozen and only the generator is trained, code loss
only, on its fixed IDs).

Assumptions (what the paper and/or the official code leave open, or where we deviate):

* The ``cpu`` profile runs the T5's forward passes under bf16 autocast (as TIGER's cpu
  profile; its measurements in ``docs/methods/tiger.md``); the tokenizer, the alignment
  losses and decoding stay fp32. ``paper`` is fp32.

* Code distributions follow the official code: ``softmax(d)`` of the squared distances
  themselves (``vq.py`` returns ``logit = d``; larger = farther), although the paper writes
  P(k|v) ~ exp(-||v - e_k||^2); ``sia_logits="negative-distance"`` gives the paper's sign
  and ``sia_temperature`` divides either (official: 1).
* Scale of the alignment: SIA grows with the square of the spread of a level's distances
  across its codes, i.e. with the 4th power of the embedding scale. On Beauty batches with
  the suite's SASRec table both code distributions were nearly uniform, and under the
  official weights SIA's and PSA's gradients on the T5 were small next to the code loss's
  (the measured values, and what ``sia_temperature`` does to them:
  ``docs/methods/etegrec.md``; no profile changes the temperature). The official embeddings
  (Google Drive) could not be read, so whether the official run sits at a larger scale is
  unknown; the weights stay official and every epoch records each weighted term
  (``{term}_weighted``).
* The SASRec that makes the 256-d item table is the suite's collaborative SASRec (2 layers,
  1 head, dropout 0.5, epoch selected on validation NDCG@10); the official repository
  downloads ready-made embeddings whose training settings are not given.
* Tokenizer epochs iterate over the same training batches as generator epochs (official):
  the tokenizer losses use each batch's unique target items, so frequent items get more
  updates. IDs (the disambiguation code included) are recomputed for every item after each
  such epoch, as the official ``get_code``.
* Validation runs after generator epochs (``eval_every`` a multiple of ``cycle``, official
  ``eval_step = cycle = 2``); patience counts validations (official ``early_stop`` 15). The
  final model is stage 2's best epoch (the official code reports both stages' test).
* The invalid-ID rate recorded = share of the returned top-K beams whose code tuple is no
  item's ID (always 0 with ``constrained=True``).
* The joint-training tokenizer pass (``quantize``) follows the official ``vq.py`` path: the
  residual loses each level's straight-through output, so from level 2 on the distances
  and the commitment terms reach neither the encoder (nor ``enc_adapter``) nor the earlier
  codebooks; SIA and the commitment push the encoder through level 1 only. (Pre-training
  uses the suite's ``fit_rq_vae``, whose residual keeps its gradient.)
* Reductions follow ``trainer.py``: SIA = mean over levels and rows of KL(P||Q) + KL(Q||P)
  (the two directions summed, not halved); PSA = InfoNCE(recon -> dec) + InfoNCE(dec ->
  recon), summed; both over the unique targets of a batch (first occurrence); the vq loss
  over the unique targets; reconstruction = MSE (mean over elements); the quantisation loss
  = per-level ``codebook + beta * commitment`` MSE averaged over levels, weighted by
  ``alpha`` = 1. The vq loss, the item's code distances and its reconstruction come from one
  tokenizer pass over the unique targets (official ``model_id(x)``).
* Pre-training uses the suite's ``fit_rq_vae`` with the official loss (MSE means:
  ``RQVAEHooks(dim_reduction="mean", level_reduction="mean")``) and pre-training settings
  (lr 1e-3, weight decay 1e-4, batch 1024, 10,000 epochs in ``paper``), plus the suite's
  dead-code restarts (the official pre-training has none). The pre-trained tokenizer is
  cached per (embeddings, config, seed) and loaded strictly.
* The disambiguation level has ``dedup_codes`` = 256 codes (official ``code_num``); a
  collision group larger than that is an error, as in the official ``get_code``.
* One shared T5 vocabulary with per-level offsets instead of per-level ``nn.Embedding``
  tables: level ``l``'s rows are exactly its own table, the training loss is a softmax over
  level ``l``'s codes only and decoding renormalises every step over that level's codes, so
  the model is the official per-level tied head. Decoder outputs are NOT scaled by
  ``d_model ** -0.5`` (official: logits = decoder state . token embeddings) and all Linear
  and Embedding weights of the T5 and the adapters start from N(0, 0.02) (official
  ``_init_weights``).
* Official batch = 512 per GPU on 4 GPUs with ``accelerate`` stepping the schedulers once per
  process, so the ``paper`` profile uses batch 2048 and 2000 warm-up optimizer steps for the
  generator (= the official 8000 scheduler steps); the tokenizer's warm-up and cosine length
  are the generator's divided by ``cycle`` (official). Each group's schedule advances only
  on steps that train it. In ``joint`` mode the same formulas apply.
* During tokenizer epochs the generator runs without gradients in eval mode (the official
  code freezes it and has it in eval mode after the first validation), and only on the
  unique-target rows the alignment losses use; before warm-up it is not run at all (all its
  loss weights are 0 then).
* ``etegrec-no-ete``: the paper retrains a generator on ETEGRec's FINAL item tokens; here
  (as specified for this suite) the generator is trained on the pre-trained tokenizer's
  fixed tokens with the code loss only (SIA/PSA off), through both stages.
* Training batches are grouped by history length (the suite's ``length_grouped_batches``),
  so in-batch PSA negatives have similar history lengths; the official loader shuffles.
* The ``cpu`` profile (Beauty on 2 CPU cores, at most about 1 h 50 min in all): SASRec-256 for at most
  20 min, RQ-VAE pre-training 300 epochs, a 2+2-layer T5 (the suite's TIGER cpu sizes), one
  random prefix per user per epoch (learned faster per CPU minute than all prefixes for
  TIGER), batch 256, generator lr 1e-3 (the suite's TIGER cpu value; the official 5e-3 goes
  with an 8x larger batch; tokenizer 1e-4 as official) after a 1000-step warm-up (500 for
  the tokenizer, about 11 generator epochs), then the official cosine, whose progress is the
  larger of the step share and the share of stage 1's 55-minute budget spent (so a budgeted
  stage ends annealed); validation every 4 epochs on 4,096 seeded validation users; stage 2
  (at most 30 epochs or 20 min) validated every 2 epochs with a patience of 5 validations
  (the official patience of 10 epochs), so validation stays under 10 % of the fit.
  Measured runs: ``docs/methods/etegrec.md`` and the records (``results/runs/*/etegrec*/``).
* Single process only (the alternating freezing does not fit DistributedDataParallel).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genrec_bench import config_checks as checks
from genrec_bench.data.split import SequenceSplits
from genrec_bench.errors import ConfigError, GenRecError
from genrec_bench.evaluation import Validator
from genrec_bench.generative.beam_search import beam_search
from genrec_bench.generative.collaborative import (
    CollaborativeEmbeddingConfig,
    collaborative_item_embeddings,
)
from genrec_bench.generative.samples import TrainingSamples
from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level, code_diagnostics
from genrec_bench.generative.seq2seq_training import (
    epoch_batches,
    selection_validator,
    stage_schedule,
    training_samples,
)
from genrec_bench.generative.t5_generator import SharedEncoderDecoder, T5GeneratorConfig, build_t5
from genrec_bench.generative.tokenizers import RQVAE, RQVAEConfig, RQVAEHooks, fit_rq_vae
from genrec_bench.generative.trie import PrefixTrie
from genrec_bench.paths import artifact_key, cache_dir
from genrec_bench.recommender import FitReport, HistoryBatch, Recommender, TopK
from genrec_bench.records.atomic import atomic_write_bytes, atomic_write_json
from genrec_bench.registry import register_method
from genrec_bench.training.batching import length_grouped_batches
from genrec_bench.training.budget import TrainingClock
from genrec_bench.training.distributed import world
from genrec_bench.training.generator_config import EVERY_PREFIX, GeneratorTrainingConfig
from genrec_bench.training.loop import Schedule, run_epochs
from genrec_bench.training.precision import training_autocast
from genrec_bench.training.seeding import seed_everything

log = logging.getLogger(__name__)

PHASES = ("tokenizer", "generator", "joint")
SIA_LOGITS = ("distance", "negative-distance")


@dataclass(frozen=True)
class ETEGRecConfig:
    """Attributes:
    collaborative: the SASRec whose item table the tokenizer reads (ETEGRec: 256-d).
    rqvae: tokenizer architecture and its pre-training settings (official: MLP 512-256,
        latent 128, 3 x 256 codes, beta 0.25; pre-training lr 1e-3, wd 1e-4, batch 1024,
        10,000 epochs).
    dedup_codes: size of the disambiguation level (official 256).
    generator: T5 sizes (official 6+6 layers, d_model 128, d_ff 512, 4 heads x 64).
    training: stage 1's generator training, validation and decoding, shared with the other
        semantic-ID methods (official: 50 history items, every prefix, lr 5e-3, weight decay
        0.05, batch 2048, cosine over 400 epochs, clip 1 per part, patience 15 validations
        every 2 epochs, beam 20); ``training.lr`` is the generator's rate, and the cosine's
        progress is the larger of the step share and the time-budget share.
    sia_weight, psa_weight: mu and lambda (official 1e-4 and 3e-4).
    sia_logits: how a level's squared distances ``d [N, K]`` become the logits of its code
        distribution: ``distance`` (official ``vq.py``: ``logit = d``, so the farthest code is
        the likeliest) or ``negative-distance`` (the paper's ``P(k) ~ exp(-d_k)``).
    sia_temperature: the logits are divided by it (official: none, i.e. 1).
    psa_temperature: InfoNCE temperature (0.07).
    vq_weight: weight of the tokenizer loss (1); alpha: weight of the quantisation term in it (1).
    cycle: epoch ``e`` (0-based) trains the tokenizer when ``e % cycle == 0`` (official 2).
    warm_epochs: SIA/PSA are off before this epoch (official 10).
    use_sia, use_psa: ablation switches (False = the loss is not computed).
    alternate: False = joint training (both parts every epoch, sum of all losses).
    end_to_end: False = the pre-trained tokenizer stays frozen and only the generator
        trains, with the code loss only (SIA/PSA need the joint model and are off).
    lr_tokenizer: the tokenizer's AdamW rate in stage 1 (official 1e-4).
    warmup_steps: generator warm-up in optimizer steps (tokenizer: divided by ``cycle``);
        ``training.warmup_epochs`` must stay 0.
    stage2_lr, stage2_epochs, stage2_patience, stage2_eval_every, stage2_time_budget_s:
        stage 2 (official: 5e-4 cosine without warm-up, 100 epochs, patience 10, every epoch);
        ``stage2_epochs = 0`` skips stage 2.
    constrained: decode with the prefix trie (False = official, unconstrained).
    selection_metric: validation metric for epoch selection.
    """

    collaborative: CollaborativeEmbeddingConfig = field(
        default_factory=lambda: CollaborativeEmbeddingConfig(dim=256))
    rqvae: RQVAEConfig = field(default_factory=lambda: RQVAEConfig(
        hidden=(512, 256), latent_dim=128, levels=3, codebook_size=256, beta=0.25, lr=1e-3,
        weight_decay=1e-4, batch_size=1024, epochs=10000))
    dedup_codes: int = 256
    generator: T5GeneratorConfig = field(default_factory=lambda: T5GeneratorConfig(
        d_model=128, d_ff=512, num_layers=6, num_decoder_layers=6, num_heads=4, d_kv=64,
        dropout=0.1, feed_forward_proj="relu"))
    training: GeneratorTrainingConfig = field(default_factory=lambda: GeneratorTrainingConfig(
        max_history=50, training_prefixes="all", lr=5e-3, lr_schedule="cosine", weight_decay=0.05,
        batch_size=2048, grad_clip=1.0, max_epochs=400, patience=15, eval_every=2))
    sia_weight: float = 1e-4
    psa_weight: float = 3e-4
    sia_logits: str = "distance"
    sia_temperature: float = 1.0
    psa_temperature: float = 0.07
    vq_weight: float = 1.0
    alpha: float = 1.0
    cycle: int = 2
    warm_epochs: int = 10
    use_sia: bool = True
    use_psa: bool = True
    alternate: bool = True
    end_to_end: bool = True
    lr_tokenizer: float = 1e-4
    warmup_steps: int = 2000
    stage2_lr: float = 5e-4
    stage2_epochs: int = 100
    stage2_patience: int = 10
    stage2_eval_every: int = 1
    stage2_time_budget_s: float = 0.0
    constrained: bool = False

    def __post_init__(self) -> None:
        checks.one_of(self, "sia_logits", SIA_LOGITS)
        checks.positive_ints(self, "dedup_codes", "cycle", "stage2_patience", "stage2_eval_every")
        if self.training.warmup_epochs:
            raise ConfigError("ETEGRecConfig.training.warmup_epochs must be 0: ETEGRec warms up over "
                              "optimizer steps (warmup_steps), as the official code does")
        for name in ("warm_epochs", "warmup_steps", "stage2_epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"ETEGRecConfig.{name} must be an int >= 0, got {value!r}")
        for name in ("use_sia", "use_psa", "alternate", "end_to_end", "constrained"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"ETEGRecConfig.{name} must be a bool, got {getattr(self, name)!r}")
        if self.cycle < 2 and self.alternate and self.end_to_end:
            raise ConfigError("ETEGRecConfig.cycle must be >= 2 when alternating (1 = tokenizer epochs only)")
        for name in ("sia_weight", "psa_weight", "vq_weight", "alpha"):
            checks.in_range(self, name, 0.0, float("inf"))
        checks.in_range(self, "psa_temperature", 1e-6, float("inf"))
        checks.in_range(self, "sia_temperature", 1e-6, float("inf"))
        for name in ("lr_tokenizer", "stage2_lr"):
            checks.in_range(self, name, 1e-12, 10.0)
        checks.in_range(self, "stage2_time_budget_s", 0.0, float("inf"))


# --------------------------------------------------------------------------- losses


def code_loss(level_logits: list[torch.Tensor], codes: torch.Tensor) -> torch.Tensor:
    """Token cross-entropy of the target codes, averaged over the ``B x L`` tokens.

    Args:
        level_logits: ``L`` tensors ``[B, K_l]``: logits of level ``l`` over its own codes.
        codes: int64 ``[B, L]`` the target's code of every level (``0..K_l-1``).
    Returns:
        scalar: mean over levels and rows of ``-log softmax(logits_l)[code_l]``.
    """
    per_level = [F.cross_entropy(logits, codes[:, level], reduction="none")
                 for level, logits in enumerate(level_logits)]
    return torch.stack(per_level, dim=1).mean()


def symmetric_kl(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    """``KL(P || Q) + KL(Q || P)`` with ``P = softmax(p_logits)``, ``Q = softmax(q_logits)``.

    Args:
        p_logits, q_logits: ``[N, K]``.
    Returns:
        scalar: the sum of both directions, averaged over the ``N`` rows (official
        ``F.kl_div(..., reduction="batchmean")`` once per direction).
    """
    log_p = F.log_softmax(p_logits, dim=-1)
    log_q = F.log_softmax(q_logits, dim=-1)
    kl_pq = (log_p.exp() * (log_p - log_q)).sum(-1)
    kl_qp = (log_q.exp() * (log_q - log_p)).sum(-1)
    return (kl_pq + kl_qp).mean()


def sia_logits(distances: torch.Tensor, kind: str = "distance", temperature: float = 1.0) -> torch.Tensor:
    """Logits of a level's code distribution from its squared distances ``[N, K]``.

    ``distance``: the distances themselves (official ``vq.py`` returns ``logit = d`` and
    ``trainer.py`` feeds it to ``log_softmax``); ``negative-distance``: ``-d`` (the paper's
    formula). Both are divided by ``temperature`` (official: 1).
    """
    sign = 1.0 if kind == "distance" else -1.0
    return distances * (sign / temperature)


def sia_loss(sequence_distances: list[torch.Tensor], item_distances: list[torch.Tensor], *,
             kind: str = "distance", temperature: float = 1.0) -> torch.Tensor:
    """Sequence-item alignment: symmetric KL between the code distributions of the sequence
    (``enc_adapter`` of the mean encoder state) and of its target item, per level.

    Args:
        sequence_distances, item_distances: ``L`` tensors ``[N, K]`` of squared distances to
            each level's codebook along the official residual path (:func:`quantize`).
        kind, temperature: see :func:`sia_logits`.
    Returns:
        scalar: ``mean_l symmetric_kl(logits(d_seq_l), logits(d_item_l))``; the official
        ``F.kl_div(..., "batchmean")`` over the ``[N * L, K]`` view is this mean over levels
        and rows, once per direction, the two directions summed.
    """
    terms = [symmetric_kl(sia_logits(seq, kind, temperature), sia_logits(item, kind, temperature))
             for seq, item in zip(sequence_distances, item_distances, strict=True)]
    return torch.stack(terms).mean()


def info_nce(queries: torch.Tensor, keys: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE with in-batch negatives: row ``i`` of ``queries`` must pick row ``i`` of ``keys``.

    Args:
        queries, keys: ``[N, d]``; similarity = cosine / ``temperature``.
    Returns:
        scalar: mean over rows of ``-log softmax_j(cos(q_i, k_j) / t)[i]``.
    """
    sims = F.normalize(queries, dim=-1) @ F.normalize(keys, dim=-1).T / temperature
    return F.cross_entropy(sims, torch.arange(queries.shape[0], device=queries.device))


def psa_loss(reconstruction: torch.Tensor, decoder_latent: torch.Tensor, temperature: float) -> torch.Tensor:
    """Preference-semantic alignment: symmetric InfoNCE between the tokenizer's reconstruction
    of the target ``[N, d]`` and ``dec_adapter(first decoder state)`` ``[N, d]``.

    Returns:
        scalar: ``info_nce(recon, dec) + info_nce(dec, recon)`` (official: summed).
    """
    return info_nce(reconstruction, decoder_latent, temperature) + info_nce(decoder_latent, reconstruction, temperature)


def vq_loss(reconstruction: torch.Tensor, inputs: torch.Tensor, quantization: torch.Tensor,
            alpha: float = 1.0) -> torch.Tensor:
    """Tokenizer loss: ``MSE(reconstruction [N, d], inputs [N, d]) + alpha * quantization``.

    ``quantization`` (scalar) = per-level ``codebook + beta * commitment`` MSE averaged over
    levels (:attr:`QuantizerPass.quantization`).
    """
    return F.mse_loss(reconstruction, inputs) + alpha * quantization


@dataclass
class QuantizerPass:
    """Attributes:
    quantized: ``[N, D]`` the sum of the chosen codes, passed straight through to ``z``.
    quantization: scalar, mean over levels of ``MSE(e_l, sg(r_l)) + beta MSE(sg(e_l), r_l)``.
    distances: ``L`` tensors ``[N, K]``: squared distances of level ``l``'s residual to its
        codebook (the code logits of SIA, :func:`sia_logits`).
    codes: int64 ``[N, L]`` nearest codes.
    """

    quantized: torch.Tensor
    quantization: torch.Tensor
    distances: list[torch.Tensor]
    codes: torch.Tensor


def quantize(tokenizer: RQVAE, latents: torch.Tensor) -> QuantizerPass:
    """Residual quantisation of ``latents [N, D]`` along the official path (``vq.py``,
    ``ResidualVectorQuantizer.forward``): each level subtracts its straight-through output
    from the residual, so the next residual has the value ``r_l - e_l`` but NO gradient:
    later levels' distances and commitment terms reach neither the encoder nor the earlier
    codebooks (level ``l``'s distances train only codebook ``l`` beyond level 1).
    """
    beta = tokenizer.config.beta
    residual, quantized = latents, torch.zeros_like(latents)
    losses, distances, codes = [], [], []
    for book in tokenizer.codebooks:
        d = (residual ** 2).sum(1, keepdim=True) + (book ** 2).sum(1) - 2 * residual @ book.T
        index = d.argmin(dim=1)
        chosen = book[index]
        losses.append(F.mse_loss(chosen, residual.detach()) + beta * F.mse_loss(chosen.detach(), residual))
        passed = residual + (chosen - residual).detach()
        quantized = quantized + passed
        residual = residual - passed
        distances.append(d)
        codes.append(index)
    return QuantizerPass(quantized=quantized, quantization=torch.stack(losses).mean(), distances=distances,
                         codes=torch.stack(codes, 1))


def scheduled_lr(base: float, step: int, warmup: int, total: int, schedule: str, *,
                 min_progress: float = 0.0) -> float:
    """transformers' ``get_{cosine,constant}_schedule_with_warmup`` at optimizer step ``step``;
    the cosine's progress is at least ``min_progress`` (the time budget's share spent)."""
    if step < warmup:
        return base * step / max(1, warmup)
    if schedule == "constant":
        return base
    progress = max((step - warmup) / max(1, total - warmup), min_progress)
    return base * max(0.0, 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0))))


# --------------------------------------------------------------------------- model


def _init_like_official(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        module.weight.data.normal_(mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        module.bias.data.zero_()


@dataclass
class GeneratorOutput:
    """Attributes:
    level_logits: ``L`` tensors ``[B, K_l]`` (teacher-forced).
    encoder_mean: ``[B, d_model]`` mean of the encoder states over real tokens.
    decoder_first: ``[B, d_model]`` the first decoder state (position of the start token).
    """

    level_logits: list[torch.Tensor]
    encoder_mean: torch.Tensor
    decoder_first: torch.Tensor


class ETEGRecNet(nn.Module):
    """Tokenizer + generator + adapters, and the current item IDs (a buffer, so that early
    stopping and checkpoints keep the IDs with the tokenizer that made them).

    Args:
        input_dim: item embedding size (256).
        n_items: catalogue size (items ``1..n_items``).
        config: the method config.
    """

    def __init__(self, input_dim: int, n_items: int, config: ETEGRecConfig) -> None:
        super().__init__()
        self.level_sizes = (config.rqvae.codebook_size,) * config.rqvae.levels + (config.dedup_codes,)
        layout = SemanticIds(codes=np.zeros((1, len(self.level_sizes)), dtype=np.int64), level_sizes=self.level_sizes)
        self.tokenizer = RQVAE(input_dim, config.rqvae)
        self.t5 = build_t5(config.generator, layout.vocab_size)
        self.precision = config.generator.train_precision
        self.t5.config.scale_decoder_outputs = False  # official logits = state . embeddings
        self.enc_adapter = nn.Linear(config.generator.d_model, config.rqvae.latent_dim)
        self.dec_adapter = nn.Linear(config.generator.d_model, input_dim)
        for part in (self.t5, self.enc_adapter, self.dec_adapter):
            part.apply(_init_like_official)
        self.register_buffer("level_offsets", torch.from_numpy(layout.level_offsets), persistent=False)
        self.offsets = [int(o) for o in layout.level_offsets]
        self.register_buffer("item_codes", torch.zeros(n_items + 1, len(self.level_sizes), dtype=torch.long))

    def generator_parameters(self) -> list[nn.Parameter]:
        return [*self.t5.parameters(), *self.enc_adapter.parameters(), *self.dec_adapter.parameters()]

    def generator_modules(self) -> list[nn.Module]:
        return [self.t5, self.enc_adapter, self.dec_adapter]

    def item_tokens(self, items: torch.Tensor) -> torch.Tensor:
        """Token ids ``[..., L]`` of ``items [...]``; padding items (0) give token 0."""
        tokens = self.item_codes[items] + self.level_offsets
        return torch.where(items.unsqueeze(-1) == 0, torch.zeros_like(tokens), tokens)

    def encoder_inputs(self, history: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """History items ``[B, H]`` -> tokens ``[B, H * L]`` and attention mask."""
        tokens = self.item_tokens(history).reshape(history.shape[0], -1)
        return tokens, (tokens != 0).long()

    def generate_forward(self, history: torch.Tensor, targets: torch.Tensor) -> GeneratorOutput:
        """Teacher-forced pass: ``history [B, H]`` items, ``targets [B]`` items."""
        tokens, mask = self.encoder_inputs(history)
        labels = self.item_tokens(targets)                                        # [B, L]
        decoder_in = torch.cat([torch.zeros_like(labels[:, :1]), labels[:, :-1]], dim=1)
        with training_autocast(tokens.device, self.precision):
            encoded = self.t5.encoder(input_ids=tokens, attention_mask=mask).last_hidden_state
            decoded = self.t5.decoder(input_ids=decoder_in, encoder_hidden_states=encoded,
                                      encoder_attention_mask=mask).last_hidden_state   # [B, L, d]
            logits = self.t5.lm_head(decoded)                                         # tied, unscaled
        encoded, decoded, logits = encoded.float(), decoded.float(), logits.float()
        level_logits = [logits[:, level, offset:offset + size]
                        for level, (offset, size) in enumerate(zip(self.offsets, self.level_sizes, strict=True))]
        weights = mask.unsqueeze(-1).to(encoded.dtype)
        encoder_mean = (encoded * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return GeneratorOutput(level_logits=level_logits, encoder_mean=encoder_mean, decoder_first=decoded[:, 0])

    @torch.no_grad()
    def tokenize(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Nearest-code RQ-VAE codes ``[N, levels]`` of ``embeddings [N, d]`` (no disambiguation)."""
        _, codes, _, _ = self.tokenizer.quantize(self.tokenizer.encoder(embeddings))
        return codes


class _PerLevelSoftmax:
    """A beam-search step whose level-``l`` log-probabilities are normalised over level ``l``'s
    codes only (the official per-level heads); the ``l``-th call decodes level ``l``."""

    def __init__(self, step, level_offsets: torch.Tensor, level_sizes: tuple[int, ...]) -> None:
        self.step, self.offsets, self.sizes, self.calls = step, [int(o) for o in level_offsets], level_sizes, 0

    def __call__(self, tokens: torch.Tensor, parents: torch.Tensor | None) -> torch.Tensor:
        log_probs = self.step(tokens, parents)
        start, size = self.offsets[self.calls], self.sizes[self.calls]
        self.calls += 1
        out = torch.full_like(log_probs, -torch.inf)
        out[..., start:start + size] = torch.log_softmax(log_probs[..., start:start + size], dim=-1)
        return out


# --------------------------------------------------------------------------- artifacts


def pretrained_tokenizer(embeddings: np.ndarray, config: RQVAEConfig, seed: int,
                         device: torch.device) -> tuple[RQVAE, dict]:
    """The RQ-VAE pre-trained on ``embeddings [n, d]`` (rows = items 1..n) with ``fit_rq_vae``;
    cached per (embeddings, config, seed) and loaded strictly."""
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    identity = {"kind": "etegrec-rqvae-pretrain", "config": asdict(config), "seed": seed, "loss": "mse-mean",
                "embeddings_sha256_16": hashlib.sha256(embeddings.tobytes()).hexdigest()[:16],
                "shape": list(embeddings.shape)}
    identity = json.loads(json.dumps(identity))  # as it reads back (tuples become lists)
    key = artifact_key(identity)
    path = cache_dir() / f"etegrec-rqvae-{key}.pt"
    meta = path.with_suffix(".json")
    model = RQVAE(embeddings.shape[1], config).to(device)
    if path.exists() and meta.exists():
        info = json.loads(meta.read_text())
        if info.get("identity") != identity:
            raise ConfigError(f"{meta}: cached tokenizer was made for another config or data")
        model.load_state_dict(torch.load(path, map_location=device, weights_only=True), strict=True)
        return model.eval(), {**info, "cache_file": path.name}
    hooks = RQVAEHooks(dim_reduction="mean", level_reduction="mean")  # official F.mse_loss means
    _, info, trained = fit_rq_vae(embeddings, config, seed, device, hooks=hooks)
    model.load_state_dict(trained.state_dict(), strict=True)
    info = {"identity": identity, **info}
    if world().is_main:
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        atomic_write_bytes(path, buffer.getvalue())
        atomic_write_json(meta, info)
    return model.eval(), {**info, "cache_file": path.name}


# --------------------------------------------------------------------------- method


class ETEGRec(Recommender):
    """ETEGRec; the registered variants below only change the config's switches."""

    def build(self, embeddings: np.ndarray) -> None:
        """Set up the model from the item table ``embeddings [n_items + 1, d]`` (row 0 = padding):
        pre-train (or load) the tokenizer, build the generator, compute every item's ID."""
        cfg: ETEGRecConfig = self.config
        tokenizer, self.pretrain_info = pretrained_tokenizer(embeddings[1:], cfg.rqvae, self.seed, self.device)
        seed_everything(self.seed)  # the generator's initialisation does not depend on the cache
        self.net = ETEGRecNet(embeddings.shape[1], embeddings.shape[0] - 1, cfg).to(self.device)
        self.net.tokenizer.load_state_dict(tokenizer.state_dict(), strict=True)
        self.semantic = torch.from_numpy(np.asarray(embeddings, dtype=np.float32)).to(self.device)
        self._decode_codes: torch.Tensor | None = None
        self._decode_counts = [0, 0]
        self.pretrained_diagnostics = self.refresh_codes()
        if self.pretrained_diagnostics["levels"][0]["codes_used"] < 2:
            raise GenRecError("etegrec: the pre-trained tokenizer uses a single first-level code "
                              "(collapsed or not loaded); refusing to train on it")

    # ---- IDs

    @torch.no_grad()
    def refresh_codes(self) -> dict:
        """Recompute every item's ID from the current tokenizer; returns code diagnostics."""
        cfg: ETEGRecConfig = self.config
        codes = self.net.tokenize(self.semantic[1:]).cpu().numpy()
        full, largest = add_dedup_level(codes)
        if largest > cfg.dedup_codes:
            raise ConfigError(f"etegrec: {largest} items share one code tuple, more than dedup_codes="
                              f"{cfg.dedup_codes} (increase it or the codebooks)")
        self.net.item_codes[1:] = torch.from_numpy(full).to(self.device)
        return code_diagnostics(codes, self.net.level_sizes[:-1])

    def _sync_decoding(self) -> None:
        """(Re)build the trie and the code -> item lookup when the IDs changed (training,
        early-stopping restores, checkpoint loads all change the buffer)."""
        codes = self.net.item_codes
        if self._decode_codes is not None and torch.equal(codes, self._decode_codes):
            return
        self._decode_codes = codes.clone()
        body = codes[1:].cpu().numpy()
        sizes = self.net.level_sizes
        self.ids = SemanticIds(codes=codes.cpu().numpy(), level_sizes=sizes, dedup_level=True)
        self.trie = PrefixTrie.build(body, sizes).to(self.device) if self.config.constrained else None
        multipliers = np.concatenate([np.cumprod(np.asarray(sizes[::-1], dtype=np.int64))[::-1][1:], [1]])
        self._key_multipliers = torch.from_numpy(multipliers).to(self.device)
        keys = torch.from_numpy(body @ multipliers).to(self.device)
        self._sorted_keys, order = torch.sort(keys)
        self._sorted_items = order + 1

    def _codes_to_items(self, codes: torch.Tensor) -> torch.Tensor:
        """``[B, W, L]`` codes -> item ids (0 = no item has this ID)."""
        key = (codes * self._key_multipliers).sum(-1)
        position = torch.searchsorted(self._sorted_keys, key).clamp(max=self._sorted_keys.shape[0] - 1)
        hit = self._sorted_keys[position] == key
        return torch.where(hit, self._sorted_items[position], torch.zeros_like(key))

    # ---- schedule

    def phase(self, epoch_index: int) -> str:
        """``tokenizer``, ``generator`` or ``joint`` for stage-1 epoch ``epoch_index`` (0-based)."""
        cfg: ETEGRecConfig = self.config
        if not cfg.end_to_end:
            return "generator"
        if not cfg.alternate:
            return "joint"
        return "tokenizer" if epoch_index % cfg.cycle == 0 else "generator"

    def loss_weights(self, epoch_index: int, phase: str) -> dict[str, float]:
        """Weights of ``vq``, ``code``, ``sia``, ``psa`` in stage-1 epoch ``epoch_index``."""
        cfg: ETEGRecConfig = self.config
        warm = epoch_index >= cfg.warm_epochs
        return {"vq": cfg.vq_weight if phase in ("tokenizer", "joint") else 0.0,
                "code": 1.0 if phase in ("generator", "joint") else 0.0,
                "sia": cfg.sia_weight if (warm and cfg.use_sia and cfg.end_to_end) else 0.0,
                "psa": cfg.psa_weight if (warm and cfg.use_psa and cfg.end_to_end) else 0.0}

    def _set_trainable(self, phase: str) -> None:
        train_tokenizer, train_generator = phase in ("tokenizer", "joint"), phase in ("generator", "joint")
        self.net.tokenizer.requires_grad_(train_tokenizer)
        for module in self.net.generator_modules():
            module.requires_grad_(train_generator)
            if not train_generator:
                module.eval()

    # ---- losses of one batch

    def batch_losses(self, history: np.ndarray, targets: np.ndarray, phase: str,
                     weights: dict[str, float]) -> dict[str, torch.Tensor]:
        """The unweighted losses of one batch that have a non-zero weight in ``weights``.

        Args:
            history: int64 ``[B, H]`` history items (0-padded); targets: int64 ``[B]``.
            phase: which part(s) get gradients.
        Returns:
            a subset of ``{"vq", "code", "sia", "psa"}`` -> scalar tensors.
        """
        cfg: ETEGRecConfig = self.config
        net, dev = self.net, self.device
        train_tokenizer, train_generator = phase in ("tokenizer", "joint"), phase in ("generator", "joint")
        history_t = torch.from_numpy(history).to(dev)
        targets_t = torch.from_numpy(targets).to(dev)
        _, first = np.unique(targets, return_index=True)
        unique = torch.from_numpy(first).to(dev)                      # first row of every target
        x_unique = self.semantic[targets_t[unique]]
        sia_on, psa_on = weights.get("sia", 0.0) > 0, weights.get("psa", 0.0) > 0
        vq_on = weights.get("vq", 0.0) > 0 and train_tokenizer
        out: dict[str, torch.Tensor] = {}
        item_pass = reconstruction = None
        if vq_on or sia_on or psa_on:  # one tokenizer pass over the unique targets (official model_id(x))
            with torch.set_grad_enabled(train_tokenizer and torch.is_grad_enabled()):
                item_pass = quantize(net.tokenizer, net.tokenizer.encoder(x_unique))
                reconstruction = net.tokenizer.decoder(item_pass.quantized)
        if vq_on:
            out["vq"] = vq_loss(reconstruction, x_unique, item_pass.quantization, cfg.alpha)
        if not (train_generator or sia_on or psa_on):
            return out
        rows = slice(None) if train_generator else unique             # tokenizer epochs: aligned rows only
        with torch.set_grad_enabled(train_generator and torch.is_grad_enabled()):
            generated = net.generate_forward(history_t[rows], targets_t[rows])
        if train_generator and weights.get("code", 0.0) > 0:
            labels = net.item_codes[targets_t]
            out["code"] = code_loss(generated.level_logits, labels)
        if not (sia_on or psa_on):
            return out
        pick = unique if train_generator else slice(None)
        if sia_on:
            sequence_pass = quantize(net.tokenizer, net.enc_adapter(generated.encoder_mean[pick]))
            out["sia"] = sia_loss(sequence_pass.distances, item_pass.distances, kind=cfg.sia_logits,
                                  temperature=cfg.sia_temperature)
        if psa_on:
            out["psa"] = psa_loss(reconstruction, net.dec_adapter(generated.decoder_first[pick]), cfg.psa_temperature)
        return out

    # ---- training

    def _optimizer(self, steps_per_epoch: int, stage: int) -> torch.optim.Optimizer:
        cfg: ETEGRecConfig = self.config
        if stage == 2:
            groups = [{"params": self.net.generator_parameters(), "lr": cfg.stage2_lr, "name": "generator",
                       "base_lr": cfg.stage2_lr, "warmup": 0, "total": cfg.stage2_epochs * steps_per_epoch,
                       "schedule": "cosine", "step": 0}]
        else:
            total = cfg.training.max_epochs * steps_per_epoch
            groups = [{"params": self.net.generator_parameters(), "lr": cfg.training.lr, "name": "generator",
                       "base_lr": cfg.training.lr, "warmup": cfg.warmup_steps, "total": total,
                       "schedule": cfg.training.lr_schedule, "step": 0},
                      {"params": list(self.net.tokenizer.parameters()), "lr": cfg.lr_tokenizer, "name": "tokenizer",
                       "base_lr": cfg.lr_tokenizer, "warmup": cfg.warmup_steps // cfg.cycle,
                       "total": total // cfg.cycle, "schedule": cfg.training.lr_schedule, "step": 0}]
        return torch.optim.AdamW(groups, weight_decay=cfg.training.weight_decay)

    def _step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, phase: str,
              time_progress: float = 0.0) -> None:
        """One AdamW step of the part(s) ``phase`` trains, each with its own schedule and clip;
        ``time_progress`` (the share of the stage's time budget spent) advances the cosine
        when it is ahead of the step count."""
        cfg: ETEGRecConfig = self.config
        trained = {"tokenizer": ("tokenizer",), "generator": ("generator",),
                   "joint": ("generator", "tokenizer")}[phase]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for group in optimizer.param_groups:
            if group["name"] in trained:
                if cfg.training.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(group["params"], cfg.training.grad_clip)
                group["lr"] = scheduled_lr(group["base_lr"], group["step"], group["warmup"], group["total"],
                                           group["schedule"], min_progress=time_progress)
                group["step"] += 1
        optimizer.step()  # parameters of a frozen part have no gradient and are skipped

    def train_one_epoch(self, epoch_index: int, train, rng: np.random.Generator,
                        optimizer: torch.optim.Optimizer, *, stage: int = 1,
                        samples: TrainingSamples | None = None,
                        clock: TrainingClock | None = None) -> dict:
        """One epoch of stage ``stage`` (stage 2: generator, code loss only). Returns statistics.
        ``clock``: the stage's budget clock, whose time share advances the cosine."""
        cfg: ETEGRecConfig = self.config
        phase = "generator" if stage == 2 else self.phase(epoch_index)
        weights = ({"vq": 0.0, "code": 1.0, "sia": 0.0, "psa": 0.0} if stage == 2
                   else self.loss_weights(epoch_index, phase))
        self._set_trainable(phase)
        training = cfg.training
        samples = samples if samples is not None else training_samples(train, training, rng)
        batches = epoch_batches(samples.widths, training, rng)
        sums: dict[str, float] = {}
        total, steps = 0.0, 0
        for i, batch in enumerate(batches):
            time_progress = 0.0 if clock is None else clock.progress(epoch_index + 1, i / len(batches))
            history = samples.history(train, batch)
            targets = samples.targets(train, batch)
            losses = self.batch_losses(history, targets, phase, weights)
            loss = sum(weights[name] * value for name, value in losses.items())
            if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
                continue  # nothing to train in this batch (e.g. all weights zero)
            self._step(optimizer, loss, phase, time_progress)
            total += loss.item()
            steps += 1
            for name, value in losses.items():
                sums[name] = sums.get(name, 0.0) + value.item()
        means = {k: v / max(steps, 1) for k, v in sums.items()}
        stats = {"stage": stage, "phase": phase, "loss": total / max(steps, 1), "steps": steps,
                 "samples": len(samples), **{f"{k}_loss": v for k, v in means.items()},
                 **{f"{k}_weighted": weights[k] * v for k, v in means.items()},
                 **{f"w_{k}": v for k, v in weights.items()}}
        if phase in ("tokenizer", "joint"):
            diagnostics = self.refresh_codes()
            stats["collision_rate"] = diagnostics["collision_rate"]
            stats["codes_used"] = [level["codes_used"] for level in diagnostics["levels"]]
        return stats

    def _counting_validator(self, validator: Validator | None, stage: int):
        if validator is None:
            return None

        def validate(model: Recommender) -> float:
            self._decode_counts = [0, 0]
            value = validator(model)
            invalid, returned = self._decode_counts
            self.invalid_by_validation.append({"stage": stage, "epoch": self._current_epoch,
                                               "invalid_id_rate": invalid / max(returned, 1)})
            return value

        return validate

    def fit(self, splits: SequenceSplits, validator: Validator | None = None) -> FitReport:
        cfg: ETEGRecConfig = self.config
        if world().distributed:
            raise ConfigError("etegrec trains in a single process (its alternating freezing does not "
                              "fit DistributedDataParallel); run it without torchrun")
        collaborative = collaborative_item_embeddings(splits, cfg.collaborative, seed=self.seed,
                                                      device=self.device, validator=validator)
        self.build(collaborative.table)
        rng = seed_everything(self.seed)
        train = splits.train
        # every prefix: drawn once; one random prefix or window per user: drawn every epoch
        fixed = training_samples(train, cfg.training, rng) if cfg.training.training_prefixes in EVERY_PREFIX else None
        n_samples = len(fixed) if fixed is not None else int(np.count_nonzero(train.lengths >= 2))
        steps_per_epoch = sum(1 for _ in length_grouped_batches(np.zeros(n_samples, dtype=np.int64),
                                                                cfg.training.batch_size, np.random.default_rng(0)))
        extra: dict = {}
        validator = selection_validator(validator, cfg.training, self.seed, extra)
        self.invalid_by_validation: list[dict] = []
        self._current_epoch = 0
        stage1_path = stage2_path = None
        if self.checkpoint_path is not None:
            stage2_path = Path(self.checkpoint_path)
            stage1_path = stage2_path.with_name(f"{stage2_path.stem}-stage1{stage2_path.suffix}")

        # stage 1: alternating (or joint / generator-only) training
        if stage2_path is not None and stage2_path.exists() and not stage1_path.exists():
            stage1 = FitReport(stopped_by="resumed")
            extra["stage1"] = {"note": "finished in an earlier process; stage 2 resumes from its checkpoint"}
        else:
            optimizer = self._optimizer(steps_per_epoch, stage=1)
            schedule, clock = stage_schedule(cfg.training)

            def stage1_epoch(epoch: int) -> dict:
                self._current_epoch = epoch
                return self.train_one_epoch(epoch - 1, train, rng, optimizer, stage=1, samples=fixed, clock=clock)

            stage1 = run_epochs(self, stage1_epoch, self._counting_validator(validator, 1), schedule,
                                optimizer=optimizer, generators={"data_order": rng}, checkpoint_path=stage1_path,
                                clock=clock)
            extra["stage1"] = {"best_epoch": stage1.best_epoch, "best_valid": stage1.best_valid,
                               "stopped_by": stage1.stopped_by, "epochs": len(stage1.epochs)}
            log.info("etegrec stage 1: best epoch %s (valid %s), stopped by %s", stage1.best_epoch,
                     stage1.best_valid, stage1.stopped_by)
        final_diagnostics = self.refresh_codes_diagnostics()

        # stage 2: tokenizer and IDs fixed, generator fine-tuned with the code loss
        report = stage1
        if cfg.stage2_epochs > 0:
            optimizer = self._optimizer(steps_per_epoch, stage=2)

            schedule = Schedule(max_epochs=cfg.stage2_epochs, patience=cfg.stage2_patience,
                                eval_every=cfg.stage2_eval_every, time_budget_s=cfg.stage2_time_budget_s,
                                max_valid_share=cfg.training.max_valid_share)
            clock2 = TrainingClock(cfg.stage2_epochs, cfg.stage2_time_budget_s)

            def stage2_epoch(epoch: int) -> dict:
                self._current_epoch = epoch
                return self.train_one_epoch(epoch - 1, train, rng, optimizer, stage=2, samples=fixed, clock=clock2)

            report = run_epochs(self, stage2_epoch, self._counting_validator(validator, 2), schedule,
                                optimizer=optimizer, generators={"data_order": rng}, checkpoint_path=stage2_path,
                                clock=clock2)
            extra["stage2"] = {"best_epoch": report.best_epoch, "best_valid": report.best_valid,
                               "stopped_by": report.stopped_by, "epochs": len(report.epochs)}
            report.epochs = stage1.epochs + report.epochs
        if stage1_path is not None:
            stage1_path.unlink(missing_ok=True)
        self._set_trainable("generator")
        self.net.eval()
        selected_stage = 2 if cfg.stage2_epochs > 0 else 1
        invalid = [v for v in self.invalid_by_validation
                   if v["stage"] == selected_stage and v["epoch"] == report.best_epoch]
        collaborative_info = {k: v for k, v in collaborative.info.items() if k != "identity"}
        report.extra.update(extra)
        report.extra.update({
            "selected": {"stage": selected_stage, "epoch": report.best_epoch},
            "collaborative_embeddings": collaborative_info,
            "tokenizer_pretraining": {k: v for k, v in self.pretrain_info.items() if k != "identity"},
            "semantic_ids": {"level_sizes": list(self.net.level_sizes), "diagnostics": final_diagnostics,
                             "pretrained_diagnostics": self.pretrained_diagnostics},
            "decoding": "trie-constrained" if cfg.constrained else "unconstrained (official)",
            "invalid_id_rate": {"valid_at_selected_epoch": invalid[-1]["invalid_id_rate"] if invalid else None,
                                "by_validation": self.invalid_by_validation},
        })
        return report

    @torch.no_grad()
    def refresh_codes_diagnostics(self) -> dict:
        """Diagnostics of the current IDs' RQ-VAE levels (the buffer, e.g. after a restore)."""
        codes = self.net.item_codes[1:, :-1].cpu().numpy()
        return code_diagnostics(codes, self.net.level_sizes[:-1])

    # ---- inference

    @torch.no_grad()
    def recommend(self, histories: HistoryBatch, k: int, exclude: torch.Tensor | None = None) -> TopK:
        """Beam search (unconstrained by default, as the official code); items of ``exclude``
        are pruned in the trie, or, unconstrained, refused at the last code."""
        cfg: ETEGRecConfig = self.config
        self._sync_decoding()
        history = histories.padded(cfg.training.max_history, align="left", device=self.device)
        tokens, mask = self.net.encoder_inputs(history)
        decoder = SharedEncoderDecoder(self.net.t5)
        decoder.encode(tokens, mask)
        step = _PerLevelSoftmax(decoder.step, self.net.level_offsets, self.net.level_sizes)
        result = beam_search(step, batch_size=tokens.shape[0], level_offsets=self.net.level_offsets,
                             level_sizes=self.net.level_sizes, beam_width=max(cfg.training.beam_width, k),
                             trie=self.trie if cfg.constrained else None,
                             code_to_item=None if cfg.constrained else self._codes_to_items, device=self.device,
                             exclude=None if exclude is None else exclude.to(self.device))
        items, scores = result.items[:, :k], result.scores[:, :k]
        returned = torch.isfinite(scores)
        self._decode_counts[0] += int(((items == 0) & returned).sum())
        self._decode_counts[1] += int(returned.sum())
        return TopK(items=items, scores=scores)


# --------------------------------------------------------------------------- profiles

PROFILES = {
    # seconds on amazon2018-scientific: tiny sizes, 4 stage-1 epochs (2 tokenizer + 2 generator,
    # alignment on from epoch 2) and 1 stage-2 epoch
    "smoke": ETEGRecConfig(
        collaborative=CollaborativeEmbeddingConfig(dim=16, n_layers=1, max_epochs=1, patience=1),
        rqvae=RQVAEConfig(hidden=(32,), latent_dim=8, levels=3, codebook_size=16, epochs=20),
        generator=T5GeneratorConfig(d_model=32, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2, d_kv=16),
        training=GeneratorTrainingConfig(max_history=10, training_prefixes="one-random", lr=1e-3,
                                         lr_schedule="constant", weight_decay=0.05, batch_size=256,
                                         max_epochs=4, patience=2, eval_every=2),
        warm_epochs=2, warmup_steps=0, stage2_lr=1e-3, stage2_epochs=1, stage2_patience=1),
    # 2-core CPU budget on Beauty, about 1 h 50 min in all: stage 1 the official cosine, driven
    # by its 55-minute budget; stage 2 the official patience of 10 epochs (5 validations, one every
    # 2 epochs on the 4,096-user subset), at most 30 epochs or 20 minutes; in both stages a
    # validation that would take the stage over 10 % of its time is skipped
    "cpu": ETEGRecConfig(
        collaborative=CollaborativeEmbeddingConfig(dim=256, time_budget_s=20 * 60),
        rqvae=RQVAEConfig(hidden=(512, 256), latent_dim=128, levels=3, codebook_size=256, beta=0.25,
                          lr=1e-3, weight_decay=1e-4, batch_size=1024, epochs=300),
        generator=T5GeneratorConfig(d_model=128, d_ff=512, num_layers=2, num_decoder_layers=2, num_heads=4,
                                    d_kv=32, dropout=0.1, train_precision="auto"),
        training=GeneratorTrainingConfig(max_history=50, training_prefixes="one-random", lr=1e-3,
                                         lr_schedule="cosine", weight_decay=0.05, batch_size=256,
                                         max_epochs=200, patience=5, eval_every=4, time_budget_s=55 * 60,
                                         max_valid_share=0.10),
        warmup_steps=1000, stage2_epochs=30, stage2_patience=5, stage2_eval_every=2,
        stage2_time_budget_s=20 * 60),
    "paper": ETEGRecConfig(),
}


def _variant(**switches) -> dict[str, ETEGRecConfig]:
    return {name: replace(config, **switches) for name, config in PROFILES.items()}


register_method("etegrec", config=ETEGRecConfig, profiles=PROFILES)(ETEGRec)  # profiles are defined below the class


@register_method("etegrec-no-sia", config=ETEGRecConfig, profiles=_variant(use_sia=False))
class ETEGRecNoSIA(ETEGRec):
    """Ablation "w/o L_SIA"."""


@register_method("etegrec-no-psa", config=ETEGRecConfig, profiles=_variant(use_psa=False))
class ETEGRecNoPSA(ETEGRec):
    """Ablation "w/o L_PSA"."""


@register_method("etegrec-no-align", config=ETEGRecConfig, profiles=_variant(use_sia=False, use_psa=False))
class ETEGRecNoAlign(ETEGRec):
    """Ablation "w/o L_SIA & L_PSA"."""


@register_method("etegrec-joint", config=ETEGRecConfig, profiles=_variant(alternate=False))
class ETEGRecJoint(ETEGRec):
    """Ablation "w/o AT": no alternation, every epoch trains both parts on the sum of the losses."""


@register_method("etegrec-no-ete", config=ETEGRecConfig,
                 profiles=_variant(end_to_end=False, use_sia=False, use_psa=False))
class ETEGRecNoETE(ETEGRec):
    """Ablation "w/o ETE": the pre-trained tokenizer is frozen, the generator is trained alone."""
