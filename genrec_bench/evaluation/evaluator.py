"""The one evaluator: full ranking over all items, one held-out target per user.

Models never compute metrics. The evaluator asks a method for ``score_all`` (exact ranks
over the whole catalogue) or, when the method cannot score everything (beam-search
decoders), for ``recommend(histories, k)`` and ranks within the returned list.
Users are processed in chunks, so memory is bounded by ``batch_size x n_items`` floats.

Top-k lists are held to the same rules as full rankings:

* items a user may not receive (history with ``mask_history``, other domains with
  ``candidates="user-domain"``) are passed to ``recommend`` as ``exclude`` so that the method
  decodes ``k`` items the user may receive; the evaluator still removes any excluded item
  that comes back (a safety net; the later items move up, as in the full ranking) and
  counts the slots left empty after that removal;
* the user's target is never excluded, in either path;
* an empty slot (an ID that is no item) is a miss in its place (``invalid_slots="miss"``);
* NaN scores, item ids outside ``1..n_items``, an item twice in one list and scores that
  increase along a list are refused with an :class:`EvaluationError` naming the method and
  the first offending user.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from genrec_bench.data.split import EvalSplit
from genrec_bench.errors import GenRecError
from genrec_bench.evaluation.ranks import (
    INVALID_SLOT_POLICIES,
    TIE_POLICIES,
    ranks_from_scores,
    ranks_from_top_k,
)
from genrec_bench.evaluation.result import EvalResult, parse_metric
from genrec_bench.recommender import HistoryBatch, Recommender, TopK, accepts_exclude
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
        invalid_slots: ``miss`` (default) or ``skip``: whether an empty slot of a top-k list
            (an ID that is no item) keeps its place as a miss or is left out (see ``ranks.py``).
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
    invalid_slots: str = "miss"

    def __post_init__(self) -> None:
        if self.invalid_slots not in INVALID_SLOT_POLICIES:
            raise ValueError(f"invalid_slots must be one of {INVALID_SLOT_POLICIES}, got {self.invalid_slots!r}")
        if self.candidates not in CANDIDATES:
            raise ValueError(f"candidates must be one of {CANDIDATES}, got {self.candidates!r}")
        if self.tie_policy not in TIE_POLICIES:
            raise ValueError(f"tie_policy must be one of {TIE_POLICIES}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        largest = max(parse_metric(m)[1] for m in self.metrics)
        if self.top_k < largest:
            raise ValueError(f"top_k={self.top_k} is smaller than the largest metric cut-off {largest}")


class EvaluationError(GenRecError):
    """A method's scores or lists cannot be ranked (NaN, unknown item ids, duplicates)."""


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
        lists = np.zeros((n, cfg.top_k), dtype=np.int32)
        list_ties = np.zeros((n, cfg.top_k), dtype=bool)
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
            exclude = self._excluded(batch, targets)
            scores = model.score_all(batch)
            if scores is not None:
                scores = scores.detach().cpu()
                self._check_scores(model, batch, scores)
                r, t = ranks_from_scores(scores, targets, tie_policy=cfg.tie_policy, exclude=exclude)
            else:
                ranking, cutoff = "top-k", cfg.top_k
                top = self._recommend(model, batch, exclude)
                lists[rows] = top.items.numpy()
                list_ties[rows, 1:] = (top.scores[:, 1:] == top.scores[:, :-1]).numpy()
                items, top_scores = top.items, top.scores
                if exclude is not None:
                    items, top_scores = _drop(exclude, items, top_scores)
                empty[rows] = (items == 0).sum(dim=1).numpy()            # after the removal
                r, t = ranks_from_top_k(items, top_scores, targets, tie_policy=cfg.tie_policy,
                                        invalid_slots=cfg.invalid_slots)
            ranks[rows] = r.numpy()
            tied[rows] = t.numpy()
        if current.distributed:
            mine = np.concatenate([order[s:s + cfg.batch_size] for s in starts]) if starts else order[:0]
            gathered = all_gather_objects((mine, ranks[mine], tied[mine], empty[mine], lists[mine],
                                           list_ties[mine], (ranking, cutoff)))
            for rows, r, t, e, top, top_ties, kind in gathered:
                ranks[rows], tied[rows], empty[rows], lists[rows], list_ties[rows] = r, t, e, top, top_ties
                if kind[0] == "top-k":
                    ranking, cutoff = kind
        return EvalResult(users=split.users.copy(), targets=split.targets.copy(), ranks=ranks,
                          tied=tied, ranking=ranking, cutoff=cutoff, settings=self.settings(),
                          empty_slots=empty if ranking == "top-k" else None,
                          lists=lists if ranking == "top-k" else None,
                          list_ties=list_ties if ranking == "top-k" else None)

    def settings(self) -> dict:
        over = ("all items" if self.config.candidates == "all"
                else "the items of the user's own domain")
        return {**asdict(self.config), "metrics": list(self.config.metrics),
                "protocol": f"full ranking over {over}, one target per user"}

    def _excluded(self, batch: HistoryBatch, targets: torch.Tensor) -> torch.Tensor | None:
        """bool ``[B, n_items + 1]`` of items removed from this chunk's rankings (history items
        with ``mask_history``, other domains' items with ``candidates="user-domain"``), or None.
        A user's target is never removed (the rule of both the full and the top-k path)."""
        exclude = self._history_mask(batch) if self.config.mask_history else None
        if self.config.candidates == "user-domain":
            own = torch.from_numpy(self.user_domain[batch.users]).unsqueeze(1)
            other = self.item_domain.unsqueeze(0) != own
            exclude = other if exclude is None else exclude | other
        if exclude is not None:
            exclude[torch.arange(len(batch)), targets] = False
        return exclude

    def _recommend(self, model: Recommender, batch: HistoryBatch, exclude: torch.Tensor | None) -> TopK:
        """The method's checked top-k lists on the CPU, ``exclude`` passed where it is declared."""
        k = self.config.top_k
        if exclude is not None and accepts_exclude(model):
            top = model.recommend(batch, k, exclude=exclude)
        else:
            top = model.recommend(batch, k)
        items, scores = top.items.detach().cpu().long(), top.scores.detach().cpu().float()
        if items.shape != (len(batch), k) or scores.shape != items.shape:
            raise EvaluationError(f"{_name(model)}: recommend returned items {tuple(items.shape)} and scores "
                                  f"{tuple(scores.shape)} for {len(batch)} users, k={k}; expected ({len(batch)}, {k})")
        self._check_top_k(model, batch, items, scores)
        return TopK(items=items, scores=scores)

    def _check_scores(self, model: Recommender, batch: HistoryBatch, scores: torch.Tensor) -> None:
        """Refuse a score matrix of the wrong shape or with NaN (a NaN target ranks first)."""
        if scores.shape != (len(batch), self.n_items + 1):
            raise EvaluationError(f"{_name(model)}: score_all returned {tuple(scores.shape)} for {len(batch)} users; "
                                  f"expected ({len(batch)}, {self.n_items + 1}) (column 0 = padding)")
        # a NaN makes the sum NaN (a fast reduction); +inf with -inf too, hence the exact check
        if torch.isnan(scores[:, 1:].sum()) and torch.isnan(scores[:, 1:]).any():
            row = int(torch.isnan(scores[:, 1:]).any(dim=1).nonzero()[0])
            item = int(torch.isnan(scores[row, 1:]).nonzero()[0]) + 1
            raise EvaluationError(f"{_name(model)}: score_all gave NaN for user {int(batch.users[row])} "
                                  f"(item {item}, the first such user of the chunk); a NaN cannot be ranked")

    def _check_top_k(self, model: Recommender, batch: HistoryBatch, items: torch.Tensor,
                     scores: torch.Tensor) -> None:
        """Refuse lists whose ranks would be meaningless: NaN scores, ids outside
        ``0..n_items``, an item twice in one list, scores increasing along a list."""
        valid = items != 0
        problems = {
            "an item id outside 1..n_items (0 = empty slot)": (items < 0) | (items > self.n_items),
            "a NaN score": torch.isnan(scores) & valid,
            "an item twice in its list (the target would rank below its own copy)": _repeated(items),
        }
        increasing = torch.zeros_like(valid)
        increasing[:, 1:] = scores[:, 1:] > scores[:, :-1]
        problems["scores that increase along the list (lists are best first)"] = increasing
        for problem, bad in problems.items():
            if bad.any():
                row = int(bad.any(dim=1).nonzero()[0])
                raise EvaluationError(f"{_name(model)}: recommend returned {problem} for user "
                                      f"{int(batch.users[row])} (the first such user of the chunk): "
                                      f"items {items[row].tolist()}, scores {scores[row].tolist()}")

    def _history_mask(self, batch: HistoryBatch) -> torch.Tensor:
        seqs = batch.sequences
        mask = torch.zeros((len(batch), self.n_items + 1), dtype=torch.bool)
        rows = torch.from_numpy(np.repeat(np.arange(len(batch)), seqs.lengths))
        mask[rows, torch.from_numpy(seqs.items)] = True
        return mask


def _drop(exclude: torch.Tensor, items: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Remove from top-k ``items [B, k]`` the items that ``exclude [B, n_items + 1]`` removes
    (the caller never excludes a target): the later slots move up, as the item's removal from
    the candidates moves them up in a full ranking, and the freed slots at the end are empty."""
    removed = exclude.gather(1, items) & (items != 0)
    if not removed.any():
        return items, scores
    keep_order = torch.argsort(removed.to(torch.int8), dim=1, stable=True)   # kept slots first, in order
    items = torch.where(removed, torch.zeros_like(items), items).gather(1, keep_order)
    scores = torch.where(removed, torch.full_like(scores, -torch.inf), scores).gather(1, keep_order)
    return items, scores


def _repeated(items: torch.Tensor) -> torch.Tensor:
    """bool ``[B, k]``: slots holding an item (not 0) already held by an earlier slot."""
    same = items.unsqueeze(2) == items.unsqueeze(1)                       # [B, k, k]
    earlier = torch.ones(items.shape[1], items.shape[1], dtype=torch.bool).tril(-1)
    return (same & earlier).any(dim=2) & (items != 0)


def _name(model: Recommender) -> str:
    return model.name or type(model).__name__
