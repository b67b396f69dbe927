"""Metrics broken down by the popularity of the target item (head vs tail).

FlexCode's central claim is about tail items (its Figure 2b), so every record carries this
breakdown for every method. Definition used here (FlexCode does not state its own): items
are sorted by their number of training interactions; the **head** is the smallest set of
most popular items that covers ``head_share`` (default 20 %) of the catalogue, the
**tail** is every other item. Users are grouped by their target.
"""

from __future__ import annotations

import numpy as np

from genrec_bench.evaluation.result import EvalResult


def head_items(train_counts: np.ndarray, head_share: float = 0.2) -> np.ndarray:
    """bool ``[n_items + 1]``: True for head items (index 0 = padding, never head).

    Ties at the boundary are broken by item index, so exactly ``ceil(head_share * n)``
    items are head.
    """
    counts = np.asarray(train_counts)[1:]
    n_head = int(np.ceil(head_share * counts.shape[0]))
    order = np.lexsort((np.arange(counts.shape[0]), -counts))   # most popular first, then by index
    head = np.zeros(counts.shape[0] + 1, dtype=bool)
    head[order[:n_head] + 1] = True
    return head


def popularity_breakdown(result: EvalResult, head: np.ndarray, metrics: list[str],
                         head_share: float = 0.2) -> dict:
    """``{"definition", "head": {"users", metric: mean}, "tail": {...}}`` for one evaluation."""
    is_head = head[result.targets]
    out: dict = {"definition": f"head = the {head_share:.0%} most-interacted items in training "
                               f"(ties by item index); users grouped by their target"}
    for name, mask in (("head", is_head), ("tail", ~is_head)):
        part = result.subset(mask)
        out[name] = {"users": int(mask.sum()), **part.metrics(metrics)}
    return out


def domain_breakdown(result: EvalResult, user_domain: np.ndarray, domains: tuple[str, ...] | list[str],
                     metrics: list[str]) -> dict:
    """``{domain: {"users", metric: mean}}`` for one evaluation of a multi-domain dataset.

    Users are grouped by their own domain (``user_domain[result.users]``; every user's
    sequence, and so its target, lies in one domain). Each value is the mean over that
    domain's users only; the overall metrics stay the mean over all users (a user-weighted
    mix of these, never an average of the per-domain means).
    """
    of_user = np.asarray(user_domain)[result.users]
    out: dict = {}
    for d, name in enumerate(domains):
        mask = of_user == d
        out[name] = {"users": int(mask.sum()), **result.subset(mask).metrics(metrics)}
    return out
