"""BERT4Rec (Sun et al., CIKM 2019): a bidirectional Transformer trained with the cloze task.

Follows RecBole's BERT4Rec defaults: 2 blocks, 2 heads, hidden 64, inner 256, dropout 0.2,
GELU, ``mask_ratio`` 0.2, ``ft_ratio`` 0.5 (the share of training sequences in which only the
last item is masked, matching the test-time task), cross-entropy over all items at masked
positions, output head ``dense -> GELU -> LayerNorm -> tied item embeddings + bias``. At
inference a ``[MASK]`` token is appended after the history and its output scores every item.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genrec_bench import config_checks as checks
from genrec_bench.data.split import SequenceSplits
from genrec_bench.evaluation import Validator
from genrec_bench.modules import SequenceTransformer, fused_linear_cross_entropy
from genrec_bench.recommender import FitReport, HistoryBatch, Recommender, TopK, top_k_from_scores
from genrec_bench.registry import register_method
from genrec_bench.training.batching import length_grouped_batches, tail_window
from genrec_bench.training.distributed import shard, wrap
from genrec_bench.training.loop import Schedule, adam_step, run_epochs
from genrec_bench.training.seeding import seed_everything


@dataclass(frozen=True)
class BERT4RecConfig:
    """BERT4Rec hyper-parameters (RecBole ``BERT4Rec.yaml`` defaults).

    Attributes:
        hidden_size, n_layers, n_heads, inner_size, dropout: Transformer sizes.
        max_len: the longest sequence including the appended ``[MASK]`` (RecBole 50).
        mask_ratio: probability of masking each item of a training sequence.
        ft_ratio: probability that a training sequence masks only its last item.
        lr, weight_decay, batch_size: Adam settings (batch = sequences per step; assumption).
        max_epochs, patience: early stopping on validation ``selection_metric``. BERT4Rec
            underfits with short schedules (Petrov & Macdonald 2022), so patience is generous.
        time_budget_s: stop after the epoch crossing this much time (0 = none).
    """

    hidden_size: int = 64
    n_layers: int = 2
    n_heads: int = 2
    inner_size: int = 256
    dropout: float = 0.2
    max_len: int = 50
    mask_ratio: float = 0.2
    ft_ratio: float = 0.5
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
        checks.in_range(self, "mask_ratio", 1e-9, 1.0, high_inclusive=True)
        checks.in_range(self, "ft_ratio", 0.0, 1.0, high_inclusive=True)
        checks.in_range(self, "lr", 1e-12, 10.0)
        checks.in_range(self, "time_budget_s", 0.0, float("inf"))


PROFILES = {
    "smoke": BERT4RecConfig(hidden_size=16, n_layers=1, n_heads=1, inner_size=32, max_len=20,
                            batch_size=128, max_epochs=2, patience=1),
    # sized for a 2-core CPU; BERT4Rec converges slowly, hence a patience of 20 epochs (the
    # measured epoch times and best epochs on Beauty: docs/methods/bert4rec.md)
    "cpu": BERT4RecConfig(max_epochs=150, patience=20, time_budget_s=24 * 60),
    "paper": BERT4RecConfig(),
}


class _ClozeHead(nn.Module):
    """``dense -> GELU -> LayerNorm``, then logits against the tied item embeddings + bias."""

    def __init__(self, hidden_size: int, n_items: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.norm = nn.LayerNorm(hidden_size, eps=1e-12)
        self.bias = nn.Parameter(torch.zeros(n_items + 1))

    def forward(self, hidden: torch.Tensor, item_weight: torch.Tensor) -> torch.Tensor:
        """hidden ``[P, d]``, item_weight ``[n_items + 1, d]`` -> logits ``[P, n_items + 1]``."""
        return self.norm(F.gelu(self.dense(hidden))) @ item_weight.T + self.bias


class _BERT4RecNet(nn.Module):
    def __init__(self, cfg: BERT4RecConfig, n_items: int) -> None:
        super().__init__()
        self.n_items = n_items
        self.mask_token = n_items + 1
        self.encoder = SequenceTransformer(
            n_tokens=n_items + 2, hidden_size=cfg.hidden_size, n_layers=cfg.n_layers,
            n_heads=cfg.n_heads, inner_size=cfg.inner_size, dropout=cfg.dropout,
            max_len=cfg.max_len, causal=False)
        self.head = _ClozeHead(cfg.hidden_size, n_items)

    def forward(self, inputs: torch.Tensor, masked: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The cloze loss of ``inputs [B, L]`` (masked positions hold [MASK]) at ``masked``."""
        return self.cloze_loss(self.encoder(inputs)[masked], targets[masked])

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """``[P, d]`` -> ``[P, n_items + 1]`` (column 0 = padding)."""
        return self.head(hidden, self.encoder.item_embedding.weight[: self.n_items + 1])

    def cloze_loss(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean CE over the real items (never padding or [MASK]) of ``hidden [P, d]`` against
        ``targets [P]`` in ``1..n_items``; the bias is folded in as an extra input column."""
        h = self.head.norm(F.gelu(self.head.dense(hidden)))
        h = torch.cat([h, torch.ones_like(h[:, :1])], dim=1)                 # [P, d + 1]
        weight = torch.cat([self.encoder.item_embedding.weight[1: self.n_items + 1],
                            self.head.bias[1:].unsqueeze(1)], dim=1)        # [n_items, d + 1]
        return fused_linear_cross_entropy(h, weight, targets - 1)


@register_method("bert4rec", config=BERT4RecConfig, profiles=PROFILES)
class BERT4Rec(Recommender):
    """Bidirectional sequential recommendation with the cloze objective."""

    def fit(self, splits: SequenceSplits, validator: Validator | None = None) -> FitReport:
        cfg: BERT4RecConfig = self.config
        rng = seed_everything(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        self.net = _BERT4RecNet(cfg, splits.n_items).to(self.device)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        train_net = wrap(self.net)  # DistributedDataParallel under torchrun
        train = splits.train
        lengths = train.lengths

        def train_epoch(epoch: int) -> dict:
            total, steps, masked_total = 0.0, 0, 0
            for rows in shard(length_grouped_batches(lengths, cfg.batch_size, rng)):
                tokens = torch.from_numpy(tail_window(train, rows, cfg.max_len))
                masked = cloze_mask(tokens, cfg.mask_ratio, cfg.ft_ratio, generator)
                inputs = torch.where(masked, torch.full_like(tokens, self.net.mask_token), tokens)
                loss = train_net(inputs.to(self.device), masked.to(self.device), tokens.to(self.device))
                adam_step(optimizer, loss, self.net.parameters())
                total += loss.item()
                steps += 1
                masked_total += int(masked.sum())
            return {"loss": total / max(steps, 1), "steps": steps, "samples": masked_total}

        schedule = Schedule(max_epochs=cfg.max_epochs, patience=cfg.patience,
                            time_budget_s=cfg.time_budget_s)
        return run_epochs(self, train_epoch, validator, schedule, optimizer=optimizer,
                          generators={"data_order": rng, "masking": generator}, checkpoint_path=self.checkpoint_path)

    def score_all(self, histories: HistoryBatch) -> torch.Tensor:
        cfg: BERT4RecConfig = self.config
        # the last max_len - 1 items, then [MASK] right after the last real item
        tokens = histories.padded(cfg.max_len - 1, align="left", device=self.device)
        tokens = torch.cat([tokens, torch.zeros_like(tokens[:, :1])], dim=1)
        lengths = histories.lengths(cfg.max_len - 1, device=self.device)
        rows = torch.arange(tokens.shape[0], device=self.device)
        tokens[rows, lengths] = self.net.mask_token
        hidden = self.net.encoder(tokens)                                  # [B, L, d]
        return self.net.logits(hidden[rows, lengths])                      # [B, n_items + 1]

    def recommend(self, histories: HistoryBatch, k: int) -> TopK:
        return top_k_from_scores(self.score_all(histories), k)


def cloze_mask(tokens: torch.Tensor, mask_ratio: float, ft_ratio: float,
               generator: torch.Generator) -> torch.Tensor:
    """bool ``[B, L]``: the positions to mask in left-aligned ``tokens`` (0 = padding).

    Each real item is masked with probability ``mask_ratio``; a sequence with no masked item
    gets its last item masked; with probability ``ft_ratio`` a sequence masks only its last item.
    """
    real = tokens > 0
    masked = (torch.rand(tokens.shape, generator=generator) < mask_ratio) & real
    last = real.sum(dim=1) - 1                                             # [B]
    only_last = torch.zeros_like(masked)
    only_last[torch.arange(tokens.shape[0]), last] = True
    last_only_rows = (torch.rand(tokens.shape[0], generator=generator) < ft_ratio) | ~masked.any(dim=1)
    return torch.where(last_only_rows.unsqueeze(1), only_last, masked)
