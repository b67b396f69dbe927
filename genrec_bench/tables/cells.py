"""Collect the per-user results behind a table cell: records of one (dataset, method,
profile) for the chosen seeds, metric means over seeds and per-user vectors for tests."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrec_bench.evaluation.metrics import METRICS
from genrec_bench.evaluation.result import parse_metric
from genrec_bench.records.record import find_records, load_per_user

log = logging.getLogger(__name__)


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
    """The finished runs of ``method`` on ``dataset`` at ``profile`` (newest per seed)."""
    records = find_records(results_dir, dataset=dataset, method=method, profile=profile)
    by_seed: dict[int, dict] = {}
    for record in sorted(records, key=lambda r: r.get("finished_at", "")):
        if seeds is None or record["seed"] in seeds:
            if record["seed"] in by_seed:
                log.warning("several %s records for seed %d on %s; using the newest", method,
                            record["seed"], dataset)
            by_seed[record["seed"]] = record
    if not by_seed:
        return None
    chosen = [by_seed[s] for s in sorted(by_seed)]
    ranks, users = [], None
    for record in chosen:
        per_user = load_per_user(Path(record["_path"]), "test")
        order = np.argsort(per_user["users"], kind="stable")
        if users is None:
            users = per_user["users"][order]
        elif not np.array_equal(users, per_user["users"][order]):
            raise ValueError(f"{method} on {dataset}: seeds evaluated different users")
        ranks.append(per_user["ranks"][order])
    return MethodResults(method, dataset, tuple(sorted(by_seed)), tuple(chosen), tuple(ranks), users)
