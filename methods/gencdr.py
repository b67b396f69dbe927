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
   maps the item embedding ``x`` to a Gaussian ``q(h|x) = N(mu, diag sigma^2)``; a sample
   ``h`` gives ``alpha = sigmoid(w.h + b)`` and ``z = (1 - alpha) z_uni + alpha z_spec``.
   The **VIB** term is ``KL(q(h|x) || N(0, I))``. Adapters and router are trained together,
   domain by domain inside every epoch, on reconstruction + commitment (frozen codebooks
   and decoder) + ``vib_weight`` x KL. An item's codes are the quantised fused latent; a
   disambiguation level (index within identical 3-code groups) makes every ID unique.
4. **Decoder-only LM.** A small causal LM (transformers ``Qwen2ForCausalLM`` built from a
   config, random init) whose vocabulary is the semantic-ID tokens (0 = padding, 1 = BOS).
   A user's sequence is ``BOS`` + the codes of its items; the loss is next-token
   cross-entropy over all item tokens. Stages: (0) the base LM is trained on every domain
   (stand-in for the pretrained LLM, see below), then frozen; (phase 1) ``universal_experts``
   peft LoRA adapters, all active together (their updates add up), are trained on every
   domain's users; (phase 2) one LoRA adapter per domain, on top of the frozen base and
   experts, is trained on that domain's users only.
5. **User-level router:** a 2-layer MLP on the universal model's last hidden state at the
   end of the history gives ``N(mu, sigma^2)`` -> ``gamma``;
   ``P = (1 - gamma) P_uni + gamma P_spec``, where ``P_uni`` = base + experts and
   ``P_spec`` = base + experts + the user's domain adapter. Trained on the mixture's
   next-item NLL + ``vib_weight`` x KL with everything else frozen.
6. **Domain-aware prefix trie:** one ``PrefixTrie`` per domain over that domain's items; a
   user of domain ``d`` is decoded with ``T_d`` only (beam search with the mixed
   distribution, KV caches for both models), so no item of another domain is ever returned.

Assumptions and departures (the paper and its partial code leave these open, or they cannot
run here):

* The paper's backbone is **Qwen2.5-7B** with 4 universal LoRA experts (r 64, alpha 128)
  fine-tuned on H200 GPUs; that cannot run on this machine and the SID vocabulary is new to
  any pretrained LLM anyway. Here the LM is a small Qwen2 architecture from scratch; a
  "stage 0" trains it fully on all domains and freezes it, standing in for the pretrained
  LLM. ``base_epochs=0`` skips it (then the LoRA experts sit on a random frozen model).
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
  the value is lost in the seed text): ``vib_weight`` 1e-3, bottleneck 16, assumed.
  During training ``h`` is sampled (reparameterisation); at inference ``h = mu``.
* The universal experts are summed with equal weight (no gate; the reference code's unused
  ``MoE-Training`` block has 2 experts and a balancing loss that no code applies).
* gamma is computed once per user from the history and kept for every decoding step
  (user-level, as in the paper); in training it is taken at the end of each target item's
  history inside the sequence.
* Training windows: per epoch one random window of up to ``max_history + 1`` items of
  every user's training sequence (``max_history`` 20). No early stopping or checkpointing:
  each stage runs its epochs (or until ``time_budget_s`` is spent, split evenly over the
  stages); validation is the runner's.
* Ranking: beam search returns the top-``beam_width`` items, so ranks beyond it are unknown
  ("top-k" evaluation as TIGER).
* No model selection on validation (the paper selects on validation Recall@10), no
  checkpoint/resume of a stopped run: the runner evaluates validation and test once.

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
from genrec_bench.training.seeding import seed_everything

log = logging.getLogger(__name__)
BOS = 1  #: the sequence start token of the LM (token 0 = padding)
USER_ROUTERS = ("vib", "average")

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
    vib_weight: weight of the item router's KL(q(h|x) || N(0, I)).
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
    item_adapters: bool = True

    def __post_init__(self) -> None:
        checks.positive_ints(self, "pca_dim", "mtm_hidden", "lora_r", "lora_alpha", "adapter_epochs",
                             "adapter_batch_size", "router_hidden", "router_bottleneck")
        checks.in_range(self, "mtm_weight", 0.0, 100.0)
        checks.in_range(self, "lora_dropout", 0.0, 1.0)
        checks.in_range(self, "adapter_lr", 1e-12, 10.0)
        checks.in_range(self, "vib_weight", 0.0, 100.0)


@dataclass(frozen=True)
class GenCDRGeneratorConfig:
    """Attributes:
    hidden_size, layers, heads, kv_heads, intermediate_size: the Qwen2-architecture LM.
    base_epochs: stage 0, full training of the LM (stand-in for the pretrained LLM).
    universal_experts, expert_r, expert_alpha: phase-1 LoRA experts (paper 4, r 64, alpha 128).
    domain_r, domain_alpha: phase-2 per-domain LoRA adapters.
    lora_dropout: dropout of both kinds of LoRA.
    phase1_epochs, phase2_epochs, router_epochs: epochs of each stage.
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
    time_budget_s: 0 = none; else the LM stages stop early when their share is spent.
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
    selection_metric: str = "recall@10"
    prefix_tree: bool = True

    def __post_init__(self) -> None:
        checks.positive_ints(self, "max_history", "batch_size", "beam_width")
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
    # a 2-core CPU budget: 256-code levels, a 2-layer LM, one epoch less per stage
    "cpu": GenCDRConfig(
        tokenizer=GenCDRTokenizerConfig(
            rqvae=RQVAEConfig(hidden=(512, 256), latent_dim=64, levels=3, codebook_size=256, batch_size=1024,
                              epochs=200, weight_decay=0.0),
            adapter_epochs=20),
        generator=GenCDRGeneratorConfig(hidden_size=64, layers=2, heads=4, kv_heads=2, intermediate_size=256,
                                        base_epochs=10, universal_experts=2, expert_r=16, expert_alpha=32,
                                        domain_r=16, domain_alpha=32, phase1_epochs=5, phase2_epochs=5,
                                        router_epochs=1),
        lr=1e-3, batch_size=256, time_budget_s=60 * 60),
    "paper": GenCDRConfig(),
}

# ----------------------------------------------------------------------------- pieces


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, diag exp(logvar)) || N(0, I))`` per row: ``0.5 sum(mu^2 + s^2 - 1 - log s^2)``."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


class VIBRouter(nn.Module):
    """``forward(x [B, d]) -> (gate [B] in (0, 1), KL [B])``: a 2-layer MLP gives ``mu, logvar``
    of ``q(h|x)``; ``h`` is sampled while training (``h = mu`` in eval) and
    ``gate = sigmoid(w.h + b)``. The KL to ``N(0, I)`` is the VIB regulariser."""

    def __init__(self, input_dim: int, hidden: int, bottleneck: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * bottleneck))
        self.gate = nn.Linear(bottleneck, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(x).chunk(2, dim=-1)
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
        sums = {"reconstruction": 0.0, "vib_kl": 0.0, "alpha": 0.0}
        for d in range(tok.n_domains):
            rows_all = torch.from_numpy(np.flatnonzero(item_domain[1:] == d))
            rows_all = rows_all[torch.randperm(rows_all.numel(), generator=generator)].to(x.device)
            for start in range(0, rows_all.numel(), cfg.adapter_batch_size):
                batch = x[rows_all[start:start + cfg.adapter_batch_size]]
                z, alpha, kl = tok.fused(batch, d)
                z_q, _, vq, _ = tok.rqvae.quantize(z)
                recon = ((tok.rqvae.decoder(z_q) - batch) ** 2).sum(1).mean()
                loss = recon + vq + cfg.vib_weight * kl.mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                sums["reconstruction"] += recon.item() * batch.shape[0]
                sums["vib_kl"] += kl.sum().item()
                sums["alpha"] += alpha.sum().item()
        history.append({"epoch": epoch + 1, **{k: v / x.shape[0] for k, v in sums.items()}})
    tok.encoder.eval()
    tok.router.eval()
    return history


@torch.no_grad()
def fused_codes(tok: DomainTokenizer, x: torch.Tensor, item_domain: np.ndarray) -> tuple[np.ndarray, dict]:
    """int64 ``[n, L]`` codes of the fused latents, and the mean alpha per domain."""
    codes = torch.zeros(x.shape[0], tok.rqvae.config.levels, dtype=torch.long)
    alphas = {}
    for d in range(tok.n_domains):
        rows = torch.from_numpy(np.flatnonzero(item_domain[1:] == d))
        if not rows.numel():
            continue
        z, alpha, _ = tok.fused(x[rows.to(x.device)], d)
        _, c, _, _ = tok.rqvae.quantize(z)
        codes[rows] = c.cpu()
        alphas[d] = float(alpha.mean())
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
    """Activate LoRA adapters ``names`` together; only those in ``trainable`` get gradients."""
    lm.base_model.set_adapter(list(names))
    for n, p in lm.named_parameters():
        if "lora_" in n:
            p.requires_grad_(any(f".{t}." in n for t in trainable))


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
                 {self.domains[d]: round(a, 3) for d, a in alphas.items()}, time.perf_counter() - t0)
        sizes = (tc.rqvae.codebook_size,) * tc.rqvae.levels
        diagnostics = {**code_diagnostics(codes, sizes), **rq_info,
                       "universal_codes_changed_by_adapters": float((codes != universal_codes).any(1).mean()),
                       "mean_alpha_per_domain": {self.domains[d]: a for d, a in alphas.items()},
                       "adapter_training": adapter_history}
        full, dedup = add_dedup_level(codes)
        self.ids = SemanticIds(codes=np.vstack([np.zeros((1, full.shape[1]), dtype=np.int64), full]),
                               level_sizes=(*sizes, dedup), dedup_level=True,
                               config={"tokenizer": asdict(tc)}, diagnostics=diagnostics)
        self.tries = [t.to(self.device) for t in domain_tries(self.ids, self.item_domain, n_domains)]
        if not cfg.prefix_tree:   # maps unconstrained beams to items (any domain)
            self.all_items_trie = PrefixTrie.build(self.ids.codes[1:], self.ids.level_sizes).to(self.device)
        t_tok = time.perf_counter()

        report.epochs = self._fit_lm(splits, rng, generator)
        report.extra = {"semantic_ids": {"level_sizes": list(self.ids.level_sizes), "diagnostics": diagnostics,
                                         "text_embeddings": embedding_info},
                        "domains": list(self.domains), "tokenizer_s": t_tok - t0,
                        "lm_s": time.perf_counter() - t_tok}
        if any(e.get("stopped_by") == "time_budget" for e in report.epochs):
            report.stopped_by = "time_budget"       # at least one stage was cut by its budget share
        g = cfg.generator
        report.notes.append(
            f"LM: a Qwen2-architecture model trained from scratch (hidden {g.hidden_size}, {g.layers} layers, "
            f"{g.universal_experts} universal LoRA experts of rank {g.expert_r}), standing in for the "
            "paper's pretrained Qwen2.5-7B, which cannot run here")
        return report  # no model selection: the runner evaluates validation and test once

    def _fit_lm(self, splits: SequenceSplits, rng: np.random.Generator, generator: torch.Generator) -> list[dict]:
        cfg: GenCDRConfig = self.config
        g = cfg.generator
        train = splits.train
        self.tokens = self.ids.tokens()
        max_positions = lm_max_positions(cfg.max_history, self.ids.length)
        torch.manual_seed(self.seed)
        lm = build_lm(g, self.ids.vocab_size, max_positions).to(self.device)
        users_all = np.flatnonzero(train.lengths >= 1)
        trains_router = g.specific_experts and g.user_router == "vib"
        stages = [("base", g.base_epochs), ("universal", g.phase1_epochs if g.train_universal_experts else 0),
                  *[(f"domain:{d}", g.phase2_epochs if g.specific_experts else 0) for d in range(len(self.domains))],
                  ("router", g.router_epochs if trains_router else 0)]
        active_stages = sum(1 for _, epochs in stages if epochs > 0)
        budget = cfg.time_budget_s / max(active_stages, 1) if cfg.time_budget_s else math.inf
        history: list[dict] = []

        def run_stage(stage: str, epochs: int, users: np.ndarray, params: list, step_loss) -> None:
            if epochs == 0 or not params:
                return
            optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
            start = time.perf_counter()
            for epoch in range(epochs):
                t = time.perf_counter()
                rows, ends = random_windows(train, users, cfg.max_history + 1, rng)
                order = rng.permutation(rows.shape[0])
                total, steps = 0.0, 0
                for s in range(0, order.shape[0], cfg.batch_size):
                    b = order[s:s + cfg.batch_size]
                    ids, mask = sequence_batch(self.tokens, train, rows[b], ends[b], cfg.max_history + 1)
                    loss = step_loss(ids.to(self.device), mask.to(self.device), rows[b])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if cfg.grad_clip > 0:
                        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                    optimizer.step()
                    total += loss.item()
                    steps += 1
                history.append({"stage": stage, "epoch": epoch + 1, "loss": total / max(steps, 1),
                                "samples": int(rows.shape[0]), "train_seconds": time.perf_counter() - t})
                log.info("gencdr %s epoch %d: loss %.4f (%.0f s)", stage, epoch + 1, history[-1]["loss"],
                         history[-1]["train_seconds"])
                if time.perf_counter() - start > budget:
                    history[-1]["stopped_by"] = "time_budget"
                    break

        # stage 0: the base LM (stand-in for the pretrained LLM), then frozen
        lm.train()
        run_stage("base", g.base_epochs, users_all, list(lm.parameters()),
                  lambda ids, mask, rows: token_nll(lm_logits(lm, ids, mask), ids, mask))
        peft_lm, self.experts = attach_lora(lm, g, len(self.domains))
        self.lm = peft_lm
        peft_lm.train()

        # phase 1: universal LoRA experts on every domain (ablation: skipped, experts stay zero)
        set_active(peft_lm, self.experts, trainable=self.experts)
        run_stage("universal", g.phase1_epochs if g.train_universal_experts else 0, users_all,
                  [p for k in self.experts for p in adapter_parameters(peft_lm, k)],
                  lambda ids, mask, rows: token_nll(lm_logits(peft_lm, ids, mask), ids, mask))
        # phase 2: one adapter per domain, on that domain's users only (ablation: none)
        for d in range(len(self.domains) if g.specific_experts else 0):
            name = adapter_name(d)
            set_active(peft_lm, [*self.experts, name], trainable=[name])
            users = users_all[self.user_domain[users_all] == d]
            run_stage(f"domain:{self.domains[d]}", g.phase2_epochs, users, adapter_parameters(peft_lm, name),
                      lambda ids, mask, rows: token_nll(lm_logits(peft_lm, ids, mask), ids, mask))
        set_active(peft_lm, self.experts)
        peft_lm.eval()  # no LoRA dropout from here on; only the router trains

        # the user-level router: mixture NLL + VIB, domain by domain (ablations: no router)
        if not trains_router:
            self.user_router = None
            return history
        self.user_router = VIBRouter(g.hidden_size, g.router_hidden, g.router_bottleneck).to(self.device)
        self.user_router.train()
        for d in range(len(self.domains)):
            users = users_all[self.user_domain[users_all] == d]
            run_stage(f"router:{self.domains[d]}", g.router_epochs, users, list(self.user_router.parameters()),
                      lambda ids, mask, rows, d=d: self._router_loss(ids, mask, d))
        self.user_router.eval()
        return history

    def _router_loss(self, ids: torch.Tensor, mask: torch.Tensor, domain: int) -> torch.Tensor:
        g = self.config.generator
        with torch.no_grad():
            set_active(self.lm, self.experts)
            uni_logits, hidden = lm_logits(self.lm, ids, mask, hidden=True)
            set_active(self.lm, [*self.experts, adapter_name(domain)])
            spec_logits = lm_logits(self.lm, ids, mask)
        positions = history_positions(ids, self.ids.length).to(ids.device)
        gamma, kl = self.user_router(hidden[:, positions])                      # [B, T-1]
        lp_u = F.log_softmax(uni_logits[:, :-1].float(), -1)
        lp_s = F.log_softmax(spec_logits[:, :-1].float(), -1)
        mixed = torch.logaddexp(torch.log1p(-gamma.clamp(max=1 - 1e-6)).unsqueeze(-1) + lp_u,
                                torch.log(gamma.clamp(min=1e-6)).unsqueeze(-1) + lp_s)
        target, valid = ids[:, 1:], mask[:, 1:]
        nll = -(mixed.gather(-1, target.unsqueeze(-1)).squeeze(-1) * valid).sum() / valid.sum().clamp(min=1)
        return nll + g.vib_weight * (kl * valid).sum() / valid.sum().clamp(min=1)

    # -- inference ---------------------------------------------------------------------

    def recommend(self, histories: HistoryBatch, k: int) -> TopK:
        cfg: GenCDRConfig = self.config
        width = max(cfg.beam_width, k)
        domains = self.user_domain[histories.users]
        items = torch.zeros(len(histories), width, dtype=torch.long)
        scores = torch.full((len(histories), width), -torch.inf)
        for d in np.unique(domains):
            rows = np.flatnonzero(domains == d)
            result = self._decode(histories.sequences.select(rows), int(d), width)
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

    @torch.no_grad()
    def _decode(self, sequences, domain: int, width: int):
        from transformers import DynamicCache

        ids, mask = self._history_tokens(sequences)
        B = ids.shape[0]
        positions = (mask.long().cumsum(1) - 1).clamp(min=0)
        state = {}
        fixed = self._fixed_gamma()
        configs = {"uni": self.experts}
        if fixed != 0.0:
            configs["spec"] = [*self.experts, adapter_name(domain)]
        first = {}
        for key, active in configs.items():
            set_active(self.lm, active)
            cache = DynamicCache()
            out = self.lm(input_ids=ids, attention_mask=mask.long(), position_ids=positions, past_key_values=cache,
                          use_cache=True, output_hidden_states=(key == "uni"))
            state[key] = out.past_key_values
            first[key] = F.log_softmax(out.logits[:, -1].float(), -1)
            if key == "uni":
                gamma = (self.user_router(out.hidden_states[-1][:, -1])[0] if fixed is None     # [B]
                         else torch.full((B,), fixed, device=ids.device))
        log_g = torch.log(gamma.clamp(min=1e-6))[:, None, None]
        log_1g = torch.log1p(-gamma.clamp(max=1 - 1e-6))[:, None, None]
        run = {"mask": mask.long(), "pos": positions[:, -1:], "width": 1}

        def step(tokens: torch.Tensor, parents: torch.Tensor | None) -> torch.Tensor:
            if parents is None:
                lp_u = first["uni"].unsqueeze(1)
                lp_s = first["spec"].unsqueeze(1) if "spec" in first else None
            else:
                W = tokens.shape[1]
                # new row (user b, beam j) continues old row b * previous width + parent
                select = (parents + torch.arange(B, device=parents.device)[:, None] * run["width"]).reshape(-1)
                run["mask"] = torch.cat([run["mask"][select],
                                         torch.ones(B * W, 1, dtype=torch.long, device=tokens.device)], 1)
                run["pos"] = run["pos"][select] + 1
                out_lp = {}
                for key, active in configs.items():
                    cache = state[key]
                    cache.reorder_cache(select)
                    set_active(self.lm, active)
                    out = self.lm(input_ids=tokens.reshape(-1, 1), attention_mask=run["mask"],
                                  position_ids=run["pos"], past_key_values=cache, use_cache=True)
                    state[key] = out.past_key_values
                    out_lp[key] = F.log_softmax(out.logits[:, -1].float(), -1).view(B, W, -1)
                run["width"] = W
                lp_u, lp_s = out_lp["uni"], out_lp.get("spec")
            if "spec" not in configs:                                  # gamma = 0: P = P_uni
                return lp_u
            return torch.logaddexp(log_1g + lp_u, log_g + lp_s)

        constrained = self.config.prefix_tree
        return beam_search(step, batch_size=B, level_offsets=torch.from_numpy(self.ids.level_offsets),
                           level_sizes=self.ids.level_sizes, beam_width=width,
                           trie=self.tries[domain] if constrained else None,
                           code_to_item=None if constrained else self.all_items_trie.lookup,
                           start_token=BOS, device=self.device)


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
