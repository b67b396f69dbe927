"""Popularity: recommend the items seen most often in training. The example of a method.

Everything a new method needs is in this one file:
1. a frozen config dataclass (validated in ``__post_init__``),
2. named profiles (``smoke``, ``cpu``, ``paper``),
3. a :class:`~genrec_bench.recommender.Recommender` subclass with ``fit`` and
   ``recommend`` (and ``score_all`` when it can score every item exactly),
4. the ``@register_method`` decorator. No other file of the suite is edited.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genrec_bench.data.split import SequenceSplits
from genrec_bench.evaluation import Validator
from genrec_bench.recommender import FitReport, HistoryBatch, Recommender, TopK, top_k_from_scores
from genrec_bench.registry import register_method


@dataclass(frozen=True)
class PopularityConfig:
    """Attributes:
    include_valid_items: also count the validation targets (off: train sequences only,
        so the model sees exactly what every other method trains on).
    """

    include_valid_items: bool = False


PROFILES = {name: PopularityConfig() for name in ("smoke", "cpu", "paper")}


@register_method("popularity", config=PopularityConfig, profiles=PROFILES)
class Popularity(Recommender):
    """Scores every item by its number of training interactions (same list for every user)."""

    def fit(self, splits: SequenceSplits, validator: Validator | None = None) -> FitReport:
        counts = torch.from_numpy(splits.train_item_counts()).double()
        if self.config.include_valid_items:
            counts += torch.bincount(torch.from_numpy(splits.valid.targets), minlength=counts.shape[0])
        self.counts = counts  # [n_items + 1]
        return FitReport(stopped_by="not_trainable")

    def score_all(self, histories: HistoryBatch) -> torch.Tensor:
        return self.counts.unsqueeze(0).expand(len(histories), -1)

    def recommend(self, histories: HistoryBatch, k: int) -> TopK:
        return top_k_from_scores(self.score_all(histories), k)
