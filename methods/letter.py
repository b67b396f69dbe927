"""LETTER (Wang et al., CIKM 2024): a learnable item tokenizer with collaborative and
diversity regularization, on TIGER's T5 backbone ("LETTER-TIGER").

Tokenizer (official ``HonghuiBao2000/LETTER``, ``RQ-VAE/``): an RQ-VAE over item text
embeddings, MLP ``[d, 2048, 1024, 512, 256, 128, 64] -> 32`` and mirror, ``L = 4`` levels of
``K = 256`` codes. Its loss, with the official code's exact reductions (``F.mse_loss``:
means over dimensions, levels averaged)::

    L = MSE(x_hat, x) + mean_l [ ||sg(r_l) - e_l||^2 + mu ||r_l - sg(e_l)||^2 + beta L_div,l ] + alpha L_CF

* ``L_CF`` (collaborative alignment): in-batch softmax cross-entropy of the quantized latent
  (after the straight-through estimator) against the batch's 32-d SASRec item embeddings,
  logits ``z_q @ cf^T`` (temperature 1, no normalisation).
* ``L_div`` (diversity): every epoch each level's code vectors are clustered into 10 groups;
  an item's positive is a random *other* code of its code's group; cross-entropy over
  ``e_l @ E_l^T`` with the item's own code masked out.
* the last level picks its codes by Sinkhorn (uniform code usage, epsilon 0.003), in
  training and when collisions are re-assigned (up to 20 rounds, colliding groups re-encoded
  with Sinkhorn on the last level).
* initialisation: the MLPs get Xavier-normal weights and zero biases
  (``layers.py::MLPLayers.init_weights``); each level's codebook is the size-constrained k-means of that level's
  residuals over all items, codes holding ``min(n // 512, 50)`` to 4x that many items
  (``vq.py::init_emb``, ``KMeansConstrained``); the diversity groups are size-constrained too
  (``min(K // 20, 10)`` to 60 codes, ``trainer.py::constrained_km``).
* kept epoch: the trainer evaluates the collision rate of all items' nearest codes every
  2000 epochs and keeps the lowest (``trainer.py::fit``, ``best_collision_model.pth``; the
  Beauty ``tokenize.sh`` loads the checkpoint of epoch 9999, collision rate 0.0012).
* recorded: every epoch's reconstruction, quantisation (codebook + commitment), ``L_CF``,
  ``L_div`` and total, and each collision evaluation with the kept epoch, under
  ``report.extra["semantic_ids"]["diagnostics"]`` (``training``, ``selection``).

Generator: TIGER's T5 (4+4 layers, d_model 128) trained with the ranking-guided loss (token
cross-entropy with logits divided by a temperature; the official script keeps its default
1.0), decoded by trie-constrained beam search (20 beams), as ``LETTER-TIGER/test.py``.

Assumptions (recorded; the paper or the official code leave them open or the suite differs):
* item text encoder: the suite's offline sentence encoder (all-MiniLM-L6-v2) instead of
  LLaMA-7B mean-pooled title and description embeddings (not available offline), over the
  dataset card's text fields;
* input scale (``tokenizer.input_mean_square``, default 1): the official inputs are LLaMA's
  ``last_hidden_state``, the output of its final RMSNorm (each token scaled to unit RMS, then
  multiplied by a learned per-dimension gain that starts at 1), mean-pooled: per-dimension
  magnitudes of order 1. The suite's MiniLM vectors are unit-norm (mean square 1/384), which
  makes the mean-squared reconstruction and quantisation terms ~384x smaller than the
  official ones beside the scale-free ``L_CF``, so the vectors are multiplied by one factor
  (19.6 for MiniLM) to mean square 1; cosines and neighbours are unchanged. At mean square 1
  the weighted ``L_CF`` starts at the official share of the loss
  (``0.1 ln 1024 / (1 + 0.1 ln 1024)``, about 41 % for batches of 1024). Order 1 is an
  estimate, not a measurement (LLaMA-7B is not available offline): at mean square 0.1 or 10
  that share would be 87 % or 6 %. What the rescaling changed on Beauty:
  ``docs/methods/letter.md``.
* the size-constrained k-means is the suite's own (``kmeans.constrained_kmeans``): size
  bounds exact, assignments greedy (nearest cluster with room, then the cheapest moves into
  clusters below the minimum) instead of ``KMeansConstrained``'s min-cost flow, one seeded
  run of 10 iterations instead of the best of 10; an item whose code is alone in its group
  has no positive and is left out of ``L_div`` (the official loop would not end);
* kept epoch: collisions are evaluated every ``tokenizer.select_every`` epochs and after the
  last (``cpu``: every 10 of 200; ``paper``: every 2000 of 10,000, as the trainer);
* left as they are: the residual passed to the next level keeps its gradient (official: the
  straight-through output is subtracted, so only level 1's commitment reaches the encoder),
  and the suite's SASRec table is smaller (mean square 0.0058 on Beauty against the official
  Instruments table's 0.020);
* collisions left after the Sinkhorn rounds get TIGER's disambiguation level (the official
  code keeps duplicates and matches IDs as strings, so one hit counts for every item
  sharing the ID; the suite scores items, which needs unique IDs). The record states how
  many items needed it;
* the collaborative embeddings are the suite's SASRec trained on the training split
  (``genrec_bench.generative.collaborative``; LETTER#5: users train their own);
* generator schedule: LETTER's scripts (AdamW lr 5e-4, wd 0.01, 200 epochs, every prefix
  as a sample) in ``paper``; the ``cpu`` profile uses the shared cpu generator recipe
  (``training.generator_config.CPU_GENERATOR_TRAINING``: the cosine that ends with the
  75-minute budget, selection on 4,096 validation users), as TIGER does, so LETTER and TIGER
  differ in their IDs and LETTER's ranking-guided loss under the same budget. One more
  difference: TIGER's cpu profile appends the P5 data's brand/category codes to the text
  embedding, LETTER's does not (their effect on TIGER: ``docs/methods/tiger.md``).

Measured runs: ``docs/methods/letter.md`` and the records (``results/runs/*/letter*/``).

Ablations as configurations: ``letter-no-cf`` (alpha = 0), ``letter-no-div`` (beta = 0).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from genrec_bench import config_checks as checks
from genrec_bench.data.split import SequenceSplits
from genrec_bench.errors import ConfigError
from genrec_bench.evaluation import Validator
from genrec_bench.generative.collaborative import (
    CollaborativeEmbeddingConfig,
    collaborative_item_embeddings,
)
from genrec_bench.generative.kmeans import constrained_kmeans
from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level, code_diagnostics
from genrec_bench.generative.seq2seq_training import fit_seq2seq
from genrec_bench.generative.sinkhorn import sinkhorn_assign
from genrec_bench.generative.t5_generator import T5GeneratorConfig
from genrec_bench.generative.text_embeddings import TextEmbeddingConfig, dataset_text_embeddings
from genrec_bench.generative.tokenizers import RQVAE, RQVAEConfig, RQVAEHooks, fit_rq_vae
from genrec_bench.generative.tokenizers.rq_vae import (
    CodeAssigner,
    init_codebooks_with_constrained_kmeans,
    xavier_normal_mlp_init,
)
from genrec_bench.paths import artifact_key, cache_dir
from genrec_bench.recommender import FitReport, HistoryBatch, Recommender, TopK
from genrec_bench.registry import register_method
from genrec_bench.training.generator_config import CPU_GENERATOR_TRAINING, GeneratorTrainingConfig
from genrec_bench.training.seeding import seed_everything


@dataclass(frozen=True)
class LETTERTokenizerConfig:
    """The official ``RQ-VAE/main.py`` defaults and the Beauty ``tokenize.sh`` weights.

    Attributes:
        hidden, latent_dim, levels, codebook_size: the RQ-VAE's shape.
        commitment: ``mu`` (hard-coded 0.25 in the official ``vq.py``).
        alpha_cf: weight of the collaborative alignment (Beauty script: 0.1).
        beta_diversity: weight of the diversity loss (Beauty script: 1e-4).
        diversity_clusters: groups of code vectors per level (official: 10).
        sinkhorn_epsilon, sinkhorn_iterations: the last level's Sinkhorn (official 0.003).
        collision_rounds: Sinkhorn re-assignment rounds for colliding items (official 20).
        lr, weight_decay, batch_size, epochs: AdamW training (official 1e-3, 1e-4, 1024;
            the scripts train 10,000 epochs).
        input_mean_square: the item text embeddings are multiplied by one factor so that
            their mean square over items and dimensions equals this (1.0: the order of the
            official LLaMA states, see the module's assumptions); ``0`` = as encoded (the
            suite's unit-norm MiniLM vectors: 1/384).
        codebook_init: ``constrained-kmeans`` (official ``vq.py::init_emb``: codes of
            ``min(n / 512, 50)`` to 4x that many items) or ``kmeans`` (plain).
        mlp_init: ``xavier-normal`` (official ``MLPLayers.init_weights``: Xavier-normal
            weights, zero biases) or ``torch`` (torch's defaults, as the suite's other RQ-VAEs).
        select_every: the collision rate of all items' nearest codes is evaluated every this
            many epochs and after the last; the weights of the lowest are kept (official
            ``eval_step`` 2000 of 10,000 epochs). ``0`` = keep the last epoch.
    """

    hidden: tuple[int, ...] = (2048, 1024, 512, 256, 128, 64)
    latent_dim: int = 32
    levels: int = 4
    codebook_size: int = 256
    commitment: float = 0.25
    alpha_cf: float = 0.1
    beta_diversity: float = 1e-4
    diversity_clusters: int = 10
    sinkhorn_epsilon: float = 0.003
    sinkhorn_iterations: int = 50
    collision_rounds: int = 20
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 1024
    epochs: int = 10000
    input_mean_square: float = 1.0
    codebook_init: str = "constrained-kmeans"
    mlp_init: str = "xavier-normal"
    select_every: int = 2000

    def __post_init__(self) -> None:
        checks.positive_ints(self, "latent_dim", "levels", "codebook_size", "diversity_clusters",
                             "sinkhorn_iterations", "batch_size", "epochs")
        checks.one_of(self, "codebook_init", ("constrained-kmeans", "kmeans"))
        checks.one_of(self, "mlp_init", ("xavier-normal", "torch"))
        checks.in_range(self, "input_mean_square", 0.0, 1e6)
        if not isinstance(self.select_every, int) or self.select_every < 0:
            raise ConfigError(f"LETTERTokenizerConfig.select_every must be an int >= 0, got {self.select_every!r}")
        if not isinstance(self.collision_rounds, int) or self.collision_rounds < 0:
            raise ConfigError(f"LETTERTokenizerConfig.collision_rounds must be an int >= 0, got {self.collision_rounds!r}")
        checks.in_range(self, "commitment", 0.0, 10.0)
        checks.in_range(self, "alpha_cf", 0.0, 100.0)
        checks.in_range(self, "beta_diversity", 0.0, 100.0)
        checks.in_range(self, "sinkhorn_epsilon", 0.0, 10.0)
        checks.in_range(self, "lr", 1e-12, 10.0)

    def rq_vae(self) -> RQVAEConfig:
        return RQVAEConfig(hidden=self.hidden, latent_dim=self.latent_dim, levels=self.levels,
                           codebook_size=self.codebook_size, beta=self.commitment, lr=self.lr,
                           weight_decay=self.weight_decay, batch_size=self.batch_size, epochs=self.epochs,
                           restart_dead_codes=False)


@dataclass(frozen=True)
class LETTERConfig:
    """Attributes:
    tokenizer: the LETTER RQ-VAE and its regularizers.
    collaborative: the SASRec whose item table ``L_CF`` aligns with (dim = latent_dim).
    text: item text embedding settings.
    generator: T5 sizes (LETTER's TIGER backbone).
    temperature: the ranking-guided loss's logit temperature (official default 1.0).
    training: the generator's training, validation and decoding, as TIGER's (official: beam 20).
    """

    tokenizer: LETTERTokenizerConfig = field(default_factory=LETTERTokenizerConfig)
    collaborative: CollaborativeEmbeddingConfig = field(default_factory=CollaborativeEmbeddingConfig)
    text: TextEmbeddingConfig = field(default_factory=TextEmbeddingConfig)
    generator: T5GeneratorConfig = field(default_factory=T5GeneratorConfig)
    temperature: float = 1.0
    training: GeneratorTrainingConfig = field(default_factory=GeneratorTrainingConfig)

    def __post_init__(self) -> None:
        if self.collaborative.dim != self.tokenizer.latent_dim:
            raise ConfigError(f"LETTERConfig: collaborative.dim ({self.collaborative.dim}) must equal "
                              f"tokenizer.latent_dim ({self.tokenizer.latent_dim}): L_CF compares them")
        checks.in_range(self, "temperature", 1e-6, 100.0)


PROFILES = {
    "smoke": LETTERConfig(
        tokenizer=LETTERTokenizerConfig(hidden=(64,), latent_dim=8, levels=2, codebook_size=16,
                                        diversity_clusters=4, sinkhorn_iterations=10, collision_rounds=2,
                                        batch_size=512, epochs=3, select_every=1),
        collaborative=CollaborativeEmbeddingConfig(dim=8, n_layers=1, max_len=20, max_epochs=1, patience=1),
        generator=T5GeneratorConfig(d_model=32, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2, d_kv=16),
        training=GeneratorTrainingConfig(max_history=10, training_prefixes="one-random", lr=1e-3,
                                         weight_decay=1e-4, max_epochs=2, patience=1)),
    # 2-core CPU budget: collaborative SASRec at most 8 min, tokenizer 200 epochs, then TIGER's
    # cpu generator recipe (75 min budget); the durations measured: docs/methods/letter.md
    "cpu": LETTERConfig(
        tokenizer=LETTERTokenizerConfig(epochs=200, select_every=10),
        collaborative=CollaborativeEmbeddingConfig(dim=32, max_epochs=30, patience=3, time_budget_s=8 * 60),
        generator=T5GeneratorConfig(d_model=128, d_ff=512, num_layers=2, num_decoder_layers=2, num_heads=4, d_kv=32,
                                    train_precision="auto"),
        training=CPU_GENERATOR_TRAINING),
    "paper": LETTERConfig(),
}


# --- the two regularizers (losses on a batch) -------------------------------------------------

def collaborative_alignment_loss(z_q: torch.Tensor, cf: torch.Tensor) -> torch.Tensor:
    """``L_CF``: in-batch softmax cross-entropy, item ``i``'s quantized latent ``z_q [B, D]``
    against every batch item's collaborative embedding ``cf [B, D]``; positive = its own."""
    return F.cross_entropy(z_q @ cf.T, torch.arange(z_q.shape[0], device=z_q.device))


def diversity_loss(chosen: torch.Tensor, codebook: torch.Tensor, codes: torch.Tensor,
                   positives: torch.Tensor) -> torch.Tensor:
    """``L_div`` of one level: cross-entropy of ``chosen [B, D] @ codebook [K, D]^T`` with the
    item's own code (``codes [B]``) masked out, towards ``positives [B]`` (``-1`` = no positive,
    left out). Zero when no item has a positive."""
    keep = positives >= 0
    if not bool(keep.any()):
        return chosen.new_zeros(())
    logits = chosen[keep] @ codebook.T
    logits = logits.masked_fill(F.one_hot(codes[keep], codebook.shape[0]).bool(), -1e12)
    return F.cross_entropy(logits, positives[keep])


def sample_group_positives(codes: torch.Tensor, groups: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each code in ``codes [B]``, a uniformly drawn *other* code of the same group
    (``groups [K]``: each code's group); ``-1`` where the code is alone in its group."""
    k = groups.shape[0]
    order = torch.argsort(groups * k + torch.arange(k, device=groups.device))       # codes sorted by group
    sizes = torch.bincount(groups, minlength=int(groups.max()) + 1)
    starts = torch.cumsum(sizes, 0) - sizes
    position = torch.empty_like(order)
    position[order] = torch.arange(k, device=groups.device)                         # rank in sorted order
    g = groups[codes]
    size = sizes[g]
    own = position[codes] - starts[g]                                                # own index in group
    draw = (torch.rand(codes.shape[0], generator=generator) * (size - 1).clamp(min=1)).long()
    draw = draw + (draw >= own).long()                                               # skip itself
    return torch.where(size > 1, order[starts[g] + draw.clamp(max=(size - 1).clamp(min=0))],
                       torch.full_like(codes, -1))


def last_level_sinkhorn(config: LETTERTokenizerConfig) -> CodeAssigner:
    """Nearest codes on every level but the last, which takes Sinkhorn's balanced codes."""

    def assign(level: int, distances: torch.Tensor) -> torch.Tensor:
        if level == config.levels - 1 and config.sinkhorn_epsilon > 0:
            return sinkhorn_assign(distances, config.sinkhorn_epsilon, config.sinkhorn_iterations)
        return distances.argmin(dim=1)

    return assign


class LETTERRegularizers:
    """The hooks that turn the plain RQ-VAE trainer into LETTER's: ``L_CF``, ``L_div`` with
    per-epoch code clustering, Sinkhorn on the last level, MSE reductions."""

    def __init__(self, config: LETTERTokenizerConfig, cf: torch.Tensor, seed: int) -> None:
        self.config = config
        self.cf = cf                                              # [n, D], row r = embedding row r
        self.generator = torch.Generator().manual_seed(seed + 1)
        self.groups: list[torch.Tensor] = []

    def hooks(self) -> RQVAEHooks:
        init = init_codebooks_with_constrained_kmeans if self.config.codebook_init == "constrained-kmeans" else None
        weights = xavier_normal_mlp_init if self.config.mlp_init == "xavier-normal" else None
        return RQVAEHooks(dim_reduction="mean", level_reduction="mean", assign=last_level_sinkhorn(self.config),
                          extra_loss=self.extra_loss, epoch_start=self.cluster_codes, init_codebooks=init,
                          init_weights=weights,
                          select_every=self.config.select_every, history_every_epoch=True)

    def cluster_codes(self, model: RQVAE, epoch: int) -> None:
        """Group each level's code vectors for ``L_div`` (official ``trainer.py::constrained_km``:
        groups of ``min(K / (2 C), 10)`` to ``6 C`` codes, 10 Lloyd iterations)."""
        clusters, k = self.config.diversity_clusters, self.config.codebook_size
        size_min = min(k // (2 * clusters), 10)
        size_max = max(6 * clusters, math.ceil(k / clusters))
        with torch.no_grad():
            self.groups = [constrained_kmeans(book.detach().cpu(), clusters, size_min=size_min, size_max=size_max,
                                              iterations=10, generator=self.generator)[1].to(book.device)
                           for book in model.codebooks]

    def extra_loss(self, model: RQVAE, rows: torch.Tensor, z: torch.Tensor, z_q: torch.Tensor,
                   codes: torch.Tensor) -> tuple[torch.Tensor, dict]:
        cfg = self.config
        cf_loss = collaborative_alignment_loss(z_q, self.cf[rows])
        div = z.new_zeros(())
        if cfg.beta_diversity > 0:
            for level, book in enumerate(model.codebooks):
                positives = sample_group_positives(codes[:, level].cpu(), self.groups[level].cpu(),
                                                   self.generator).to(z.device)
                div = div + diversity_loss(book[codes[:, level]], book, codes[:, level], positives)
            div = div / len(model.codebooks)
        loss = cfg.alpha_cf * cf_loss + cfg.beta_diversity * div
        return loss, {"cf_loss": cf_loss.item(), "diversity_loss": div.item()}


def reassign_collisions(model: RQVAE, x: torch.Tensor, codes: torch.Tensor, config: LETTERTokenizerConfig) -> torch.Tensor:
    """The official ``generate_indices.py``: up to ``collision_rounds`` times, every group of
    items sharing a full code is re-encoded with Sinkhorn on the last level (within the group).
    ``x [n, d]`` embeddings, ``codes [n, L]`` nearest codes; returns the new codes."""
    codes = codes.clone()
    assign = last_level_sinkhorn(config)
    with torch.no_grad():
        z = model.encoder(x)
        for _ in range(config.collision_rounds):
            _, inverse, counts = torch.unique(codes, dim=0, return_inverse=True, return_counts=True)
            colliding = torch.nonzero(counts[inverse] > 1).flatten()
            if colliding.numel() == 0:
                break
            group_of = inverse[colliding]
            for group in torch.unique(group_of):
                members = colliding[group_of == group]
                _, new, _, _ = model.quantize(z[members], assign=assign)
                codes[members] = new
    return codes


def scale_to_mean_square(x: np.ndarray, target: float) -> tuple[np.ndarray, float]:
    """``(c * x, c)`` with ``c`` such that ``mean(c^2 x^2) = target`` over all entries; ``target
    = 0`` leaves ``x`` as it is (``c = 1``). One factor for every entry keeps the embeddings'
    geometry (cosines, nearest neighbours); it sets the scale of the reconstruction and
    quantisation terms against the scale-free collaborative cross-entropy."""
    if target == 0:
        return x, 1.0
    mean_square = float(np.mean(np.square(x, dtype=np.float64)))
    if mean_square == 0:
        raise ConfigError("the item text embeddings are all zero: nothing to rescale")
    scale = math.sqrt(target / mean_square)
    return (x * scale).astype(np.float32), scale


# --- the method -----------------------------------------------------------------------------

def build_letter_ids(embeddings: np.ndarray, cf_table: np.ndarray, config: LETTERConfig, seed: int,
                     provenance: dict, device: torch.device) -> SemanticIds:
    """Train (or load from the cache) LETTER's tokenizer; unique IDs (see the assumptions)."""
    tok = config.tokenizer
    identity = {"tokenizer": "letter", "config": asdict(tok), "seed": seed, **provenance,
                "n_items": int(embeddings.shape[0] - 1)}
    key = artifact_key(identity)
    path = cache_dir() / f"semantic-ids-{key}"
    if path.with_suffix(".json").exists():
        return SemanticIds.load(path, expect_config=identity)
    regularizers = LETTERRegularizers(tok, torch.from_numpy(cf_table[1:]).float().to(device), seed)
    items, scale = scale_to_mean_square(np.asarray(embeddings[1:], dtype=np.float32), tok.input_mean_square)
    codes, info, model = fit_rq_vae(items, tok.rq_vae(), seed, device, regularizers.hooks())
    sizes = (tok.codebook_size,) * tok.levels
    before = code_diagnostics(codes, sizes)
    x = torch.from_numpy(items).to(device)
    codes = reassign_collisions(model, x, torch.from_numpy(codes).to(device), tok).cpu().numpy()
    after = code_diagnostics(codes, sizes)
    diagnostics = {**after, "collision_rate_before_sinkhorn_reassignment": before["collision_rate"],
                   "input_scale": scale, **info}
    if after["collision_rate"] > 0:
        codes, dedup_size = add_dedup_level(codes)
        sizes = (*sizes, dedup_size)
    diagnostics["disambiguation_level"] = len(sizes) > tok.levels
    ids = SemanticIds(codes=np.vstack([np.zeros((1, codes.shape[1]), dtype=np.int64), codes]),
                      level_sizes=sizes, dedup_level=len(sizes) > tok.levels, config=identity,
                      diagnostics=diagnostics)
    ids.save(path)
    return ids


@register_method("letter", config=LETTERConfig, profiles=PROFILES)
class LETTER(Recommender):
    """LETTER tokenizer + TIGER's T5 with the ranking-guided loss, trie-constrained beams."""

    uses_item_text = True

    def fit(self, splits: SequenceSplits, validator: Validator | None = None) -> FitReport:
        cfg: LETTERConfig = self.config
        rng = seed_everything(self.seed)
        embeddings, embedding_info = dataset_text_embeddings(splits.dataset, cfg.text, self.name)
        cf = collaborative_item_embeddings(splits, cfg.collaborative, seed=self.seed, device=self.device,
                                           validator=validator)
        self.ids = build_letter_ids(embeddings, cf.table, cfg, self.seed,
                                    {"embeddings": embedding_info.get("content_key"),
                                     "collaborative": cf.info["cache_file"]}, self.device)
        report = fit_seq2seq(self, splits, self.ids, cfg.training, cfg.generator, validator, rng,
                             temperature=cfg.temperature)
        report.extra["semantic_ids"] = {"level_sizes": list(self.ids.level_sizes), "diagnostics": self.ids.diagnostics,
                                        "text_embeddings": embedding_info}
        report.extra["collaborative_embeddings"] = {k: v for k, v in cf.info.items() if k != "identity"}
        return report

    def recommend(self, histories: HistoryBatch, k: int, exclude: torch.Tensor | None = None) -> TopK:
        """Trie-constrained beams; items of ``exclude`` are pruned in the trie."""
        return self.seq2seq.recommend(histories, k, max_history=self.config.training.max_history,
                                      beam_width=self.config.training.beam_width, exclude=exclude)


def _ablation(**tokenizer_changes) -> dict[str, LETTERConfig]:
    return {name: dataclasses.replace(cfg, tokenizer=dataclasses.replace(cfg.tokenizer, **tokenizer_changes))
            for name, cfg in PROFILES.items()}


@register_method("letter-no-cf", config=LETTERConfig, profiles=_ablation(alpha_cf=0.0))
class LETTERWithoutCollaborative(LETTER):
    """LETTER without the collaborative alignment term (alpha = 0)."""


@register_method("letter-no-div", config=LETTERConfig, profiles=_ablation(beta_diversity=0.0))
class LETTERWithoutDiversity(LETTER):
    """LETTER without the diversity term (beta = 0)."""
