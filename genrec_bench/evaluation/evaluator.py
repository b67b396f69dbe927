"""The one evaluator: full ranking over all items, one held-out target per user.

Models never compute metrics. The evaluator asks a method for ``score_all`` (exact ranks
over the whole catalogue) or, when the method cannot score everything (beam-search
decoders), for ``recommend(histories, k)`` and ranks within the returned list.
Users are processed in chunks, so memory is bounded by ``batch_size x n_items`` floats.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from genrec_bench.data.split import EvalSplit
from genrec_bench.evaluation.ranks import TIE_POLICIES, ranks_from_scores, ranks_from_top_k
from genrec_bench.evaluation.result import EvalResult, parse_metric
from genrec_bench.recommender import HistoryBatch, Recommender
from genrec_bench.training.distributed import all_gather_objects, world

DEFAULT_KS = (1, 5, 10, 20)
CANDIDATES = ("all", "user-domain")
DEFAULT_METRICS = tuple(f"{m}@{k}" for m in ("recall", "ndcg", "mrr") for k in DEFAULT_KS)


@dataclass(frozen=True)
class EvalConfig:
    """Declared evaluation policies (all recorded in every run).

    Attributes:
        metrics: metric keys computed for records, ``name@K``.
        batch_size: users per chunk.
        tie_policy: ``pessimistic`` or ``optimistic`` (see ``ranks.py``).
        mask_history: remove items of the user's history from the ranking (the target is
            never removed). Default off, as in TIGER and LETTER.
        top_k: list length asked from methods without ``score_all`` (>= the largest K).
        candidates: ``all`` (every item) or ``user-domain`` (multi-domain datasets: only the
            items of the user's own domain are ranked, as a domain-aware decoder returns them;
            items of other domains are removed from scores and from top-k lists).
    """

    metrics: tuple[str, ...] = DEFAULT_METRICS
    batch_size: int = 256
    tie_policy: str = "pessimistic"
    mask_history: bool = False
    top_k: int = 20
    candidates: str = "all"

    def __post_init__(self) -> None:
        if self.candidates not in CANDIDATES:
            raise ValueError(f"candidates must be one of {CANDIDATES}, got {self.candidates!r}")
        if self.tie_policy not in TIE_POLICIES:
            raise ValueError(f"tie_policy must be one of {TIE_POLICIES}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        largest = max(parse_metric(m)[1] for m in self.metrics)
        if self.top_k < largest:
            raise ValueError(f"top_k={self.top_k} is smaller than the largest metric cut-off {largest}")


class Evaluator:
    """Ranks each user's target and returns an :class:`EvalResult`."""

    def __init__(self, config: EvalConfig | None = None, *, n_items: int, item_domain: np.ndarray | None = None,
                 user_domain: np.ndarray | None = None) -> None:
        """``item_domain`` (int64 ``[n_items + 1]``) and ``user_domain`` (int64 ``[n_users]``)
        are needed for ``candidates="user-domain"``."""
        self.config = config or EvalConfig()
        self.n_items = n_items
        if self.config.candidates == "user-domain" and (item_domain is None or user_domain is None):
            raise ValueError("candidates='user-domain' needs item_domain and user_domain (a multi-domain dataset)")
        self.item_domain = None if item_domain is None else torch.from_numpy(np.asarray(item_domain))
        self.user_domain = None if user_domain is None else np.asarray(user_domain)

    def evaluate(self, model: Recommender, split: EvalSplit) -> EvalResult:
        """Rank every user's target; the model's modules are in eval mode meanwhile."""
        modules = model.torch_modules()
        was_training = [m.training for m in modules]
        for m in modules:
            m.eval()
        try:
            with torch.no_grad():
                return self._evaluate(model, split)
        finally:
            for m, flag in zip(modules, was_training, strict=True):
                m.train(flag)

    def _evaluate(self, model: Recommender, split: EvalSplit) -> EvalResult:
        cfg = self.config
        n = len(split)
        ranks = np.empty(n, dtype=np.int64)
        tied = np.empty(n, dtype=bool)
        empty = np.zeros(n, dtype=np.int64)
        ranking, cutoff = "full", None
        # users of similar history length share a chunk, so padded batches stay narrow;
        # results are written back in the split's order
        order = np.argsort(split.histories.lengths, kind="stable")
        # under torch.distributed every rank ranks every size-th chunk; results are gathered
        current = world()
        starts = list(range(0, n, cfg.batch_size))[current.rank::current.size]
        for start in starts:
            rows = order[start:start + cfg.batch_size]
            batch = HistoryBatch(users=split.users[rows], sequences=split.histories.select(rows))
            targets = torch.from_numpy(split.targets[rows])
            exclude = self._excluded(batch)
            scores = model.score_all(batch)
            if scores is not None:
                scores = scores.detach().cpu()
                r, t = ranks_from_scores(scores, targets, tie_policy=cfg.tie_policy, exclude=exclude)
            else:
                ranking, cutoff = "top-k", cfg.top_k
                top = model.recommend(batch, cfg.top_k)
                items, top_scores = top.items.detach().cpu(), top.scores.detach().cpu()
                empty[rows] = (cfg.top_k - (items != 0).sum(dim=1)).numpy()     # before any removal
                if exclude is not None:
                    items, top_scores = _drop(exclude, items, top_scores)
                r, t = ranks_from_top_k(items, top_scores, targets, tie_policy=cfg.tie_policy)
            ranks[rows] = r.numpy()
            tied[rows] = t.numpy()
        if current.distributed:
            mine = np.concatenate([order[s:s + cfg.batch_size] for s in starts]) if starts else order[:0]
            for rows, r, t, e, kind in all_gather_objects((mine, ranks[mine], tied[mine], empty[mine],
                                                           (ranking, cutoff))):
                ranks[rows], tied[rows], empty[rows] = r, t, e
                if kind[0] == "top-k":
                    ranking, cutoff = kind
        return EvalResult(users=split.users.copy(), targets=split.targets.copy(), ranks=ranks,
                          tied=tied, ranking=ranking, cutoff=cutoff, settings=self.settings(),
                          empty_slots=empty if ranking == "top-k" else None)

    def settings(self) -> dict:
        over = ("all items" if self.config.candidates == "all"
                else "the items of the user's own domain")
        return {**asdict(self.config), "metrics": list(self.config.metrics),
                "protocol": f"full ranking over {over}, one target per user"}

    def _excluded(self, batch: HistoryBatch) -> torch.Tensor | None:
        """bool ``[B, n_items + 1]`` of items removed from this chunk's rankings (history items
        with ``mask_history``, other domains' items with ``candidates="user-domain"``), or None."""
        exclude = self._history_mask(batch) if self.config.mask_history else None
        if self.config.candidates == "user-domain":
            own = torch.from_numpy(self.user_domain[batch.users]).unsqueeze(1)
            other = self.item_domain.unsqueeze(0) != own
            exclude = other if exclude is None else exclude | other
        return exclude

    def _history_mask(self, batch: HistoryBatch) -> torch.Tensor:
        seqs = batch.sequences
        mask = torch.zeros((len(batch), self.n_items + 1), dtype=torch.bool)
        rows = torch.from_numpy(np.repeat(np.arange(len(batch)), seqs.lengths))
        mask[rows, torch.from_numpy(seqs.items)] = True
        return mask


def _drop(exclude: torch.Tensor, items: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Empty the slots of top-k ``items [B, k]`` that ``exclude [B, n_items + 1]`` removes."""
    removed = exclude.gather(1, items) & (items != 0)
    return (torch.where(removed, torch.zeros_like(items), items),
            torch.where(removed, torch.full_like(scores, -torch.inf), scores))
