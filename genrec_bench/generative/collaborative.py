"""Collaborative item embeddings: the item table of a SASRec trained on the training split.

LETTER aligns its tokenizer with 32-d SASRec item embeddings, ETEGRec tokenizes 256-d SASRec
embeddings, and FlexCode's collaborative codebook quantizes them. This module trains that
SASRec once per (training data, config, seed) and caches the table on disk, so every method
that needs it reads the same artifact.

The network and loss are the suite's SASRec (causal transformer, cross-entropy over all
items, see ``training/next_item.py``); the epoch is selected on the validation split by the
suite's evaluator, never on test. Rows: ``[n_items + 1, dim]``, row 0 (padding) is zero.
An interrupted training is not resumed (it takes minutes); it restarts from scratch.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass

import numpy as np
import torch

from genrec_bench import config_checks as checks
from genrec_bench.data.split import SequenceSplits
from genrec_bench.errors import ConfigError
from genrec_bench.evaluation.validator import Validator
from genrec_bench.modules import SequenceTransformer
from genrec_bench.paths import artifact_key, cache_dir
from genrec_bench.recommender import FitReport, HistoryBatch, Recommender, TopK, top_k_from_scores
from genrec_bench.records.atomic import atomic_write_bytes, atomic_write_json
from genrec_bench.training.distributed import world, wrap
from genrec_bench.training.loop import Schedule, run_epochs
from genrec_bench.training.next_item import causal_next_item_epoch, causal_scores_all
from genrec_bench.training.seeding import seed_everything


@dataclass(frozen=True)
class CollaborativeEmbeddingConfig:
    """The SASRec whose item table is the collaborative embedding.

    Attributes:
        dim: embedding size (LETTER: 32, ETEGRec: 256).
        n_layers, n_heads: Transformer blocks and heads (SASRec paper: 2 and 1).
        inner_factor: feed-forward size = ``inner_factor * dim`` (RecBole: 256 = 4 x 64).
        dropout, max_len, lr, batch_size: as the SASRec baseline (RecBole defaults).
        max_epochs, patience, time_budget_s: the schedule; epochs selected on validation.
    """

    dim: int = 32
    n_layers: int = 2
    n_heads: int = 1
    inner_factor: int = 4
    dropout: float = 0.5
    max_len: int = 50
    lr: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 40
    patience: int = 5
    time_budget_s: float = 0.0

    def __post_init__(self) -> None:
        checks.positive_ints(self, "dim", "n_layers", "n_heads", "inner_factor", "max_len", "batch_size",
                             "max_epochs", "patience")
        checks.divisible(self, "dim", "n_heads")
        checks.in_range(self, "dropout", 0.0, 1.0)
        checks.in_range(self, "lr", 1e-12, 10.0)
        checks.in_range(self, "time_budget_s", 0.0, float("inf"))


@dataclass(frozen=True)
class CollaborativeEmbeddings:
    """Attributes:
    table: float32 ``[n_items + 1, dim]``; row 0 = padding (zeros).
    info: how it was made (config, seed, selected epoch, validation value, cache file).
    """

    table: np.ndarray
    info: dict


class _SASRecScorer(Recommender):
    """The embedding trainer seen through the suite's interface, so that the suite's
    evaluator selects its epoch. Not a registered method (the baseline is ``sasrec``)."""

    name = "collaborative-sasrec"

    def __init__(self, net: SequenceTransformer, max_len: int, device: torch.device) -> None:
        super().__init__(None, device=device)
        self.net = net
        self.max_len = max_len

    def fit(self, splits: SequenceSplits, validator: Validator | None = None) -> FitReport:
        raise NotImplementedError("trained by collaborative_item_embeddings")

    def score_all(self, histories: HistoryBatch) -> torch.Tensor:
        return causal_scores_all(self.net, histories.padded(self.max_len, align="left", device=self.device),
                                 histories.lengths(self.max_len, device=self.device))

    def recommend(self, histories: HistoryBatch, k: int) -> TopK:
        return top_k_from_scores(self.score_all(histories), k)


def _identity(splits: SequenceSplits, config: CollaborativeEmbeddingConfig, seed: int) -> dict:
    train = splits.train
    digest = hashlib.sha256(train.items.tobytes() + train.offsets.tobytes()).hexdigest()[:16]
    return {"kind": "collaborative-sasrec", "config": asdict(config), "seed": seed,
            "dataset": splits.dataset.name, "n_items": splits.n_items, "train_sha256_16": digest}


def collaborative_item_embeddings(splits: SequenceSplits, config: CollaborativeEmbeddingConfig, *,
                                  seed: int, device: torch.device, validator: Validator | None) -> CollaborativeEmbeddings:
    """The cached table for this training data, config and seed; trained when absent.

    Args:
        validator: selects the epoch on validation NDCG@10 (``None``: keep the last epoch).
    """
    identity = _identity(splits, config, seed)
    key = artifact_key(identity)
    path = cache_dir() / f"collaborative-{key}.npy"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        info = json.loads(meta.read_text())
        if info.get("identity") != identity:
            raise ConfigError(f"{meta}: cached collaborative embeddings were made for another "
                              f"config or data (expected {identity})")
        table = np.load(path)
        if table.shape != (splits.n_items + 1, config.dim):
            raise ConfigError(f"{path}: shape {table.shape}, expected {(splits.n_items + 1, config.dim)}")
        return CollaborativeEmbeddings(table=table, info={**info, "cache_file": path.name})

    rng = seed_everything(seed)
    net = SequenceTransformer(n_tokens=splits.n_items + 1, hidden_size=config.dim, n_layers=config.n_layers,
                              n_heads=config.n_heads, inner_size=config.inner_factor * config.dim,
                              dropout=config.dropout, max_len=config.max_len, causal=True).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    train_net = wrap(net)
    scorer = _SASRecScorer(net, config.max_len, device)

    def train_epoch(epoch: int) -> dict:
        return causal_next_item_epoch(net, train_net, splits.train, max_len=config.max_len,
                                      batch_size=config.batch_size, rng=rng, optimizer=optimizer, device=device)

    schedule = Schedule(max_epochs=config.max_epochs, patience=config.patience, time_budget_s=config.time_budget_s)
    report = run_epochs(scorer, train_epoch, validator, schedule, optimizer=optimizer,
                        generators={"data_order": rng}, progress=False)
    table = net.item_embedding.weight.detach().cpu().numpy().astype(np.float32)
    table[0] = 0.0
    info = {"identity": identity, "best_epoch": report.best_epoch, "best_valid": report.best_valid,
            "epochs_trained": len(report.epochs), "stopped_by": report.stopped_by}
    if world().is_main:
        buffer = io.BytesIO()
        np.save(buffer, table)
        atomic_write_bytes(path, buffer.getvalue())
        atomic_write_json(meta, info)
    return CollaborativeEmbeddings(table=table, info={**info, "cache_file": path.name})
