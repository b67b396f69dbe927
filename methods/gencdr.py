"""GenCDR (Hu, Lu and Wang, AAAI'26, arXiv 2511.08006): generative cross-domain recommendation
with domain-adaptive semantic tokenization.

Run it on a multi-domain dataset (``--dataset amazon2014-beauty+amazon2014-sports``); on a
single dataset it runs with one domain. Pipeline (paper section 4, in this order):

1. **Universal tokenizer.** Item text -> sentence embedding, per domain (so each domain's
   cached embeddings are reused), then PCA to ``pca_dim`` (512) when the encoder gives more
   dimensions. One RQ-VAE over the items of **all** domains (reference config
   ``rqvae_config.yaml``: hidden [1024, 512], latent 256, 3 levels x 2048 codes, beta 0.25;
   the paper's batch 512 for 100 epochs, where the reference trains 3000 epochs of 8192),
   trained with reconstruction + commitment losses and the paper's **masked token
   modelling** (MTM) loss, added through ``RQVAEHooks.extra_loss``: one random level of every
   item's code tuple is masked and a small context MLP predicts it from the codebook vectors of
   the other levels (logits = negative squared distance of the prediction to that level's
   codebook). The universal encoder, codebooks and decoder are then frozen.
2. **Domain adapters.** One peft LoRA adapter per domain on every ``Linear`` of the frozen
   encoder (paper 5.4: rank 64, alpha 32, dropout 0.05; the reference
   ``quantization_adapter.py`` uses 8, 16, 0.1).
3. **Item-level router** (shared by the domains): a 2-layer MLP (128 hidden, paper 5.4)
   maps the standardised item embedding ``x`` (layer norm, so the router's features vary
   at unit scale) to a Gaussian ``q(h|x) = N(mu, diag sigma^2)`` with a learned per-item
   variance; a sample ``h`` gives ``alpha = sigmoid(w.h + b)`` and
   ``z = (1 - alpha) z_uni + alpha z_spec``. The **VIB** term is ``vib_weight`` x
   ``max(KL(q(h|x) || N(0, I)) - vib_free_nats, 0)`` (free bits, :func:`vib_penalty`): the
   gain of routing an item is small next to its reconstruction error, and a KL at full
   weight pulls ``q(h|x)`` onto the prior, where the gate reads noise and alpha is one
   constant; up to ``vib_free_nats`` (1 nat, enough to send an item to either side) the
   router is free, beyond that the bottleneck holds.
   Adapters and router are trained together, domain by domain inside every epoch, on
   reconstruction + commitment (frozen codebooks and decoder) + the VIB term. The record
   holds each domain's alpha distribution (mean, std, 5-95 % quantiles,
   ``semantic_ids.diagnostics.alpha_per_domain``). An item's codes are the quantised fused
   latent; a disambiguation level (index within identical 3-code groups) makes every ID
   unique.
4. **Decoder-only LM.** A small causal LM (transformers ``Qwen2ForCausalLM`` built from a
   config, random init) whose vocabulary is the semantic-ID tokens (0 = padding, 1 = BOS).
   A user's sequence is ``BOS`` + the codes of its items; the loss is next-token
   cross-entropy over all item tokens. Stages: (base) the LM is trained on every domain
   (stand-in for the pretrained LLM, see below), then frozen; (universal, phase 1)
   ``universal_experts`` peft LoRA adapters, all active together, are trained on every
   domain's users; (domain:<d>, phase 2) one LoRA adapter per domain, on top of the frozen
   base and experts, is trained on that domain's users only.
5. **User-level router:** a 2-layer MLP on the universal model's last hidden state at the
   end of the history gives ``N(mu, sigma^2)`` -> ``gamma``. The mixture is over **items**
   (paper 4.2.2.3): ``P(item) = (1 - gamma) P_uni(item) + gamma P_spec(item)``, each
   ``P(item)`` the product of its code tokens' probabilities, with ``P_uni`` = base +
   experts and ``P_spec`` = base + experts + the user's domain adapter. The router (stage
   ``router``) is trained on this mixture's next-item NLL + ``vib_weight`` x KL with
   everything else frozen, domain by domain inside every epoch.
6. **Domain-aware prefix trie:** one ``PrefixTrie`` per domain over that domain's items; a
   user of domain ``d`` is decoded with ``T_d`` only (beam search, KV caches for both
   models), so no item of another domain is ever returned. A beam's score is the log of the
   item-level mixture of its prefix: each step adds the increase of
   ``log((1 - gamma) P_uni(prefix) + gamma P_spec(prefix))``.

**Selection and budget.** Every LM stage runs in the suite's epoch loop
(``training/loop.py``): it is validated on ``selection_metric`` (Recall@10, the paper's
choice) over a fixed seeded subset of ``validation_users`` validation users, stops after
``patience`` validations without gain, and is restored to its best epoch before the next
stage starts. What a stage's validation decodes with is the model as far as it is built
(``DECODING_MODES``): the base LM alone, then base + experts, then for a domain stage the
domain's adapter on the subset's users of that domain, and for the router stage the whole
model (which the runner's final validation and test see). ``time_budget_s`` covers all LM
stages: the base LM may use up to ``base_budget_share`` of it and stops earlier when its
validation stops improving; every later stage gets what is left in proportion to its
planned work (max epochs x training sequences, :func:`stage_budget`), so time a stage
does not need goes to the stages after it. ``training.stages`` in the record holds each
stage's budget, time spent, epochs, stop reason, selected epoch and validation value.

Assumptions and departures (the paper and its partial code leave these open, or they cannot
run here):

* The paper's backbone is **Qwen2.5-7B** with 4 universal LoRA experts (r 64, alpha 128)
  fine-tuned on H200 GPUs; that cannot run on this machine and the SID vocabulary is new to
  any pretrained LLM anyway. Here the LM is a small Qwen2 architecture from scratch; the
  base stage trains it fully on all domains (the LoRA layers are switched off meanwhile)
  and freezes it, standing in for the pretrained LLM. ``base_epochs=0`` skips it (then the
  LoRA experts sit on a random frozen model).
* Text encoder: the paper uses OpenAI ``text-embedding-3-large`` (3072-d) + PCA to 512;
  here the suite's offline sentence-transformers encoder (all-MiniLM-L6-v2, 384-d, so no PCA
  applies by default). On the Amazon 2014 P5 data the text is the IDGenRec **proxy**.
* The reference RQ-VAE uses **EMA codebooks** (decay 0.99) with dead-code restart; the
  suite's shared RQ-VAE learns codebooks by gradient with dead-code restart and k-means
  init (EMA is not implemented). Its 95/5 item split for RQ-VAE validation is not used.
* MTM: the paper gives no context-model architecture, mask rate or weight; one level per
  item is masked, the context model is a 2-layer MLP, ``mtm_weight`` 0.1. The context
  model's own optimizer steps at the start of the next batch (its gradients come from the
  RQ-VAE loss's backward pass); the last batch's gradients are applied at the next epoch.
  Codes are argmin choices, so the MTM gradient reaches the codebooks and the context model,
  not the encoder directly.
* VIB weights and the router bottleneck size are not given (paper 5.4 names a weight but
  the value is lost in the seed text): ``vib_weight`` 1e-3, bottleneck 16 and the item
  router's 1 free nat are assumed; the user router's KL has no free nats. During training
  ``h`` is sampled (reparameterisation); at inference ``h = mu``.
* The universal experts are summed with equal weight, without a gate: the paper trains them
  "collaboratively" as one set of parameters ``Theta_uni`` and mixes only universal vs
  domain-specific (the user router); it describes no gate among the experts (the reference
  code's unused ``MoE-Training`` block has 2 experts and a balancing loss that no code
  applies).
* gamma is computed once per user from the history and kept for every decoding step
  (user-level, as in the paper); in training it is taken at the end of each target item's
  history inside the sequence.
* Training windows: per epoch one random window of up to ``max_history + 1`` items of
  every user's training sequence (``max_history`` 20).
* Ranking: beam search returns the top-``beam_width`` items, so ranks beyond it are unknown
  ("top-k" evaluation as TIGER).
* No checkpoint/resume of a stopped run: the runner keeps one checkpoint file per run,
  GenCDR has several stages (and a tokenizer before them), so a stopped run starts over.

Ablations of the paper's Table 3 are registered as methods of their own (configuration
switches, not forks): ``gencdr-wo-mtm`` (``mtm_weight`` 0), ``gencdr-wo-item-adapter``
(universal codes only), ``gencdr-wo-specific-expert`` (no phase 2, ``P = P_uni``),
``gencdr-wo-universal-experts`` (phase 1 skipped), ``gencdr-wo-moe-gate`` (``gamma`` = 0.5)
and ``gencdr-wo-prefix-tree`` (unconstrained beams over the whole vocabulary).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genrec_bench import config_checks as checks
from genrec_bench.data.split import SequenceSplits
from genrec_bench.data.types import ItemText
from genrec_bench.errors import ConfigError
from genrec_bench.evaluation import Validator
from genrec_bench.generative.beam_search import beam_search
from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level, code_diagnostics
from genrec_bench.generative.text_embeddings import TextEmbeddingConfig, embed_items
from genrec_bench.generative.tokenizers import RQVAEConfig, fit_rq_vae
from genrec_bench.generative.tokenizers.rq_vae import RQVAE, RQVAEHooks
from genrec_bench.generative.trie import PrefixTrie
from genrec_bench.paths import cache_dir
from genrec_bench.recommender import FitReport, HistoryBatch, Recommender, TopK
from genrec_bench.registry import register_method
from genrec_bench.training.loop import Schedule, adam_step, run_epochs
from genrec_bench.training.seeding import seed_everything

log = logging.getLogger(__name__)
BOS = 1  #: the sequence start token of the LM (token 0 = padding)
USER_ROUTERS = ("vib", "average")
#: what a stage's validation decodes with (``GenCDR._decoding``)
DECODING_MODES = {"base": "P_base: the base LM, no adapter",
                  "universal": "P_uni: base + universal experts",
                  "domain": "P_spec: base + universal experts + the user's domain adapter",
                  "full": "the model: (1 - gamma) P_uni + gamma P_spec"}

# ----------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class GenCDRTokenizerConfig:
    """Attributes:
    rqvae: the universal RQ-VAE: the reference's shape (hidden [1024, 512], latent 256,
        3 x 2048, lr 1e-3) with the paper's batch 512 and 100 epochs (section 5.4; the
        reference ``rqvae_config.yaml`` trains 3000 epochs of batch 8192).
    pca_dim: PCA the text embeddings to this many dimensions when they have more (paper 512).
    mtm_weight, mtm_hidden: masked-token-modelling loss weight and context MLP width.
    lora_r, lora_alpha, lora_dropout: the per-domain encoder adapters; paper 5.4: rank 64,
        alpha 32, dropout 0.05 (the reference ``quantization_adapter.py``: 8, 16, 0.1).
    adapter_epochs, adapter_lr, adapter_batch_size: adapter + router training (paper 50 epochs).
    router_hidden, router_bottleneck: the item router's MLP width and Gaussian size.
    vib_weight: weight of the item router's KL(q(h|x) || N(0, I)) beyond its free nats.
    vib_free_nats: nats of information about an item the router may use at no cost
        ("free bits", :func:`vib_penalty`); without them the KL pulls q(h|x) onto the prior
        whenever routing gains less than ``vib_weight`` x KL, and alpha is one constant.
    item_adapters: False = ablation "w/o Item Adapter": items keep their universal codes
        (no domain adapters, no item router).
    """

    rqvae: RQVAEConfig = field(default_factory=lambda: RQVAEConfig(
        hidden=(1024, 512), latent_dim=256, levels=3, codebook_size=2048, beta=0.25, lr=1e-3,
        weight_decay=0.0, batch_size=512, epochs=100))
    pca_dim: int = 512
    mtm_weight: float = 0.1
    mtm_hidden: int = 256
    lora_r: int = 64
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    adapter_epochs: int = 50
    adapter_lr: float = 1e-3
    adapter_batch_size: int = 512
    router_hidden: int = 128
    router_bottleneck: int = 16
    vib_weight: float = 1e-3
    vib_free_nats: float = 1.0
    item_adapters: bool = True

    def __post_init__(self) -> None:
        checks.positive_ints(self, "pca_dim", "mtm_hidden", "lora_r", "lora_alpha", "adapter_epochs",
                             "adapter_batch_size", "router_hidden", "router_bottleneck")
        checks.in_range(self, "mtm_weight", 0.0, 100.0)
        checks.in_range(self, "lora_dropout", 0.0, 1.0)
        checks.in_range(self, "adapter_lr", 1e-12, 10.0)
        checks.in_range(self, "vib_weight", 0.0, 100.0)
        checks.in_range(self, "vib_free_nats", 0.0, 1e6)


@dataclass(frozen=True)
class GenCDRGeneratorConfig:
    """Attributes:
    hidden_size, layers, heads, kv_heads, intermediate_size: the Qwen2-architecture LM.
    base_epochs: the most epochs of the base stage, full training of the LM (stand-in for
        the pretrained LLM); it usually stops earlier, by patience or its budget share.
    universal_experts, expert_r, expert_alpha: phase-1 LoRA experts (paper 4, r 64, alpha 128).
    domain_r, domain_alpha: phase-2 per-domain LoRA adapters.
    lora_dropout: dropout of both kinds of LoRA.
    phase1_epochs, phase2_epochs, router_epochs: the most epochs of each stage (patience
        and the time budget may stop it earlier).
    router_hidden, router_bottleneck, vib_weight: the user-level router.
    train_universal_experts: False = ablation "w/o Universal Experts": phase 1 is skipped, so
        the experts keep peft's initialisation (B = 0: exactly no update) and ``P_uni`` is the
        base LM.
    specific_experts: False = ablation "w/o Specific Expert": no phase 2 and no user router;
        decoding uses ``P_uni`` alone.
    user_router: ``vib`` (the paper) or ``average`` (ablation "w/o MoE Gate (Avg.)":
        ``gamma = 0.5`` for every user, no router training).
    """

    hidden_size: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    intermediate_size: int = 512
    base_epochs: int = 10
    universal_experts: int = 4
    expert_r: int = 64
    expert_alpha: int = 128
    domain_r: int = 64
    domain_alpha: int = 128
    lora_dropout: float = 0.05
    phase1_epochs: int = 10
    phase2_epochs: int = 10
    router_epochs: int = 2
    router_hidden: int = 128
    router_bottleneck: int = 16
    vib_weight: float = 1e-3
    train_universal_experts: bool = True
    specific_experts: bool = True
    user_router: str = "vib"

    def __post_init__(self) -> None:
        checks.one_of(self, "user_router", USER_ROUTERS)
        checks.positive_ints(self, "hidden_size", "layers", "heads", "kv_heads", "intermediate_size",
                             "universal_experts", "expert_r", "expert_alpha", "domain_r", "domain_alpha",
                             "router_hidden", "router_bottleneck")
        for name in ("base_epochs", "phase1_epochs", "phase2_epochs", "router_epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"GenCDRGeneratorConfig.{name} must be an int >= 0, got {value!r}")
        checks.divisible(self, "hidden_size", "heads")
        checks.divisible(self, "heads", "kv_heads")
        if (self.hidden_size // self.heads) % 2:
            raise ConfigError("GenCDRGeneratorConfig: hidden_size / heads must be even (rotary embeddings)")
        checks.in_range(self, "lora_dropout", 0.0, 1.0)
        checks.in_range(self, "vib_weight", 0.0, 100.0)


@dataclass(frozen=True)
class GenCDRConfig:
    """Attributes:
    text: item text embedding settings.
    tokenizer: universal RQ-VAE, domain adapters, item router.
    generator: the LM, its LoRA experts and adapters, the user router.
    max_history: items of history the LM reads.
    lr, weight_decay, batch_size, grad_clip: AdamW for every LM stage.
    beam_width: beams kept while decoding (>= the evaluator's top-K, 20).
    time_budget_s: wall-clock budget of the LM stages, training and validation (0 = none); split
        over the stages by :func:`stage_budget`.
    base_budget_share: the most of ``time_budget_s`` the base LM may take; it stops earlier
        when its validation stops improving and leaves the rest to the LoRA stages.
    patience: validations without improvement before a stage stops.
    base_eval_every: the base LM is validated every this many epochs (the LoRA and router
        stages every epoch).
    validation_users: every stage selects its epoch on this fixed, seeded subset of the
        validation users (0 = all; a domain stage on the subset's users of its domain).
    selection_metric: the validation metric that selects every stage's epoch (paper: Recall@10).
    prefix_tree: False = ablation "w/o Prefix Tree": unconstrained beams; a generated ID that
        is no item (or an item of another domain) fills a list slot but never hits
        (the record's ``top_k_lists`` says how many slots held no item).
    """

    text: TextEmbeddingConfig = field(default_factory=TextEmbeddingConfig)
    tokenizer: GenCDRTokenizerConfig = field(default_factory=GenCDRTokenizerConfig)
    generator: GenCDRGeneratorConfig = field(default_factory=GenCDRGeneratorConfig)
    max_history: int = 20
    lr: float = 5e-4
    weight_decay: float = 0.01
    batch_size: int = 128
    grad_clip: float = 1.0
    beam_width: int = 20
    time_budget_s: float = 0.0
    base_budget_share: float = 0.6
    patience: int = 3
    base_eval_every: int = 1
    validation_users: int = 4096
    selection_metric: str = "recall@10"
    prefix_tree: bool = True

    def __post_init__(self) -> None:
        checks.positive_ints(self, "max_history", "batch_size", "beam_width", "patience", "base_eval_every")
        checks.in_range(self, "base_budget_share", 1e-6, 1.0, high_inclusive=True)
        if not isinstance(self.validation_users, int) or isinstance(self.validation_users, bool) \
                or self.validation_users < 0:
            raise ConfigError(f"GenCDRConfig.validation_users must be an int >= 0, got {self.validation_users!r}")
        checks.in_range(self, "lr", 1e-12, 10.0)
        checks.in_range(self, "weight_decay", 0.0, 10.0)
        checks.in_range(self, "grad_clip", 0.0, 1e6)
        checks.in_range(self, "time_budget_s", 0.0, float("inf"))
        checks.one_of(self, "selection_metric", ("recall@10", "ndcg@10"))


PROFILES = {
    "smoke": GenCDRConfig(
        tokenizer=GenCDRTokenizerConfig(
            rqvae=RQVAEConfig(hidden=(64,), latent_dim=16, levels=3, codebook_size=16, batch_size=1024,
                              epochs=3, weight_decay=0.0),
            mtm_hidden=32, adapter_epochs=2, router_hidden=16, router_bottleneck=4),
        generator=GenCDRGeneratorConfig(hidden_size=32, layers=1, heads=2, kv_heads=1, intermediate_size=64,
                                        base_epochs=1, universal_experts=2, expert_r=4, expert_alpha=8,
                                        domain_r=4, domain_alpha=8, phase1_epochs=1, phase2_epochs=1,
                                        router_epochs=1, router_hidden=16, router_bottleneck=4),
        max_history=10, lr=1e-3, batch_size=256, beam_width=20),
    # a 2-core CPU budget: 256-code levels, a 2-layer LM; the LM stages share the 75 minutes of
    # the other generators' cpu profile: the base LM until its validation stops improving (at
    # most 60 % of it), the LoRA and router stages the rest in proportion to their planned work
    "cpu": GenCDRConfig(
        tokenizer=GenCDRTokenizerConfig(
            rqvae=RQVAEConfig(hidden=(512, 256), latent_dim=64, levels=3, codebook_size=256, batch_size=1024,
                              epochs=200, weight_decay=0.0),
            adapter_epochs=20),
        generator=GenCDRGeneratorConfig(hidden_size=64, layers=2, heads=4, kv_heads=2, intermediate_size=256,
                                        base_epochs=60, universal_experts=2, expert_r=16, expert_alpha=32,
                                        domain_r=16, domain_alpha=32, phase1_epochs=10, phase2_epochs=10,
                                        router_epochs=2),
        lr=1e-3, batch_size=256, time_budget_s=75 * 60, base_budget_share=0.6, patience=2, base_eval_every=2,
        validation_users=4096),
    "paper": GenCDRConfig(),
}

# ----------------------------------------------------------------------------- pieces


def vib_penalty(kl: torch.Tensor, weight: float, free_nats: float) -> torch.Tensor:
    """The item router's VIB term: ``weight`` x the mean over items of ``max(KL - free_nats,
    0)``. Up to ``free_nats`` of information per item cost nothing (free bits), so a small
    routing gain cannot be outweighed by the KL and the router kept from routing; beyond
    them the bottleneck applies as usual."""
    return weight * (kl - free_nats).clamp(min=0.0).mean()


def alpha_distribution(alpha: torch.Tensor) -> dict[str, float]:
    """Mean, standard deviation and the 5/25/50/75/95 % quantiles of a domain's alphas."""
    a = alpha.detach().float().cpu()
    q = torch.quantile(a, torch.tensor([0.05, 0.25, 0.5, 0.75, 0.95]))
    return {"items": int(a.numel()), "mean": float(a.mean()), "std": float(a.std(unbiased=False)),
            **{f"q{p:02d}": float(v) for p, v in zip((5, 25, 50, 75, 95), q, strict=True)}}


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, diag exp(logvar)) || N(0, I))`` per row: ``0.5 sum(mu^2 + s^2 - 1 - log s^2)``."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


class VIBRouter(nn.Module):
    """``forward(x [B, d]) -> (gate [B] in (0, 1), KL [B])``: a 2-layer MLP on the
    standardised input (layer norm without parameters) gives ``mu, logvar`` of ``q(h|x)``;
    ``h`` is sampled while training (``h = mu`` in eval) and ``gate = sigmoid(w.h + b)``.
    The KL to ``N(0, I)`` is the VIB regulariser. Standardising makes the router's features
    vary at unit scale whatever the input's scale (sentence embeddings of norm 1 have
    coordinates of about 0.05, so ``mu`` would hardly differ between items)."""

    def __init__(self, input_dim: int, hidden: int, bottleneck: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(input_dim, elementwise_affine=False)
        self.net = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * bottleneck))
        self.gate = nn.Linear(bottleneck, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(self.norm(x)).chunk(2, dim=-1)
        logvar = logvar.clamp(-10.0, 10.0)
        h = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        return torch.sigmoid(self.gate(h)).squeeze(-1), gaussian_kl(mu, logvar)


class MaskedCodeModel(nn.Module):
    """The MTM context model: predicts a masked level's code from the codebook vectors of the
    other levels; logits = ``-||prediction - codebook_l||^2``."""

    def __init__(self, latent_dim: int, levels: int, hidden: int) -> None:
        super().__init__()
        self.levels = levels
        self.level_embedding = nn.Embedding(levels, latent_dim)
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, latent_dim))

    def loss(self, rqvae: RQVAE, codes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = codes.shape[0]
        masked = torch.randint(self.levels, (n,), generator=generator).to(codes.device)
        context = torch.zeros(n, rqvae.config.latent_dim, device=codes.device)
        for level, book in enumerate(rqvae.codebooks):
            keep = (masked != level).float().unsqueeze(1)
            context = context + keep * book[codes[:, level]]
        prediction = self.net(context + self.level_embedding(masked))
        total = codes.new_zeros((), dtype=torch.float32)
        for level, book in enumerate(rqvae.codebooks):
            rows = masked == level
            if rows.any():
                logits = -torch.cdist(prediction[rows], book) ** 2
                total = total + F.cross_entropy(logits, codes[rows, level], reduction="sum")
        return total / n


def mtm_hooks(latent_dim: int, levels: int, hidden: int, weight: float, lr: float, seed: int) -> RQVAEHooks:
    """``RQVAEHooks`` adding ``weight`` x the MTM loss (the context model steps its own AdamW)."""
    model = MaskedCodeModel(latent_dim, levels, hidden)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed + 17)
    state = {"device": None}

    def extra_loss(rqvae, rows, z, z_q, codes):
        if state["device"] is None:
            model.to(z.device)
            state["device"] = z.device
        if any(p.grad is not None for p in model.parameters()):
            optimizer.step()          # gradients of the previous batch's backward pass
            optimizer.zero_grad(set_to_none=True)
        loss = model.loss(rqvae, codes, generator)
        return weight * loss, {"mtm": float(loss.detach())}

    hooks = RQVAEHooks(extra_loss=extra_loss)
    hooks.mtm_model = model  # type: ignore[attr-defined]
    return hooks


def linear_names(module: nn.Module) -> list[str]:
    """Names of every ``nn.Linear`` inside ``module`` (LoRA targets)."""
    return [name for name, m in module.named_modules() if isinstance(m, nn.Linear)]


def adapter_name(domain: int) -> str:
    return f"domain{domain}"


def pca(x: np.ndarray, dim: int) -> np.ndarray:
    """The first ``dim`` principal components of the rows of ``x`` (unchanged if narrower)."""
    if x.shape[1] <= dim:
        return x
    centred = x - x.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return (centred @ vt[:dim].T).astype(np.float32)


@dataclass
class DomainTokenizer:
    """The frozen universal RQ-VAE with a peft-wrapped encoder (one adapter per domain) and the
    item router."""

    rqvae: RQVAE
    encoder: nn.Module            # peft model around rqvae.encoder
    router: VIBRouter
    n_domains: int

    def universal(self, x: torch.Tensor) -> torch.Tensor:
        with self.encoder.disable_adapter():
            return self.encoder(x)

    def specific(self, x: torch.Tensor, domain: int) -> torch.Tensor:
        self.encoder.set_adapter(adapter_name(domain))
        return self.encoder(x)

    def fused(self, x: torch.Tensor, domain: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z, alpha [B], KL [B])`` with ``z = (1 - alpha) z_uni + alpha z_spec``."""
        with torch.no_grad():
            z_uni = self.universal(x)
        z_spec = self.specific(x, domain)
        alpha, kl = self.router(x)
        return (1 - alpha).unsqueeze(1) * z_uni + alpha.unsqueeze(1) * z_spec, alpha, kl


def build_domain_tokenizer(rqvae: RQVAE, n_domains: int, cfg: GenCDRTokenizerConfig, input_dim: int) -> DomainTokenizer:
    from peft import LoraConfig, get_peft_model

    for p in rqvae.parameters():
        p.requires_grad_(False)
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=linear_names(rqvae.encoder))
    encoder = get_peft_model(rqvae.encoder, lora, adapter_name=adapter_name(0))
    for d in range(1, n_domains):
        encoder.add_adapter(adapter_name(d), lora)
    router = VIBRouter(input_dim, cfg.router_hidden, cfg.router_bottleneck)
    return DomainTokenizer(rqvae=rqvae, encoder=encoder, router=router.to(next(rqvae.parameters()).device),
                           n_domains=n_domains)


def adapter_parameters(module: nn.Module, name: str) -> list[nn.Parameter]:
    """The LoRA parameters of adapter ``name`` inside ``module``."""
    return [p for n, p in module.named_parameters() if f".{name}." in n and "lora_" in n]


def train_domain_tokenizer(tok: DomainTokenizer, x: torch.Tensor, item_domain: np.ndarray,
                           cfg: GenCDRTokenizerConfig, generator: torch.Generator) -> list[dict]:
    """Train every domain's adapter and the shared router (reconstruction + commitment + VIB)."""
    params = [p for d in range(tok.n_domains) for p in adapter_parameters(tok.encoder, adapter_name(d))]
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW([*params, *tok.router.parameters()], lr=cfg.adapter_lr)
    tok.encoder.train()
    tok.router.train()
    history = []
    for epoch in range(cfg.adapter_epochs):
        sums = {"reconstruction": 0.0, "vib_kl": 0.0, "alpha": 0.0, "alpha_sq": 0.0}
        for d in range(tok.n_domains):
            rows_all = torch.from_numpy(np.flatnonzero(item_domain[1:] == d))
            rows_all = rows_all[torch.randperm(rows_all.numel(), generator=generator)].to(x.device)
            for start in range(0, rows_all.numel(), cfg.adapter_batch_size):
                batch = x[rows_all[start:start + cfg.adapter_batch_size]]
                z, alpha, kl = tok.fused(batch, d)
                z_q, _, vq, _ = tok.rqvae.quantize(z)
                recon = ((tok.rqvae.decoder(z_q) - batch) ** 2).sum(1).mean()
                loss = recon + vq + vib_penalty(kl, cfg.vib_weight, cfg.vib_free_nats)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                sums["reconstruction"] += recon.item() * batch.shape[0]
                sums["vib_kl"] += kl.sum().item()
                sums["alpha"] += alpha.sum().item()
                sums["alpha_sq"] += alpha.pow(2).sum().item()
        means = {k: v / x.shape[0] for k, v in sums.items()}
        alpha_sq = means.pop("alpha_sq")
        history.append({"epoch": epoch + 1, **means,
                        "alpha_std": math.sqrt(max(alpha_sq - means["alpha"] ** 2, 0.0))})
    tok.encoder.eval()
    tok.router.eval()
    return history


@torch.no_grad()
def fused_codes(tok: DomainTokenizer, x: torch.Tensor, item_domain: np.ndarray) -> tuple[np.ndarray, dict]:
    """int64 ``[n, L]`` codes of the fused latents, and the distribution of the items'
    alpha per domain (:func:`alpha_distribution`)."""
    codes = torch.zeros(x.shape[0], tok.rqvae.config.levels, dtype=torch.long)
    alphas = {}
    for d in range(tok.n_domains):
        rows = torch.from_numpy(np.flatnonzero(item_domain[1:] == d))
        if not rows.numel():
            continue
        z, alpha, _ = tok.fused(x[rows.to(x.device)], d)
        _, c, _, _ = tok.rqvae.quantize(z)
        codes[rows] = c.cpu()
        alphas[d] = alpha_distribution(alpha)
    return codes.numpy(), alphas


def domain_tries(ids: SemanticIds, item_domain: np.ndarray, n_domains: int) -> list[PrefixTrie]:
    """One prefix trie per domain over that domain's items (``item_domain`` ``[n_items + 1]``)."""
    tries = []
    for d in range(n_domains):
        items = np.flatnonzero(item_domain == d)
        items = items[items > 0]
        tries.append(PrefixTrie.build(ids.codes[items], ids.level_sizes, items=items))
    return tries


# ----------------------------------------------------------------------------- the LM


def build_lm(cfg: GenCDRGeneratorConfig, vocab_size: int, max_positions: int):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=vocab_size, hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
                         num_hidden_layers=cfg.layers, num_attention_heads=cfg.heads,
                         num_key_value_heads=cfg.kv_heads, max_position_embeddings=max_positions,
                         tie_word_embeddings=True, pad_token_id=0, bos_token_id=BOS, eos_token_id=BOS,
                         use_cache=True)
    config._attn_implementation = "eager"
    return Qwen2ForCausalLM(config)


LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def lm_max_positions(max_history: int, code_length: int) -> int:
    """Position embeddings of the LM: ``BOS`` + (history + target) items of ``code_length``
    tokens each, and a small margin."""
    return 1 + (max_history + 1) * code_length + 8


def attach_lora(lm, g: GenCDRGeneratorConfig, n_domains: int):
    """Wrap ``lm`` in peft with ``g.universal_experts`` LoRA experts and ``n_domains`` domain
    adapters (all on ``LORA_TARGETS``); the base is frozen. Returns ``(peft model, expert names)``."""
    from peft import LoraConfig, get_peft_model

    expert = LoraConfig(r=g.expert_r, lora_alpha=g.expert_alpha, lora_dropout=g.lora_dropout,
                        target_modules=LORA_TARGETS)
    peft_lm = get_peft_model(lm, expert, adapter_name=expert_name(0))
    for k in range(1, g.universal_experts):
        peft_lm.add_adapter(expert_name(k), expert)
    domain = LoraConfig(r=g.domain_r, lora_alpha=g.domain_alpha, lora_dropout=g.lora_dropout,
                        target_modules=LORA_TARGETS)
    for d in range(n_domains):
        peft_lm.add_adapter(adapter_name(d), domain)
    return peft_lm, [expert_name(k) for k in range(g.universal_experts)]


def expert_name(k: int) -> str:
    return f"universal{k}"


def set_active(lm, names: list[str], trainable: list[str] = ()) -> None:
    """Activate LoRA adapters ``names`` together (none: the base LM alone, the adapter layers
    skipped); only those in ``trainable`` get gradients."""
    if names:
        lm.base_model.enable_adapter_layers()
        lm.base_model.set_adapter(list(names))
    else:
        lm.base_model.disable_adapter_layers()
    for n, p in lm.named_parameters():
        if "lora_" in n:
            p.requires_grad_(any(f".{t}." in n for t in trainable))


def base_parameters(lm) -> list[nn.Parameter]:
    """The parameters of the LM under the peft wrapper (everything but LoRA)."""
    return [p for n, p in lm.named_parameters() if "lora_" not in n]


def stage_budget(total_s: float, spent_s: float, planned: list[float]) -> float:
    """Seconds for the next LoRA or router stage: what is left of ``total_s`` after ``spent_s``,
    shared by the stages still to run (``planned``, this one first) in proportion to their
    planned work (max epochs x training sequences). A stage that stops before its share is
    spent (patience, max epochs) leaves the rest to the stages after it. At least 1e-9 s,
    so every stage trains one epoch (0 would mean "no budget")."""
    if not planned or planned[0] <= 0:
        raise ValueError(f"the next stage must plan some work, got {planned}")
    return max(max(total_s - spent_s, 0.0) * planned[0] / sum(planned), 1e-9)


def sequence_batch(tokens: np.ndarray, train, rows: np.ndarray, ends: np.ndarray, max_items: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids [B, T], attention_mask [B, T])``: ``BOS`` + the codes of items
    ``[end - max_items, end)`` of each row, left-aligned and padded with 0 at the end."""
    starts = np.maximum(ends - max_items, 0)
    lengths = ends - starts
    width = int(lengths.max())
    index = train.offsets[rows][:, None] + starts[:, None] + np.arange(width)[None, :]
    valid = np.arange(width)[None, :] < lengths[:, None]
    items = np.where(valid, train.items[np.minimum(index, train.items.shape[0] - 1)], 0)
    toks = tokens[items].reshape(items.shape[0], -1)
    ids = np.concatenate([np.full((items.shape[0], 1), BOS), toks], axis=1)
    return torch.from_numpy(ids), torch.from_numpy(ids != 0)


def random_windows(train, users: np.ndarray, max_items: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One random window end (exclusive) per user: windows of up to ``max_items`` items."""
    lengths = train.lengths[users]
    low = np.minimum(lengths, max_items)
    ends = rng.integers(low, lengths + 1)
    return users, ends


def lm_logits(lm, ids: torch.Tensor, mask: torch.Tensor, *, hidden: bool = False):
    positions = (mask.long().cumsum(1) - 1).clamp(min=0)
    out = lm(input_ids=ids, attention_mask=mask.long(), position_ids=positions, output_hidden_states=hidden,
             use_cache=False)
    return (out.logits, out.hidden_states[-1]) if hidden else out.logits


def token_nll(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token NLL over every real item token (positions 1..)."""
    target = ids[:, 1:]
    valid = mask[:, 1:]
    lp = F.log_softmax(logits[:, :-1].float(), -1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return -(lp * valid).sum() / valid.sum().clamp(min=1)


def history_positions(ids: torch.Tensor, code_length: int) -> torch.Tensor:
    """int64 ``[T-1]``: for the token predicted at position ``p`` (1..T-1), the position of the
    last token of its item's history (BOS for the first item)."""
    p = torch.arange(1, ids.shape[1])
    return ((p - 1) // code_length) * code_length


# ----------------------------------------------------------------------------- the method


@register_method("gencdr", config=GenCDRConfig, profiles=PROFILES)
class GenCDR(Recommender):
    """Domain-adaptive semantic IDs + a decoder-only LM with universal/domain LoRA and routers."""

    uses_item_text = True
    #: (mode, domain) that decoding uses: a key of ``DECODING_MODES``; "full" outside ``fit``
    _decoding: tuple[str, int | None] = ("full", None)

    # -- data --------------------------------------------------------------------------

    def _domains(self, splits: SequenceSplits) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
        ds = splits.dataset
        if ds.is_multi_domain:
            return ds.domains, ds.item_domain, ds.user_domain
        item_domain = np.zeros(ds.n_items + 1, dtype=np.int64)
        item_domain[0] = -1
        return (ds.name,), item_domain, np.zeros(ds.n_users, dtype=np.int64)

    def item_embeddings(self, splits: SequenceSplits) -> tuple[np.ndarray, dict]:
        """float32 ``[n_items + 1, d]`` item text embeddings, embedded domain by domain."""
        cfg: GenCDRConfig = self.config
        text = splits.dataset.item_text
        if text is None:
            raise ConfigError(f"gencdr needs item text; dataset {splits.dataset.name!r} has none here")
        _, item_domain, _ = self._domains(splits)
        out, infos = None, []
        for d in range(int(item_domain.max()) + 1):
            items = np.flatnonzero(item_domain == d)
            sub = ItemText(fields={f: [""] + [col[i] for i in items] for f, col in text.fields.items()},
                           is_proxy=text.is_proxy, description=text.description)
            emb, info = embed_items(sub, cfg.text, cache_dir())
            if out is None:
                out = np.zeros((item_domain.shape[0], emb.shape[1]), dtype=np.float32)
            out[items] = emb[1:]
            infos.append(info)
        return out, {"per_domain": infos}

    # -- fit ---------------------------------------------------------------------------

    def fit(self, splits: SequenceSplits, validator: Validator | None = None) -> FitReport:
        cfg: GenCDRConfig = self.config
        rng = seed_everything(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        self.domains, self.item_domain, self.user_domain = self._domains(splits)
        n_domains = len(self.domains)
        report = FitReport(stopped_by="max_epochs")
        t0 = time.perf_counter()

        embeddings, embedding_info = self.item_embeddings(splits)
        body = pca(embeddings[1:], cfg.tokenizer.pca_dim)
        tc = cfg.tokenizer
        hooks = (mtm_hooks(tc.rqvae.latent_dim, tc.rqvae.levels, tc.mtm_hidden, tc.mtm_weight, tc.rqvae.lr, self.seed)
                 if tc.mtm_weight > 0 else None)
        universal_codes, rq_info, rqvae = fit_rq_vae(body, tc.rqvae, self.seed, self.device, hooks=hooks)
        x = torch.from_numpy(body).to(self.device)
        self.rqvae = rqvae                                              # counted in num_parameters
        if tc.item_adapters:
            self.tokenizer = build_domain_tokenizer(rqvae, n_domains, tc, body.shape[1])
            self.item_router = self.tokenizer.router
            adapter_history = train_domain_tokenizer(self.tokenizer, x, self.item_domain, tc, generator)
            codes, alphas = fused_codes(self.tokenizer, x, self.item_domain)
        else:                                                           # ablation: universal codes
            codes, alphas, adapter_history = universal_codes, {}, []
        log.info("gencdr tokenizer: %d items, %d domains, mean alpha %s (%.0f s)", x.shape[0], n_domains,
                 {self.domains[d]: round(a["mean"], 3) for d, a in alphas.items()}, time.perf_counter() - t0)
        sizes = (tc.rqvae.codebook_size,) * tc.rqvae.levels
        diagnostics = {**code_diagnostics(codes, sizes), **rq_info,
                       "universal_codes_changed_by_adapters": float((codes != universal_codes).any(1).mean()),
                       "alpha_per_domain": {self.domains[d]: a for d, a in alphas.items()},
                       "adapter_training": adapter_history}
        full, dedup = add_dedup_level(codes)
        self.ids = SemanticIds(codes=np.vstack([np.zeros((1, full.shape[1]), dtype=np.int64), full]),
                               level_sizes=(*sizes, dedup), dedup_level=True,
                               config={"tokenizer": asdict(tc)}, diagnostics=diagnostics)
        self.tries = [t.to(self.device) for t in domain_tries(self.ids, self.item_domain, n_domains)]
        if not cfg.prefix_tree:   # maps unconstrained beams to items (any domain)
            self.all_items_trie = PrefixTrie.build(self.ids.codes[1:], self.ids.level_sizes).to(self.device)
        t_tok = time.perf_counter()

        selection = self._selection_validator(validator)
        stages = self._fit_lm(splits, rng, selection)
        report.epochs = [e for stage in stages for e in stage.pop("epochs")]
        cut = any(stage["stopped_by"] == "time_budget" for stage in stages)
        report.stopped_by = "time_budget" if cut else (stages[-1]["stopped_by"] if stages else "max_epochs")
        final = stages[-1] if stages and stages[-1]["validated_on"] == "all" else None
        if final is not None:   # the last stage selected the final model on every subset user
            report.best_epoch, report.best_valid = final["best_epoch"], final["best_valid"]
        report.extra = {"semantic_ids": {"level_sizes": list(self.ids.level_sizes), "diagnostics": diagnostics,
                                         "text_embeddings": embedding_info},
                        "domains": list(self.domains), "tokenizer_s": t_tok - t0,
                        "lm_s": time.perf_counter() - t_tok, "stages": stages,
                        "selected_epoch_per_stage": {st["stage"]: st["best_epoch"] for st in stages}}
        if selection is not None:
            report.extra["validation_subset"] = {**selection.facts(), "of": len(validator.split),
                                                 "seed": self.seed}
        g = cfg.generator
        report.notes.append(
            f"LM: a Qwen2-architecture model trained from scratch (hidden {g.hidden_size}, {g.layers} layers, "
            f"{g.universal_experts} universal LoRA experts of rank {g.expert_r}), standing in for the "
            "paper's pretrained Qwen2.5-7B, which cannot run here")
        if selection is not None:
            report.notes.append(
                f"epochs selected per stage on validation {selection.metric} of {len(selection.split)} users "
                "(training.stages); a domain stage on its domain's users with that domain's adapter")
        return report

    def _selection_validator(self, validator: Validator | None) -> Validator | None:
        """The runner's validator on ``validation_users`` seeded users; its metric must be the
        config's ``selection_metric`` (the one the record states)."""
        cfg: GenCDRConfig = self.config
        if validator is None:
            return None
        if validator.metric != cfg.selection_metric:
            raise ConfigError(f"gencdr selects on {cfg.selection_metric!r}, but the validator computes "
                              f"{validator.metric!r}")
        return validator.on_subset(cfg.validation_users, self.seed)

    def _lm_stages(self, users_all: np.ndarray) -> list[tuple[str, int, np.ndarray, int | None]]:
        """``(stage, max epochs, training users, domain)`` of every LM stage that trains."""
        g = self.config.generator
        trains_router = g.specific_experts and g.user_router == "vib"
        stages = [("base", g.base_epochs, users_all, None),
                  ("universal", g.phase1_epochs if g.train_universal_experts else 0, users_all, None)]
        for d in range(len(self.domains) if g.specific_experts else 0):
            stages.append((f"domain:{self.domains[d]}", g.phase2_epochs, users_all[self.user_domain[users_all] == d], d))
        stages.append(("router", g.router_epochs if trains_router else 0, users_all, None))
        return [stage for stage in stages if stage[1] > 0 and stage[2].size > 0]

    def _fit_lm(self, splits: SequenceSplits, rng: np.random.Generator,
                selection: Validator | None) -> list[dict]:
        """Train the LM stages in order, each through the suite's epoch loop: validated on
        ``selection`` (its domain's users for a domain stage), stopped by patience, its
        max epochs or its share of the time budget, and restored to its best epoch.
        Returns one summary per stage (its epochs under ``"epochs"``)."""
        cfg: GenCDRConfig = self.config
        g = cfg.generator
        train = splits.train
        self.tokens = self.ids.tokens()
        max_positions = lm_max_positions(cfg.max_history, self.ids.length)
        torch.manual_seed(self.seed)
        lm = build_lm(g, self.ids.vocab_size, max_positions).to(self.device)
        self.lm, self.experts = attach_lora(lm, g, len(self.domains))
        trains_router = g.specific_experts and g.user_router == "vib"
        self.user_router = (VIBRouter(g.hidden_size, g.router_hidden, g.router_bottleneck).to(self.device)
                            if trains_router else None)
        users_all = np.flatnonzero(train.lengths >= 1)
        plan = self._lm_stages(users_all)
        planned = [epochs * users.size for _, epochs, users, _ in plan]
        spent, summaries = 0.0, []
        for i, (stage, max_epochs, users, domain) in enumerate(plan):
            if not cfg.time_budget_s:
                budget = 0.0
            elif stage == "base":
                budget = cfg.time_budget_s * cfg.base_budget_share
            else:
                budget = stage_budget(cfg.time_budget_s, spent, planned[i:])
            params, step_loss, mode = self._stage_parts(stage, domain)
            validating = selection
            if selection is not None and domain is not None:   # the subset's users of this domain
                rows = np.flatnonzero(self.user_domain[selection.split.users] == domain)
                validating = replace(selection, split=selection.split.select(rows)) if rows.size else None
            schedule = Schedule(max_epochs=max_epochs, patience=cfg.patience, time_budget_s=budget,
                                eval_every=cfg.base_eval_every if stage == "base" else 1)
            optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

            def train_epoch(epoch: int, stage=stage, users=users, params=params, step_loss=step_loss,
                            optimizer=optimizer, domain=domain) -> dict:
                self._set_stage_mode(stage, domain)
                total, steps, samples = 0.0, 0, 0
                for d, group in self._epoch_groups(stage, users):
                    rows, ends = random_windows(train, group, cfg.max_history + 1, rng)
                    order = rng.permutation(rows.shape[0])
                    for s in range(0, order.shape[0], cfg.batch_size):
                        b = order[s:s + cfg.batch_size]
                        ids, mask = sequence_batch(self.tokens, train, rows[b], ends[b], cfg.max_history + 1)
                        loss = step_loss(ids.to(self.device), mask.to(self.device), d)
                        adam_step(optimizer, loss, params, clip=cfg.grad_clip)
                        total += loss.item()
                        steps += 1
                    samples += int(rows.shape[0])
                return {"stage": stage, "loss": total / max(steps, 1), "samples": samples}

            self._decoding = (mode, domain)       # what the loop's validations decode with
            t = time.perf_counter()
            run = run_epochs(self, train_epoch, validating, schedule, optimizer=optimizer,
                             generators={"data_order": rng}, progress=False)
            seconds = time.perf_counter() - t
            spent += seconds
            summaries.append({
                "stage": stage, "max_epochs": max_epochs, "training_users": int(users.size),
                "budget_s": budget or None, "spent_s": seconds,
                "stopped_by": run.stopped_by, "best_epoch": run.best_epoch, "best_valid": run.best_valid,
                "validated_on": None if validating is None else ("all" if domain is None else self.domains[domain]),
                "validation_users": None if validating is None else len(validating.split),
                "valid_s": sum(e.get("valid_seconds", 0.0) for e in run.epochs),
                "decoded_with": DECODING_MODES[mode], "epochs": run.epochs})
            log.info("gencdr %s: %d epochs, best %s (valid %s), stopped by %s, %.0f of %s s", stage,
                     len(run.epochs), run.best_epoch, run.best_valid, run.stopped_by, seconds, budget or "no")
        self._set_stage_mode("done", None)
        self._decoding = ("full", None)
        return summaries

    def _epoch_groups(self, stage: str, users: np.ndarray) -> list[tuple[int | None, np.ndarray]]:
        """``(domain, users)`` groups one epoch of ``stage`` trains on, in order: the router
        is trained domain by domain (its mixture needs the domain's adapter); other stages
        in one group."""
        if stage != "router":
            domain = None if not stage.startswith("domain:") else self.domains.index(stage.split(":", 1)[1])
            return [(domain, users)]
        return [(d, users[self.user_domain[users] == d]) for d in range(len(self.domains))
                if np.any(self.user_domain[users] == d)]

    def _stage_parts(self, stage: str, domain: int | None):
        """``(trainable parameters, loss(ids, mask, domain), decoding mode)`` of ``stage``."""
        lm = self.lm
        if stage == "base":
            return base_parameters(lm), lambda ids, mask, d: token_nll(lm_logits(lm, ids, mask), ids, mask), "base"
        if stage == "universal":
            return ([p for k in self.experts for p in adapter_parameters(lm, k)],
                    lambda ids, mask, d: token_nll(lm_logits(lm, ids, mask), ids, mask), "universal")
        if stage.startswith("domain:"):
            return (adapter_parameters(lm, adapter_name(domain)),
                    lambda ids, mask, d: token_nll(lm_logits(lm, ids, mask), ids, mask), "domain")
        return list(self.user_router.parameters()), self._router_loss, "full"

    def _set_stage_mode(self, stage: str, domain: int | None) -> None:
        """Which weights train and which adapters are active while ``stage`` trains."""
        lm = self.lm
        for p in base_parameters(lm):
            p.requires_grad_(stage == "base")
        if stage == "base":
            set_active(lm, [])
        elif stage == "universal":
            set_active(lm, self.experts, trainable=self.experts)
        elif stage.startswith("domain:"):
            set_active(lm, [*self.experts, adapter_name(domain)], trainable=[adapter_name(domain)])
        else:                                       # the router trains, or training is done
            set_active(lm, self.experts)
            lm.eval()                               # no LoRA dropout: only the router trains

    def _router_loss(self, ids: torch.Tensor, mask: torch.Tensor, domain: int) -> torch.Tensor:
        """The mixture's next-item NLL at the item level, ``-log((1 - gamma) P_uni(item) +
        gamma P_spec(item))`` with ``P(item)`` the product of its code tokens' probabilities
        (paper 4.2.2.3), plus ``vib_weight`` x KL; ``gamma`` read at the end of each target
        item's history."""
        g = self.config.generator
        L = self.ids.length
        with torch.no_grad():
            set_active(self.lm, self.experts)
            uni_logits, hidden = lm_logits(self.lm, ids, mask, hidden=True)
            set_active(self.lm, [*self.experts, adapter_name(domain)])
            spec_logits = lm_logits(self.lm, ids, mask)
        set_active(self.lm, self.experts)
        target = ids[:, 1:].unsqueeze(-1)
        B = ids.shape[0]
        item_u = F.log_softmax(uni_logits[:, :-1].float(), -1).gather(-1, target).view(B, -1, L).sum(-1)
        item_s = F.log_softmax(spec_logits[:, :-1].float(), -1).gather(-1, target).view(B, -1, L).sum(-1)
        gamma, kl = self.user_router(hidden[:, history_positions(ids, L)[::L].to(ids.device)])   # [B, items]
        mixed = torch.logaddexp(torch.log1p(-gamma.clamp(max=1 - 1e-6)) + item_u,
                                torch.log(gamma.clamp(min=1e-6)) + item_s)
        valid = mask[:, 1::L].float()                               # the items of each window
        n = valid.sum().clamp(min=1)
        return -(mixed * valid).sum() / n + g.vib_weight * (kl * valid).sum() / n

    # -- inference ---------------------------------------------------------------------

    def recommend(self, histories: HistoryBatch, k: int, exclude: torch.Tensor | None = None) -> TopK:
        """Per-domain beams (the domain's trie); items of ``exclude`` are pruned in the trie
        (or, without the prefix tree, refused at the last code)."""
        cfg: GenCDRConfig = self.config
        width = max(cfg.beam_width, k)
        domains = self.user_domain[histories.users]
        items = torch.zeros(len(histories), width, dtype=torch.long)
        scores = torch.full((len(histories), width), -torch.inf)
        for d in np.unique(domains):
            rows = np.flatnonzero(domains == d)
            result = self._decode(histories.sequences.select(rows), int(d), width,
                                  None if exclude is None else exclude[torch.from_numpy(rows)])
            w = result.items.shape[1]
            items[rows, :w] = result.items.cpu()
            scores[rows, :w] = result.scores.cpu()
        return TopK(items=items[:, :k], scores=scores[:, :k])

    def gamma(self, sequences, domain: int) -> torch.Tensor:
        """The user router's weight ``[B]`` of the domain model for these histories (0 without
        specific experts, 0.5 with the averaging ablation)."""
        fixed = self._fixed_gamma()
        if fixed is not None:
            return torch.full((len(sequences.lengths),), fixed, device=self.device)
        ids, mask = self._history_tokens(sequences)
        with torch.no_grad():
            set_active(self.lm, self.experts)
            _, hidden = lm_logits(self.lm, ids, mask, hidden=True)
            return self.user_router(hidden[:, -1])[0]

    def _fixed_gamma(self) -> float | None:
        g = self.config.generator
        if not g.specific_experts:
            return 0.0
        return 0.5 if g.user_router == "average" else None

    def _history_tokens(self, sequences) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-aligned ``BOS`` + history codes (padding on the left)."""
        cfg: GenCDRConfig = self.config
        padded = sequences.padded(cfg.max_history, align="right")
        toks = self.tokens[padded].reshape(padded.shape[0], -1)
        ids = np.concatenate([np.zeros((padded.shape[0], 1), dtype=np.int64), toks], axis=1)
        n_real = np.minimum(sequences.lengths, cfg.max_history) * self.ids.length
        ids[np.arange(ids.shape[0]), ids.shape[1] - n_real - 1] = BOS
        return torch.from_numpy(ids).to(self.device), torch.from_numpy(ids != 0).to(self.device)

    def _mixture_parts(self, domain: int) -> tuple[list[str] | None, list[str] | None, float | None]:
        """``(adapters of P_uni, adapters of P_spec, fixed gamma)`` decoding uses now (``None``
        = that model is not used / gamma from the user router): the stage being validated
        during ``fit`` (``_decoding``), the whole model after it."""
        mode = self._decoding[0]
        spec = [*self.experts, adapter_name(domain)]
        if mode == "base":
            return [], None, 0.0
        if mode == "universal":
            return list(self.experts), None, 0.0
        if mode == "domain":
            return None, spec, 1.0
        fixed = self._fixed_gamma()
        return list(self.experts), (None if fixed == 0.0 else spec), fixed

    @torch.no_grad()
    def _decode(self, sequences, domain: int, width: int, exclude: torch.Tensor | None = None):
        """Beam search over ``domain``'s trie. With both models the beams are ranked by the
        item-level mixture ``log((1 - gamma) P_uni(prefix) + gamma P_spec(prefix))``: each
        step returns the increase of that score, from each beam's cumulative log-probability
        under either model (paper 4.2.2.3 mixes item probabilities, not token ones)."""
        from transformers import DynamicCache

        ids, mask = self._history_tokens(sequences)
        B = ids.shape[0]
        positions = (mask.long().cumsum(1) - 1).clamp(min=0)
        uni, spec, fixed = self._mixture_parts(domain)
        configs = {key: active for key, active in (("uni", uni), ("spec", spec)) if active is not None}
        state, last = {}, {}
        gamma = torch.full((B,), 0.0 if fixed is None else fixed, device=ids.device)
        for key, active in configs.items():
            set_active(self.lm, active)
            routed = key == "uni" and fixed is None
            out = self.lm(input_ids=ids, attention_mask=mask.long(), position_ids=positions,
                          past_key_values=DynamicCache(), use_cache=True, output_hidden_states=routed)
            state[key] = out.past_key_values
            last[key] = F.log_softmax(out.logits[:, -1].float(), -1).unsqueeze(1)     # [B, 1, V]
            if routed:
                gamma = self.user_router(out.hidden_states[-1][:, -1])[0]             # [B]
        log_w = {"uni": torch.log1p(-gamma.clamp(max=1 - 1e-6))[:, None],             # [B, 1]
                 "spec": torch.log(gamma.clamp(min=1e-6))[:, None]}
        cumulative = {key: torch.zeros(B, 1, device=ids.device) for key in configs}
        run = {"mask": mask.long(), "pos": positions[:, -1:], "width": 1}

        def step(tokens: torch.Tensor, parents: torch.Tensor | None) -> torch.Tensor:
            if parents is not None:
                W, V = tokens.shape[1], next(iter(last.values())).shape[-1]
                # new row (user b, beam j) continues old row b * previous width + parent
                select = (parents + torch.arange(B, device=parents.device)[:, None] * run["width"]).reshape(-1)
                run["mask"] = torch.cat([run["mask"][select],
                                         torch.ones(B * W, 1, dtype=torch.long, device=tokens.device)], 1)
                run["pos"] = run["pos"][select] + 1
                for key, active in configs.items():
                    chosen = last[key].gather(1, parents.unsqueeze(-1).expand(-1, -1, V))
                    cumulative[key] = cumulative[key].gather(1, parents) + chosen.gather(2, tokens.unsqueeze(-1))[..., 0]
                    cache = state[key]
                    cache.reorder_cache(select)
                    set_active(self.lm, active)
                    out = self.lm(input_ids=tokens.reshape(-1, 1), attention_mask=run["mask"],
                                  position_ids=run["pos"], past_key_values=cache, use_cache=True)
                    state[key] = out.past_key_values
                    last[key] = F.log_softmax(out.logits[:, -1].float(), -1).view(B, W, -1)
                run["width"] = W
            if len(configs) == 1:                                   # one model: its own scores
                return next(iter(last.values()))
            weighted = {key: log_w[key] + cumulative[key] for key in configs}             # [B, W]
            before = torch.logaddexp(weighted["uni"], weighted["spec"])
            after = torch.logaddexp(weighted["uni"].unsqueeze(-1) + last["uni"],
                                    weighted["spec"].unsqueeze(-1) + last["spec"])       # [B, W, V]
            gain = after - before.unsqueeze(-1)
            return torch.where(torch.isneginf(before).unsqueeze(-1), -torch.inf, gain)

        constrained = self.config.prefix_tree
        return beam_search(step, batch_size=B, level_offsets=torch.from_numpy(self.ids.level_offsets),
                           level_sizes=self.ids.level_sizes, beam_width=width,
                           trie=self.tries[domain] if constrained else None,
                           code_to_item=None if constrained else self.all_items_trie.lookup,
                           start_token=BOS, device=self.device,
                           exclude=None if exclude is None else exclude.to(self.device))


# ----------------------------------------------------------------------------- ablations (paper Table 3)


def _variant(*, tokenizer: dict | None = None, generator: dict | None = None, **top) -> dict[str, GenCDRConfig]:
    """Every profile of GenCDR with some switches changed."""
    return {name: replace(cfg, tokenizer=replace(cfg.tokenizer, **(tokenizer or {})),
                          generator=replace(cfg.generator, **(generator or {})), **top)
            for name, cfg in PROFILES.items()}


@register_method("gencdr-wo-mtm", config=GenCDRConfig, profiles=_variant(tokenizer={"mtm_weight": 0.0}))
class GenCDRWithoutMTM(GenCDR):
    """Ablation "w/o MTM": the universal RQ-VAE without the masked-token-modelling loss."""


@register_method("gencdr-wo-item-adapter", config=GenCDRConfig,
                 profiles=_variant(tokenizer={"item_adapters": False}))
class GenCDRWithoutItemAdapter(GenCDR):
    """Ablation "w/o Item Adapter": items keep their universal codes."""


@register_method("gencdr-wo-specific-expert", config=GenCDRConfig,
                 profiles=_variant(generator={"specific_experts": False}))
class GenCDRWithoutSpecificExpert(GenCDR):
    """Ablation "w/o Specific Expert": no per-domain LoRA, no user router; ``P = P_uni``."""


@register_method("gencdr-wo-universal-experts", config=GenCDRConfig,
                 profiles=_variant(generator={"train_universal_experts": False}))
class GenCDRWithoutUniversalExperts(GenCDR):
    """Ablation "w/o Universal Experts": phase 1 skipped (the experts are exactly zero)."""


@register_method("gencdr-wo-moe-gate", config=GenCDRConfig, profiles=_variant(generator={"user_router": "average"}))
class GenCDRWithoutMoEGate(GenCDR):
    """Ablation "w/o MoE Gate (Avg.)": ``gamma = 0.5`` for every user."""


@register_method("gencdr-wo-prefix-tree", config=GenCDRConfig, profiles=_variant(prefix_tree=False))
class GenCDRWithoutPrefixTree(GenCDR):
    """Ablation "w/o Prefix Tree": unconstrained beams (invalid or other-domain IDs never hit)."""
