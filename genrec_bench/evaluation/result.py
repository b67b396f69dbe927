"""The evaluator's output: per-user ranks, from which every metric is derived on demand."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from genrec_bench.evaluation.metrics import METRICS


@dataclass(frozen=True)
class EvalResult:
    """Per-user outcome of one evaluation.

    Attributes:
        users: int64 ``[n]`` user indices.
        targets: int64 ``[n]`` target items.
        ranks: int64 ``[n]`` 1-based target ranks (``NOT_RETRIEVED`` if outside the list).
        tied: bool ``[n]`` whether the target's score was tied with another item.
        ranking: ``"full"`` (every item scored) or ``"top-k"`` (ranks beyond the list are unknown).
        cutoff: the list length for ``"top-k"`` rankings, else ``None``.
        settings: the evaluator's declared policies (ties, history masking, ...).
        empty_slots: int64 ``[n]`` slots of each user's top-k list holding no item after the
            evaluator removed excluded items (an invalid generated ID, fewer valid items than
            ``cutoff``, or items removed and not refilled); ``None`` for full rankings.
        lists: int32 ``[n, cutoff]`` each user's list as the method returned it (before any
            removal; ``0`` = empty slot), kept so a record can be re-scored under another
            protocol without retraining; ``None`` for full rankings.
        list_ties: bool ``[n, cutoff]``: slot ``j`` scored exactly as slot ``j - 1`` (column 0
            is False); with ``lists`` it gives the ranks within each list without the scores.
    """

    users: np.ndarray
    targets: np.ndarray
    ranks: np.ndarray
    tied: np.ndarray
    ranking: str
    cutoff: int | None
    settings: dict = field(default_factory=dict)
    empty_slots: np.ndarray | None = None
    lists: np.ndarray | None = None
    list_ties: np.ndarray | None = None

    def per_user(self, metric: str) -> np.ndarray:
        """float64 ``[n]`` values of ``metric`` (e.g. ``"ndcg@10"``) for every user."""
        name, k = parse_metric(metric)
        if self.cutoff is not None and k > self.cutoff:
            raise ValueError(f"{metric} needs a list of at least {k} items; this evaluation kept {self.cutoff}")
        return METRICS[name](self.ranks, k)

    def mean(self, metric: str) -> float:
        """The mean over users, in float64, never rounded."""
        return float(self.per_user(metric).mean()) if len(self.ranks) else float("nan")

    def metrics(self, names: list[str]) -> dict[str, float]:
        return {name: self.mean(name) for name in names}

    def subset(self, mask: np.ndarray) -> EvalResult:
        """The result restricted to the users where ``mask`` (bool ``[n]``) is true."""
        return EvalResult(self.users[mask], self.targets[mask], self.ranks[mask], self.tied[mask],
                          self.ranking, self.cutoff, self.settings,
                          None if self.empty_slots is None else self.empty_slots[mask],
                          None if self.lists is None else self.lists[mask],
                          None if self.list_ties is None else self.list_ties[mask])

    def list_summary(self) -> dict[str, float] | None:
        """For top-k rankings: the share of list slots holding no item and the share of users
        with at least one such slot (``None`` for full rankings)."""
        if self.empty_slots is None or self.cutoff is None or not len(self.ranks):
            return None
        return {"empty_slot_rate": float(self.empty_slots.mean() / self.cutoff),
                "users_with_empty_slots": float((self.empty_slots > 0).mean())}


def parse_metric(metric: str) -> tuple[str, int]:
    """``"ndcg@10"`` -> ``("ndcg", 10)``; unknown names raise with the valid ones."""
    name, sep, k = metric.partition("@")
    if not sep or not k.isdigit() or int(k) < 1:
        raise ValueError(f"metric {metric!r} is not of the form name@K (e.g. ndcg@10)")
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; valid: {', '.join(sorted(METRICS))}")
    return name, int(k)
