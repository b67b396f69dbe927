"""Where each user's target lands: 1-based ranks from scores or from top-k lists.

Tie policy (declared, recorded in every run):
    ``pessimistic`` (default): items scoring exactly the target's score rank above it,
        so a method cannot gain from ties (e.g. a constant scorer ranks last, not first).
    ``optimistic``: tied items rank below the target.
The number of users whose target was tied with at least one other item is reported.

Invalid-slot policy of top-k lists (declared, recorded in every run): a slot holding no item
(``0``: a generated ID that is no item, or an empty beam) is
    ``miss`` (default): a miss in its place, so the items after it keep their positions (as
        ETEGRec's official evaluation counts an invalid ID);
    ``skip``: left out, so the items after it move up one rank each (flatters a decoder that
        wastes slots; kept only to reproduce numbers computed that way).
"""

from __future__ import annotations

import numpy as np
import torch

#: rank given to a target absent from a method's returned top-k list
NOT_RETRIEVED = np.iinfo(np.int32).max
TIE_POLICIES = ("pessimistic", "optimistic")
INVALID_SLOT_POLICIES = ("miss", "skip")


def ranks_from_scores(scores: torch.Tensor, targets: torch.Tensor, *, tie_policy: str = "pessimistic",
                      exclude: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact full-catalogue ranks.

    Args:
        scores: float ``[B, n_items + 1]``; column 0 (padding) is never ranked.
        targets: int64 ``[B]`` target item per row.
        tie_policy: one of ``TIE_POLICIES``.
        exclude: optional bool ``[B, n_items + 1]`` of items removed from the ranking
            (history masking); the target itself is never removed.
    Returns:
        (ranks int64 ``[B]`` 1-based, tied bool ``[B]``).
    """
    _check_policy(tie_policy)
    scores = scores.float()
    rows = torch.arange(scores.shape[0], device=scores.device)
    if exclude is not None:
        exclude = exclude.clone()
        exclude[rows, targets] = False
        scores = scores.masked_fill(exclude, -torch.inf)
    target_scores = scores[rows, targets].unsqueeze(1)
    items = scores[:, 1:]  # a view without the padding column: no copy of the matrix
    # float sums of comparison masks are exact below 2**24 items and faster than integer sums
    greater = (items > target_scores).float().sum(dim=1)
    at_least = (items >= target_scores).float().sum(dim=1)  # counts the target itself
    ties = (at_least - greater - 1).long()
    ranks = greater.long() + 1 + (ties if tie_policy == "pessimistic" else 0)
    return ranks, ties > 0


def ranks_from_top_k(items: torch.Tensor, scores: torch.Tensor, targets: torch.Tensor, *,
                     tie_policy: str = "pessimistic",
                     invalid_slots: str = "miss") -> tuple[torch.Tensor, torch.Tensor]:
    """Ranks from top-k lists; a target not in its list gets ``NOT_RETRIEVED``.

    Within the list the target ranks after every item scoring higher (and, when
    pessimistic, every other item scoring the same); with ``invalid_slots="miss"`` also
    after every empty slot (``0``) placed before it.

    Args:
        items: int64 ``[B, k]`` returned items, best first (``0`` = empty slot).
        scores: float ``[B, k]`` their scores, non-increasing along each row.
        targets: int64 ``[B]``.
        tie_policy: one of ``TIE_POLICIES``.
        invalid_slots: one of ``INVALID_SLOT_POLICIES``.
    Returns:
        (ranks int64 ``[B]``, tied bool ``[B]``).
    """
    _check_policy(tie_policy)
    if invalid_slots not in INVALID_SLOT_POLICIES:
        raise ValueError(f"invalid_slots must be one of {INVALID_SLOT_POLICIES}, got {invalid_slots!r}")
    found = (items == targets.unsqueeze(1)) & (items != 0)
    hit = found.any(dim=1)
    # the target's score at its first position in the list (meaningless where absent; masked below)
    first = found.to(torch.int8).argmax(dim=1, keepdim=True)
    target_scores = scores.gather(1, first)
    valid = items != 0
    greater = ((scores > target_scores) & valid).sum(dim=1)
    ties = ((scores == target_scores) & valid).sum(dim=1) - 1
    ranks = greater + 1 + (ties if tie_policy == "pessimistic" else 0)
    if invalid_slots == "miss":
        before = torch.arange(items.shape[1], device=items.device).unsqueeze(0) < first
        ranks = ranks + (before & ~valid).sum(dim=1)
    ranks = torch.where(hit, ranks, torch.full_like(ranks, NOT_RETRIEVED))
    return ranks.long(), hit & (ties > 0)


def _check_policy(tie_policy: str) -> None:
    if tie_policy not in TIE_POLICIES:
        raise ValueError(f"tie_policy must be one of {TIE_POLICIES}, got {tie_policy!r}")
