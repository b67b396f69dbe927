"""Run records as tidy pandas DataFrames, and the one loader every table, report and plot reads.

    from genrec_bench.results import frame, per_user
    df = frame()                              # the current records under results/, one row per metric value
    df.query("profile == 'cpu' and split == 'test' and subset == 'all' and metric == 'ndcg@10'")
    per_user(df.path.iloc[0])                 # one row per (split, user): target, rank, tied

Where the records are: ``results_dir`` is the folder that holds ``runs/`` (as every runner's
``--results-dir``); a path that is itself a ``runs/`` folder is read as that folder (so
``frame("results/runs")`` works too). Records are ``runs/<dataset>/<method>/<run_id>/record.json``;
a run id (``<profile>-seed<seed>-<config hash>``) is unique only within its (dataset, method), so
a run is identified by its ``path`` (or by dataset, method and run id).

Which records are current is the rule of ``genrec_bench/records/selection.py`` applied per
(dataset, method, profile) over all seeds: the configuration of the newest record, newest record
per seed. A table asked for some seeds only (``--seeds``) applies it to those seeds
(:func:`current_records`), which can pick another configuration when the newest record is of a
seed the table does not show.

A damaged record is never skipped: reading one raises
:class:`~genrec_bench.records.record.DamagedRecordError` naming the file (``frame`` reads
``record.json`` only; ``per_user`` and the tables also read ``per_user.npz``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genrec_bench.errors import GenRecError
from genrec_bench.records.record import PER_USER_FILE, RECORD_FILE, find_records, load_per_user
from genrec_bench.records.selection import config_id, current_runs

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "current_by_group", "current_records", "frame", "load_records", "per_user", "results_root",
           "tuned_config"]

#: the columns of :func:`frame`, in order (facet columns of subsets other than ``domain`` and
#: ``popularity``, should records grow them, come after ``popularity``)
COLUMNS = ("run_id", "method", "dataset", "profile", "seed", "config_hash", "split", "subset", "domain", "popularity",
           "metric", "value", "users", "fit_s", "parameters", "trainable_parameters", "finished_at", "code_version",
           "dirty", "tags", "tuned", "tuned_study", "tuned_trial", "current", "path")
#: the sections of a record's ``metrics`` that hold one value per metric of a whole split
SPLITS = ("valid", "test")


def results_root(results_dir: str | Path = "results") -> Path:
    """The folder holding ``runs/``: ``results_dir``, or its parent when ``results_dir`` is
    itself a ``runs/`` folder (and holds no ``runs/`` of its own)."""
    path = Path(results_dir)
    if not (path / "runs").is_dir() and path.name == "runs" and path.is_dir():
        return path.parent
    return path


def load_records(results_dir: str | Path = "results", *, dataset: str | None = None, method: str | None = None,
                 profile: str | None = None) -> list[dict]:
    """Every record under ``results_dir`` (see :func:`results_root`) matching the filters, each
    with ``"_path"`` (its ``record.json``), sorted by path. A damaged record raises
    :class:`DamagedRecordError`; a folder without ``runs/`` holds no record."""
    return find_records(results_root(results_dir), dataset=dataset, method=method, profile=profile)


def current_by_group(records: Iterable[dict], seeds: Iterable[int] | None = None) -> dict[tuple[str, str, str],
                                                                                          list[dict]]:
    """``{(dataset, method, profile): current runs sorted by seed}`` of ``records`` (any mix),
    by ``current_runs`` per group with ``seeds`` (None = all), groups in sorted order; a group
    with no record of ``seeds`` is left out."""
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for record in records:
        groups[(record["dataset"], record["method"], record["profile"])].append(record)
    wanted = None if seeds is None else list(seeds)
    chosen = {key: current_runs(groups[key], wanted) for key in sorted(groups)}
    return {key: runs for key, runs in chosen.items() if runs}


def current_records(results_dir: str | Path, dataset: str, method: str, profile: str,
                    seeds: Iterable[int] | None = None) -> list[dict]:
    """The runs a table shows for ``method`` on ``dataset`` at ``profile`` (``seeds``: those
    asked for, None = all), sorted by seed; empty when there is none."""
    found = load_records(results_dir, dataset=dataset, method=method, profile=profile)
    return current_by_group(found, seeds).get((dataset, method, profile), [])


def tuned_config(record: Mapping) -> dict | None:
    """The ``config_file.tuned`` of a record (the study and trial its config file came from),
    None when the run was not made from a tuned config file or the record predates the field."""
    config_file = record.get("config_file")
    tuned = config_file.get("tuned") if isinstance(config_file, Mapping) else None
    if tuned is None:
        return None
    return dict(tuned) if isinstance(tuned, Mapping) else {"study": str(tuned)}


def _metric_rows(metrics: Mapping) -> Iterable[dict]:
    """``{"split", "subset", <facet>, "metric", "value", "users"}`` for every number of a
    record's ``metrics``:

    * ``valid`` / ``test``: the split's metrics over all its users (subset ``all``);
    * ``<split>_by_<facet>`` (``test_by_domain``, ``test_by_popularity``): per part of the split
      (subset = the facet, the facet's column = the part); ``users`` = the part's users;
      non-numeric entries (``definition``) are no metric;
    * ``top_k_lists``: per split, the empty-slot statistics of top-K rankings (subset ``all``).

    Sections of another shape are not metrics of a split and are left out."""
    for section, content in metrics.items():
        if not isinstance(content, Mapping):
            continue
        if section in SPLITS:
            yield from _numbers(content, split=section, subset="all")
        elif section == "top_k_lists":
            for split, values in content.items():
                if isinstance(values, Mapping):
                    yield from _numbers(values, split=split, subset="all")
        elif "_by_" in section:
            split, facet = section.split("_by_", 1)
            for part, values in content.items():
                if isinstance(values, Mapping):
                    users = values.get("users")
                    yield from _numbers({k: v for k, v in values.items() if k != "users"}, split=split,
                                        subset=facet, **{facet: part},
                                        users=users if isinstance(users, int) else None)


def _numbers(values: Mapping, **fields: Any) -> Iterable[dict]:
    for metric, value in values.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            yield {**fields, "metric": metric, "value": float(value)}


def _run_fields(record: dict, current: bool) -> dict:
    environment = record.get("environment") or {}
    code = environment.get("code") or {}
    parameters = (record.get("efficiency") or {}).get("parameters") or {}
    tuned = tuned_config(record)
    return {"run_id": record["run_id"], "method": record["method"], "dataset": record["dataset"],
            "profile": record["profile"], "seed": int(record["seed"]), "config_hash": config_id(record),
            "fit_s": (record.get("timings") or {}).get("fit_s"), "parameters": parameters.get("total"),
            "trainable_parameters": parameters.get("trainable"), "finished_at": record.get("finished_at"),
            "code_version": code.get("commit"), "dirty": code.get("dirty"),
            "tags": tuple(record.get("tags") or ()), "tuned": tuned,
            "tuned_study": None if tuned is None else tuned.get("study"),
            "tuned_trial": tuned.get("trial") if tuned is not None and isinstance(tuned.get("trial"), int) else None,
            "current": current, "path": record["_path"]}


def frame(results_dir: str | Path = "results", current_only: bool = True, *, dataset: str | None = None,
          method: str | None = None, profile: str | None = None) -> pd.DataFrame:
    """One row per (run, split, subset, metric) of every record under ``results_dir`` (the folder
    holding ``runs/``, or the ``runs/`` folder itself), optionally filtered by dataset, method and
    profile; with ``current_only`` only the records a table shows (``current`` is True).

    Columns (``COLUMNS``): the run (``run_id``, ``method``, ``dataset``, ``profile``, ``seed``,
    ``config_hash``); what was measured: ``split`` (valid/test), ``subset`` (``all`` = every user
    of the split; ``domain``: one domain of a multi-domain run, named in ``domain``;
    ``popularity``: the users whose target is a ``head``/``tail`` item, in ``popularity``),
    ``metric`` (``ndcg@10``, ``empty_slot_rate``, ...), ``value`` (float64, as recorded) and
    ``users`` (the subset's users where recorded); the run's ``fit_s`` (all processes),
    ``parameters`` / ``trainable_parameters``, ``finished_at`` (ISO text), ``code_version`` (the
    commit) and ``dirty``; ``tags`` (tuple, ``()`` when none); ``tuned`` (the ``config_file.tuned``
    dict, None without one) with ``tuned_study`` / ``tuned_trial``; ``current``; ``path`` (the
    record file, for :func:`per_user`).

    Raises GenRecError when there is no ``runs/`` folder (a wrong path must not read as "no
    results"), DamagedRecordError for a damaged record."""
    import pandas as pd

    root = results_root(results_dir)
    if not (root / "runs").is_dir():
        raise GenRecError(f"no runs/ folder under {root}: give the folder that holds runs/ (e.g. results)")
    records = load_records(root, dataset=dataset, method=method, profile=profile)
    current = {r["_path"] for runs in current_by_group(records).values() for r in runs}
    rows = []
    for record in records:
        is_current = record["_path"] in current
        if current_only and not is_current:
            continue
        run = _run_fields(record, is_current)
        rows.extend({**run, **values} for values in _metric_rows(record["metrics"]))
    facets = sorted({key for row in rows for key in row} - set(COLUMNS))
    columns = [*COLUMNS[:COLUMNS.index("popularity") + 1], *facets, *COLUMNS[COLUMNS.index("popularity") + 1:]]
    df = pd.DataFrame.from_records(rows, columns=columns)
    for name in ("seed",):
        df[name] = df[name].astype("int64")
    for name in ("value", "fit_s"):
        df[name] = df[name].astype("float64")
    for name in ("users", "parameters", "trainable_parameters", "tuned_trial"):
        df[name] = df[name].astype("Int64")
    df["dirty"] = df["dirty"].astype("boolean")
    df["current"] = df["current"].astype(bool)
    return df


def _record_file(run: Any) -> Path:
    """The ``record.json`` of ``run``: a run folder, a ``record.json`` path, a record dict (its
    ``_path``) or a row of :func:`frame` (its ``path``)."""
    if isinstance(run, (str, Path)):
        path = Path(run)
        return path / RECORD_FILE if path.is_dir() else path
    for key in ("_path", "path"):
        try:
            value = run[key]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(value, (str, Path)):
            return Path(value)
    raise TypeError(f"per_user needs a run folder, a record.json path, a record dict or a frame() row, "
                    f"not {type(run).__name__}")


def per_user(run: Any, split: str | Iterable[str] = ("valid", "test"), *, lists: bool = False) -> pd.DataFrame:
    """One row per (split, user) of a run's ``per_user.npz``: ``split``, ``user``, ``target``,
    ``rank`` (1-based rank of the target), ``tied`` (the target tied with other items), in the
    order stored; ``run`` as for a run folder, a ``record.json`` path, a record dict or a
    :func:`frame` row. ``lists=True`` adds ``list`` (the top-K item ids the method returned) and
    ``list_ties`` (slot tied with the one before), each an array per user; a run whose method
    scores every item stores no lists (GenRecError). DamagedRecordError when the file is
    missing, unreadable or lacks a split's array."""
    import pandas as pd

    record_file = _record_file(run)
    splits = [split] if isinstance(split, str) else list(split)
    parts = []
    for name in splits:
        arrays = load_per_user(record_file, name)
        part = pd.DataFrame({"split": name, "user": arrays["users"], "target": arrays["targets"],
                             "rank": arrays["ranks"], "tied": arrays["tied"]})
        if lists:
            ids, ties = _lists(record_file, name)
            part["list"] = list(ids)
            part["list_ties"] = list(ties)
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["split", "user", "target", "rank", "tied"])


def _lists(record_file: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    path = record_file.parent / PER_USER_FILE
    with np.load(path) as data:   # load_per_user has just read this file
        if f"{split}_lists" not in data.files or f"{split}_list_ties" not in data.files:
            raise GenRecError(f"{path} stores no top-K lists for {split!r}: its method scores every item (ranks "
                              "are exact), or the run was made before lists were stored")
        return data[f"{split}_lists"], data[f"{split}_list_ties"]
