"""SASRec (Kang & McAuley, ICDM 2018): causal self-attention over the item sequence.

Follows RecBole's SASRec defaults (2 blocks, 2 heads, hidden 64, inner 256, dropout 0.5,
GELU, max length 50, Adam 1e-3) with its cross-entropy loss over all items, computed at every
non-padded position of each user's training sequence (one forward pass trains all prefixes,
equivalent in targets to RecBole's prefix augmentation). Scores are the dot products of the
last hidden state with the (tied) item embeddings, so the whole catalogue is scored exactly.
Choices the paper leaves open are named as assumptions in the config's docstring.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genrec_bench import config_checks as checks
from genrec_bench.data.split import SequenceSplits
from genrec_bench.evaluation import Validator
from genrec_bench.modules import SequenceTransformer
from genrec_bench.recommender import FitReport, HistoryBatch, Recommender, TopK, top_k_from_scores
from genrec_bench.registry import register_method
from genrec_bench.training.distributed import wrap
from genrec_bench.training.loop import Schedule, run_epochs
from genrec_bench.training.next_item import causal_next_item_epoch, causal_scores_all
from genrec_bench.training.seeding import seed_everything


@dataclass(frozen=True)
class SASRecConfig:
    """SASRec hyper-parameters (RecBole ``SASRec.yaml`` / ``overall.yaml`` defaults).

    Attributes:
        hidden_size, n_layers, n_heads, inner_size: Transformer sizes.
        dropout: hidden and attention dropout (RecBole: 0.5 and 0.5).
        max_len: longest history used (RecBole ``MAX_ITEM_LIST_LENGTH`` 50).
        lr, weight_decay, batch_size: Adam settings; batch = users per step (assumption:
            256 users, about as many target positions as RecBole's 2048 prefixes).
        max_epochs, patience: early stopping on validation ``selection_metric``
            (RecBole: 300 epochs, ``stopping_step`` 10).
        time_budget_s: stop after the epoch crossing this much time (0 = none).
    """

    hidden_size: int = 64
    n_layers: int = 2
    n_heads: int = 2
    inner_size: int = 256
    dropout: float = 0.5
    max_len: int = 50
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 256
    max_epochs: int = 300
    patience: int = 10
    time_budget_s: float = 0.0
    selection_metric: str = "ndcg@10"

    def __post_init__(self) -> None:
        checks.positive_ints(self, "hidden_size", "n_layers", "n_heads", "inner_size", "max_len",
                             "batch_size", "max_epochs", "patience")
        checks.divisible(self, "hidden_size", "n_heads")
        checks.in_range(self, "dropout", 0.0, 1.0)
        checks.in_range(self, "lr", 1e-12, 10.0)
        checks.in_range(self, "time_budget_s", 0.0, float("inf"))


PROFILES = {
    "smoke": SASRecConfig(hidden_size=16, n_layers=1, n_heads=1, inner_size=32, max_len=20,
                          batch_size=128, max_epochs=2, patience=1),
    # sized for a 2-core CPU: 40 epochs or 11 minutes, with room past the epoch where Beauty's
    # validation peaks (the measured epoch times and best epochs: docs/methods/sasrec.md)
    "cpu": SASRecConfig(max_epochs=40, patience=5, time_budget_s=11 * 60),
    "paper": SASRecConfig(),
}


@register_method("sasrec", config=SASRecConfig, profiles=PROFILES)
class SASRec(Recommender):
    """Self-attentive sequential recommendation with full-softmax cross-entropy."""

    def fit(self, splits: SequenceSplits, validator: Validator | None = None) -> FitReport:
        cfg: SASRecConfig = self.config
        rng = seed_everything(self.seed)
        self.net = SequenceTransformer(
            n_tokens=splits.n_items + 1, hidden_size=cfg.hidden_size, n_layers=cfg.n_layers,
            n_heads=cfg.n_heads, inner_size=cfg.inner_size, dropout=cfg.dropout,
            max_len=cfg.max_len, causal=True).to(self.device)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        train_net = wrap(self.net)  # DistributedDataParallel under torchrun

        def train_epoch(epoch: int) -> dict:
            return causal_next_item_epoch(self.net, train_net, splits.train, max_len=cfg.max_len,
                                          batch_size=cfg.batch_size, rng=rng, optimizer=optimizer,
                                          device=self.device)

        schedule = Schedule(max_epochs=cfg.max_epochs, patience=cfg.patience,
                            time_budget_s=cfg.time_budget_s)
        return run_epochs(self, train_epoch, validator, schedule, optimizer=optimizer,
                          generators={"data_order": rng}, checkpoint_path=self.checkpoint_path)

    def score_all(self, histories: HistoryBatch) -> torch.Tensor:
        cfg: SASRecConfig = self.config
        return causal_scores_all(self.net, histories.padded(cfg.max_len, align="left", device=self.device),
                                 histories.lengths(cfg.max_len, device=self.device))

    def recommend(self, histories: HistoryBatch, k: int) -> TopK:
        return top_k_from_scores(self.score_all(histories), k)

