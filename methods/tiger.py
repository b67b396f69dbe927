"""TIGER (Rajput et al., NeurIPS 2023): generative retrieval with semantic IDs.

1. Item text -> sentence embedding (paper: Sentence-T5; default here: all-MiniLM-L6-v2,
   the encoder available offline; configurable).
2. RQ-VAE (3 levels x 256 codes, latent 32, beta 0.25) -> semantic ID, plus TIGER's
   disambiguation code that makes every ID unique.
3. A T5 encoder-decoder (4+4 layers, d_model 128, d_ff 1024, 6 heads x 64, dropout 0.1, as in
   LETTER's TIGER backbone) reads the last 20 items' codes and generates the next item's.
4. Deterministic beam search (beam 20) constrained to valid IDs returns the top-K.

Assumptions (the paper leaves them open or the official code is not public):
* no user-id token (LETTER's TIGER backbone has none);
* every prefix of a training sequence is a sample in the ``paper`` profile (LETTER/RecBole
  practice); the ``cpu`` profile samples one random prefix per user per epoch, which
  learned faster per CPU minute in our measurements;
* AdamW, lr 1e-3 and weight decay 1e-4 for the generator in the cpu profile (GRID's TIGER
  recipe); LETTER's scripts use lr 5e-4, wd 0.01 on 2 GPUs (``paper`` profile);
* the cpu profile (the shared ``CPU_GENERATOR_TRAINING`` recipe) decays the rate on a cosine
  driven by the stage's progress, the larger of the share of 500 epochs (a cap) and the share
  of the 75-minute budget spent, so the budget ends on an annealed model (the paper uses an
  inverse square-root decay over 200k steps). The batch is 256 at peak 1e-3 (it did better
  than batch 128 at 2e-3 on Beauty, ``docs/methods/tiger.md``). Epochs are selected every 8
  epochs on 4,096 seeded validation users, with a patience of 10 validations;
* the cpu profile trains the T5 with ``train_precision="auto"``: bf16 matrix products on a CPU
  with native bf16 (weights, optimizer, losses and decoding stay fp32), fp32 on CUDA, where
  bf16 autocast was measured slower for a model this small (``training/precision.py``). bf16
  and fp32 reached the same validation NDCG@10 at equal epochs on Beauty
  (``docs/methods/tiger.md``);
* item content where the text is a proxy: TIGER embeds title, price, brand and categories;
  the Amazon 2014 P5 data here has only the 3-7 word IDGenRec proxy text plus S3-Rec's
  brand/category codes (integers without names). The cpu profile appends those codes to
  the text embedding (``text.attribute_weight = 1``: the code part has the same norm as the
  text part); datasets without codes (Scientific, with real text fields) are unaffected.
  The run record's ``semantic_ids.text_embeddings.attributes`` says whether codes were used;
  their effect on Beauty is in ``docs/methods/tiger.md``;
* early stopping on validation NDCG@10 computed by the suite's evaluator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from genrec_bench import config_checks as checks
from genrec_bench.data.split import SequenceSplits
from genrec_bench.evaluation import Validator
from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level, code_diagnostics
from genrec_bench.generative.seq2seq_training import fit_seq2seq
from genrec_bench.generative.t5_generator import T5GeneratorConfig
from genrec_bench.generative.text_embeddings import TextEmbeddingConfig, dataset_text_embeddings
from genrec_bench.generative.tokenizers import (
    RQKMeansConfig,
    RQVAEConfig,
    fit_rq_kmeans,
    fit_rq_vae,
)
from genrec_bench.paths import artifact_key, cache_dir
from genrec_bench.recommender import FitReport, HistoryBatch, Recommender, TopK
from genrec_bench.registry import register_method
from genrec_bench.training.generator_config import CPU_GENERATOR_TRAINING, GeneratorTrainingConfig
from genrec_bench.training.seeding import seed_everything


@dataclass(frozen=True)
class TIGERConfig:
    """Attributes:
    tokenizer: ``rqvae`` (TIGER) or ``rqkmeans`` (GRID's cheap alternative).
    rqvae, rqkmeans: the tokenizers' configs.
    text: item text embedding settings.
    generator: T5 sizes.
    training: the generator's training, validation and decoding (shared by every
        semantic-ID method; TIGER reads 20 items of history).
    """

    tokenizer: str = "rqvae"
    rqvae: RQVAEConfig = field(default_factory=RQVAEConfig)
    rqkmeans: RQKMeansConfig = field(default_factory=RQKMeansConfig)
    text: TextEmbeddingConfig = field(default_factory=TextEmbeddingConfig)
    generator: T5GeneratorConfig = field(default_factory=T5GeneratorConfig)
    training: GeneratorTrainingConfig = field(default_factory=GeneratorTrainingConfig)

    def __post_init__(self) -> None:
        checks.one_of(self, "tokenizer", ("rqvae", "rqkmeans"))


PROFILES = {
    "smoke": TIGERConfig(
        tokenizer="rqkmeans", rqkmeans=RQKMeansConfig(levels=2, codebook_size=16, iterations=10),
        generator=T5GeneratorConfig(d_model=32, d_ff=64, num_layers=1, num_decoder_layers=1,
                                    num_heads=2, d_kv=16),
        training=GeneratorTrainingConfig(max_history=10, training_prefixes="one-random", lr=1e-3,
                                         weight_decay=1e-4, max_epochs=2, patience=1)),
    # 2-core CPU budget (about 80 minutes on Beauty): a smaller T5 and the shared cpu
    # generator recipe (a cosine that ends with the 75-minute budget); see the module docstring
    "cpu": TIGERConfig(
        rqvae=RQVAEConfig(epochs=300), text=TextEmbeddingConfig(attribute_weight=1.0),
        generator=T5GeneratorConfig(d_model=128, d_ff=512, num_layers=2, num_decoder_layers=2,
                                    num_heads=4, d_kv=32, train_precision="auto"),
        training=CPU_GENERATOR_TRAINING),
    "paper": TIGERConfig(rqvae=RQVAEConfig(epochs=20000)),
}


def build_semantic_ids(embeddings: np.ndarray, config: TIGERConfig, seed: int, embedding_info: dict,
                       device: torch.device) -> SemanticIds:
    """Train (or load from the cache) the tokenizer and add the disambiguation level."""
    tokenizer_config = asdict(config.rqvae if config.tokenizer == "rqvae" else config.rqkmeans)
    identity = {"tokenizer": config.tokenizer, "config": tokenizer_config, "seed": seed,
                "embeddings": embedding_info.get("content_key"), "n_items": int(embeddings.shape[0] - 1)}
    key = artifact_key(identity)
    path = cache_dir() / f"semantic-ids-{key}"
    if path.with_suffix(".json").exists():
        return SemanticIds.load(path, expect_config=identity)
    body = embeddings[1:]
    if config.tokenizer == "rqvae":
        codes, info, _ = fit_rq_vae(body, config.rqvae, seed, device)
        sizes = (config.rqvae.codebook_size,) * config.rqvae.levels
    else:
        codes, info = fit_rq_kmeans(body, config.rqkmeans, seed)
        sizes = (config.rqkmeans.codebook_size,) * config.rqkmeans.levels
    diagnostics = {**code_diagnostics(codes, sizes), **info}
    full, dedup_size = add_dedup_level(codes)
    ids = SemanticIds(codes=np.vstack([np.zeros((1, full.shape[1]), dtype=np.int64), full]),
                      level_sizes=(*sizes, dedup_size), dedup_level=True, config=identity,
                      diagnostics=diagnostics)
    ids.save(path)
    return ids


@register_method("tiger", config=TIGERConfig, profiles=PROFILES)
class TIGER(Recommender):
    """Semantic-ID generative retrieval with a T5 and trie-constrained beam search."""

    uses_item_text = True

    def fit(self, splits: SequenceSplits, validator: Validator | None = None) -> FitReport:
        cfg: TIGERConfig = self.config
        rng = seed_everything(self.seed)
        embeddings, embedding_info = dataset_text_embeddings(splits.dataset, cfg.text, self.name)
        self.ids = build_semantic_ids(embeddings, cfg, self.seed, embedding_info, self.device)
        report = fit_seq2seq(self, splits, self.ids, cfg.training, cfg.generator, validator, rng)
        report.extra["semantic_ids"] = {"level_sizes": list(self.ids.level_sizes),
                                        "diagnostics": self.ids.diagnostics,
                                        "text_embeddings": embedding_info}
        return report

    def recommend(self, histories: HistoryBatch, k: int, exclude: torch.Tensor | None = None) -> TopK:
        """Trie-constrained beams; items of ``exclude`` are pruned in the trie."""
        return self.seq2seq.recommend(histories, k, max_history=self.config.training.max_history,
                                      beam_width=self.config.training.beam_width, exclude=exclude)
