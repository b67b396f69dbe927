"""Collect the per-user results behind a table cell: records of one (dataset, method,
profile) for the chosen seeds, metric means over seeds and per-user vectors for tests.

Per-user values are paired (averaged over seeds, tested across methods) only when they are
the same users with the same targets: ``collect`` checks the seeds of one method and
:func:`check_paired` the methods of one column, before any test, and a mismatch is a
:class:`UnpairedUsersError` naming both records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrec_bench.errors import GenRecError
from genrec_bench.evaluation.metrics import METRICS
from genrec_bench.evaluation.result import parse_metric
from genrec_bench.records.record import load_per_user
from genrec_bench.results import current_records, tuned_config


@dataclass(frozen=True)
class MethodResults:
    """Attributes:
    method, dataset: names.
    seeds: seeds found, sorted.
    records: the record dicts used (one per seed).
    ranks: per seed, int64 ``[n_users]`` test ranks, users in the same order for all seeds.
    users: int ``[n_users]``, sorted.
    targets: int ``[n_users]``: each user's test target (the same for every seed).
    """

    method: str
    dataset: str
    seeds: tuple[int, ...]
    records: tuple[dict, ...]
    ranks: tuple[np.ndarray, ...]
    users: np.ndarray
    targets: np.ndarray

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


def protocol_caption(shown: Iterable[tuple[str, Sequence[dict]]]) -> str:
    """What was ranked, read from the records' ``evaluation.protocol`` (e.g. ``full ranking over
    all items, one target per user``), never assumed: one phrase when every shown record agrees,
    else each phrase with the rows that used it. ``shown``: (row label, its records)."""
    rows: dict[str, list[str]] = {}
    for label, records in shown:
        for record in records:
            phrase = record.get("evaluation", {}).get("protocol") or "protocol not recorded"
            if label not in rows.setdefault(phrase, []):
                rows[phrase].append(label)
    if len(rows) == 1:
        return next(iter(rows))
    return "; ".join(f"{phrase} ({', '.join(labels)})" for phrase, labels in rows.items())


def tuned_config_caption(shown: Iterable[tuple[str, str | None, Sequence[dict]]]) -> str | None:
    """The caption line naming each row whose shown records were made from a tuned config file
    (the record's ``config_file.tuned``), e.g. ``SASRec: tuned config (study sasrec-beauty-cpu,
    trial 7).``; None when no shown record was.

    ``shown``: (row label, column group, the records behind that row's cells in the group), one
    per measured (row, group); the group (a dataset, a domain) is named only where the row's
    groups differ (a tuned config on one dataset only, different studies, or some seeds only)
    and should be None in a table of one dataset."""
    groups: dict[str, list[str | None]] = {}
    tuned: dict[str, dict[str | None, str]] = {}
    for label, group, records in shown:
        groups.setdefault(label, [])
        if group not in groups[label]:
            groups[label].append(group)
        found = [(record["seed"], tuned_config(record), record) for record in records]
        names = sorted({_tuned_text(t, r) for _, t, r in found if t is not None})
        if names:
            seeds = sorted(s for s, t, _ in found if t is not None)
            text = "; ".join(names) + ("" if len(seeds) == len(found) else
                                       f"; seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))} only")
            tuned.setdefault(label, {})[group] = text
    parts = []
    for label, by_group in tuned.items():
        if len(set(by_group.values())) == 1 and list(by_group) == groups[label]:
            parts.append(f"{label}: tuned config ({next(iter(by_group.values()))})")
        else:
            parts.append(f"{label}: tuned config " + ", ".join(f"on {g} ({t})" for g, t in by_group.items()))
    return "; ".join(parts) + "." if parts else None


def _tuned_text(tuned: dict, record: dict) -> str:
    """``study S, trial T`` of a ``config_file.tuned``; the config file's path when it names neither."""
    parts = [f"{key} {tuned[key]}" for key in ("study", "trial") if tuned.get(key) is not None]
    return ", ".join(parts) or f"from {(record.get('config_file') or {}).get('path', 'a config file')}"


def collect(results_dir: Path, dataset: str, method: str, profile: str,
            seeds: list[int] | None) -> MethodResults | None:
    """The current runs of ``method`` on ``dataset`` at ``profile``, as every table selects them
    (``genrec_bench.results.current_records``)."""
    chosen = current_records(results_dir, dataset, method, profile, seeds)
    if not chosen:
        return None
    ranks, first, users, targets = [], None, None, None
    for record in chosen:
        per_user = load_per_user(Path(record["_path"]), "test")
        order = np.argsort(per_user["users"], kind="stable")
        if first is None:
            first, users, targets = record, per_user["users"][order], per_user["targets"][order]
        else:
            _check_same_users(first, users, targets, record, per_user["users"][order],
                              per_user["targets"][order])
        ranks.append(per_user["ranks"][order])
    return MethodResults(method, dataset, tuple(r["seed"] for r in chosen), tuple(chosen), tuple(ranks), users,
                         targets)


class UnpairedUsersError(GenRecError):
    """Two records to be paired per user hold different users or different targets."""


def _where(record: dict) -> str:
    return record.get("_path") or f"{record.get('method')} seed {record.get('seed')}"


def _check_same_users(record_a: dict, users_a: np.ndarray, targets_a: np.ndarray,
                      record_b: dict, users_b: np.ndarray, targets_b: np.ndarray) -> None:
    """UnpairedUsersError naming both records unless they hold the same users (sorted) with
    the same test targets."""
    if not np.array_equal(users_a, users_b):
        extra = np.setxor1d(users_a, users_b)
        raise UnpairedUsersError(
            f"{_where(record_a)} ({users_a.size} test users) and {_where(record_b)} ({users_b.size}) were "
            f"evaluated on different users ({extra.size} in only one, e.g. user {int(extra[0]) if extra.size else '?'}); "
            "per-user values cannot be paired: re-run one of them on the same data and split")
    differ = np.flatnonzero(targets_a != targets_b)
    if differ.size:
        user = int(users_a[differ[0]])
        raise UnpairedUsersError(
            f"{_where(record_a)} and {_where(record_b)} have different test targets for {differ.size} of "
            f"{users_a.size} users (e.g. user {user}: item {int(targets_a[differ[0]])} vs "
            f"{int(targets_b[differ[0]])}); per-user values cannot be paired: re-run one of them on the same "
            "data and split")


def check_paired(measured: dict[str, MethodResults]) -> None:
    """UnpairedUsersError naming both records unless every method of ``measured`` holds the same
    users with the same test targets (call before any paired test across methods)."""
    items = list(measured.values())
    for other in items[1:]:
        _check_same_users(items[0].records[0], items[0].users, items[0].targets,
                          other.records[0], other.users, other.targets)
