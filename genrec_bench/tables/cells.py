"""Collect the per-user results behind a table cell: records of one (dataset, method,
profile) for the chosen seeds, metric means over seeds and per-user vectors for tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrec_bench.evaluation.metrics import METRICS
from genrec_bench.evaluation.result import parse_metric
from genrec_bench.records.record import find_records, load_per_user
from genrec_bench.records.selection import current_runs


@dataclass(frozen=True)
class MethodResults:
    """Attributes:
    method, dataset: names.
    seeds: seeds found, sorted.
    records: the record dicts used (one per seed).
    ranks: per seed, int64 ``[n_users]`` test ranks, users in the same order for all seeds.
    users: int ``[n_users]``.
    """

    method: str
    dataset: str
    seeds: tuple[int, ...]
    records: tuple[dict, ...]
    ranks: tuple[np.ndarray, ...]
    users: np.ndarray

    def per_seed_means(self, metric: str) -> np.ndarray:
        """float64 ``[n_seeds]``: the test mean of ``metric`` for each seed."""
        name, k = parse_metric(metric)
        return np.array([METRICS[name](r, k).mean() for r in self.ranks])

    def per_user(self, metric: str) -> np.ndarray:
        """float64 ``[n_users]``: each user's ``metric`` averaged over the seeds."""
        name, k = parse_metric(metric)
        return np.mean([METRICS[name](r, k) for r in self.ranks], axis=0)

    @property
    def proxy_text(self) -> bool:
        return any(read_proxy_text(r) for r in self.records)


def read_proxy_text(record: dict) -> bool:
    """Whether the run behind ``record`` read proxy item text: the dataset's text is a proxy and
    the method used item text (the runner then notes PROXY)."""
    return bool((record.get("data", {}).get("item_text") or {}).get("is_proxy")
                and any("PROXY" in n for n in record.get("notes", [])))


def proxy_text_caption(datasets: list[str]) -> str:
    """The caption line for tables whose cells on ``datasets`` come from proxy-text runs."""
    return f"Item text on {', '.join(datasets)} is a PROXY (IDGenRec 3-7 word texts), not the real titles."


def collect(results_dir: Path, dataset: str, method: str, profile: str,
            seeds: list[int] | None) -> MethodResults | None:
    """The current runs of ``method`` on ``dataset`` at ``profile`` (``records/selection.py``)."""
    chosen = current_runs(find_records(results_dir, dataset=dataset, method=method, profile=profile), seeds)
    if not chosen:
        return None
    ranks, users = [], None
    for record in chosen:
        per_user = load_per_user(Path(record["_path"]), "test")
        order = np.argsort(per_user["users"], kind="stable")
        if users is None:
            users = per_user["users"][order]
        elif not np.array_equal(users, per_user["users"][order]):
            raise ValueError(f"{method} on {dataset}: seeds evaluated different users")
        ranks.append(per_user["ranks"][order])
    return MethodResults(method, dataset, tuple(r["seed"] for r in chosen), tuple(chosen), tuple(ranks), users)
