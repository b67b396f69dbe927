"""The run record: ``results/runs/<dataset>/<method>/<run-id>/record.json`` + ``per_user.npz``.

``record.json`` is written last and atomically, so its presence marks a finished run. The
per-user file holds the 1-based rank of every user's target for the validation and test
splits; every top-K metric (and every paired significance test) follows from it.

A damaged record (``record.json`` that is not JSON or lacks a field every reader needs, a
missing or unreadable ``per_user.npz``) is never skipped: a table without it would look
complete. Reading one raises :class:`DamagedRecordError`, which names the file, what is wrong
and what to do (re-run the command in the record with ``--force``, or move the folder away).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrec_bench.errors import GenRecError
from genrec_bench.evaluation.result import EvalResult
from genrec_bench.records.atomic import atomic_write_bytes, atomic_write_json

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"
PER_USER_FILE = "per_user.npz"
#: fields every reader of a record uses
REQUIRED_FIELDS = ("run_id", "method", "dataset", "profile", "seed", "metrics")


class DamagedRecordError(GenRecError):
    """A finished run's files cannot be read; the message names the file and the remedy."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path, self.problem = str(path), problem
        super().__init__(f"damaged run record {self.path}: {problem}; re-run the command it was made by "
                         f"with --force, or move {Path(path).parent} out of results/runs")


def read_record(path: str | Path) -> dict:
    """The JSON of one ``record.json``; :class:`DamagedRecordError` when it is not a JSON
    object with the fields every reader needs (``REQUIRED_FIELDS``, ``metrics.test``)."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise DamagedRecordError(path, f"cannot be read ({error})") from None
    except json.JSONDecodeError as error:
        raise DamagedRecordError(path, f"not valid JSON ({error.msg} at line {error.lineno}; truncated?)") from None
    if not isinstance(record, dict):
        raise DamagedRecordError(path, f"holds a JSON {type(record).__name__}, not an object")
    missing = [key for key in REQUIRED_FIELDS if key not in record]
    if missing:
        raise DamagedRecordError(path, f"lacks {', '.join(map(repr, missing))}")
    if not isinstance(record["metrics"], dict) or "test" not in record["metrics"]:
        raise DamagedRecordError(path, "lacks the test metrics ('metrics.test')")
    return record


def config_hash(obj: Any) -> str:
    """A short stable hash of a JSON-able config (the run id's last part)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:10]


def run_directory(results_dir: Path, dataset: str, method: str, profile: str, seed: int,
                  identity: dict) -> Path:
    """``<results>/runs/<dataset>/<method>/<profile>-seed<seed>-<hash of identity>``."""
    return Path(results_dir) / "runs" / dataset / method / f"{profile}-seed{seed}-{config_hash(identity)}"


@dataclass
class RunRecord:
    """Everything one run is and produced; ``to_json`` is what ``record.json`` holds."""

    method: str
    dataset: str
    profile: str
    seed: int
    config: dict
    evaluation: dict
    data: dict
    environment: dict
    metrics: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    efficiency: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    command: str = ""
    started_at: str = ""
    finished_at: str = ""
    run_id: str = ""
    #: labels the user gave the run (``tags=`` of ``genrec_bench.run``); not part of the run id
    tags: list[str] = field(default_factory=list)
    #: the config file the config was read from: ``{"path", "sha256", "tuned"}``, None without one
    config_file: dict | None = None
    #: where ``record.json`` was written or read (not stored in it); None until then
    path: Path | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_json(cls, record: dict, path: str | Path | None = None) -> RunRecord:
        """The record a ``record.json`` holds (as :func:`read_record` returns it); fields a
        record made before they existed lacks (``tags``, ``config_file``) get their defaults,
        keys that are no field (``schema``, ``per_user_file``) are left out."""
        fields = {f.name for f in dataclasses.fields(cls)} - {"path"}
        known = {key: value for key, value in record.items() if key in fields}
        for key in ("config", "evaluation", "data", "environment"):
            known.setdefault(key, {})
        return cls(**known, path=None if path is None else Path(path))

    def to_json(self) -> dict:
        return {"schema": SCHEMA_VERSION, "run_id": self.run_id, "method": self.method,
                "dataset": self.dataset, "profile": self.profile, "seed": self.seed,
                "config": self.config, "config_file": self.config_file, "tags": list(self.tags),
                "evaluation": self.evaluation, "data": self.data,
                "environment": self.environment, "metrics": self.metrics,
                "training": self.training, "timings": self.timings,
                "efficiency": self.efficiency, "notes": self.notes, "command": self.command,
                "started_at": self.started_at, "finished_at": self.finished_at,
                "per_user_file": PER_USER_FILE}

    def write(self, directory: Path, per_user: dict[str, EvalResult]) -> Path:
        """Write ``per_user.npz`` then ``record.json`` (the latter marks completion).

        Per split: ``users``, ``targets``, ``ranks``, ``tied``; for top-k rankings also
        ``lists`` (int32 ``[n, K]``, each user's list as the method returned it) and
        ``list_ties`` (bool ``[n, K]``, slot tied with the previous one), from which
        ``python -m runners.rescore`` re-scores the run under other evaluation settings."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for split, result in per_user.items():
            arrays[f"{split}_users"] = result.users.astype(np.int32)
            arrays[f"{split}_targets"] = result.targets.astype(np.int32)
            arrays[f"{split}_ranks"] = result.ranks.astype(np.int64)
            arrays[f"{split}_tied"] = result.tied
            if result.lists is not None:
                arrays[f"{split}_lists"] = result.lists.astype(np.int32)
                arrays[f"{split}_list_ties"] = result.list_ties.astype(bool)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(directory / PER_USER_FILE, buffer.getvalue())
        self.path = atomic_write_json(directory / RECORD_FILE, self.to_json())
        return self.path


def load_per_user(record_path: Path, split: str = "test") -> dict[str, np.ndarray]:
    """``{"users", "targets", "ranks", "tied"}`` arrays of one split of a finished run;
    :class:`DamagedRecordError` when the file is missing, unreadable or lacks an array."""
    path = Path(record_path).parent / PER_USER_FILE
    names = [f"{split}_{key}" for key in ("users", "targets", "ranks", "tied")]
    try:
        with np.load(path) as data:
            absent = [name for name in names if name not in data.files]
            if absent:
                raise DamagedRecordError(path, f"lacks the array{'s' if len(absent) > 1 else ''} "
                                               f"{', '.join(map(repr, absent))}")
            return {name.removeprefix(f"{split}_"): data[name] for name in names}
    except FileNotFoundError:
        raise DamagedRecordError(path, "missing (the per-user ranks of the record beside it)") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DamagedRecordError(path, f"not a readable .npz file ({type(error).__name__}: {error})") from None


def find_records(results_dir: Path, *, dataset: str | None = None, method: str | None = None,
                 profile: str | None = None) -> list[dict]:
    """Every finished run record under ``results_dir/runs`` matching the filters, with
    ``"_path"`` added (the record file). A damaged record in a folder the filters select
    (``runs/<dataset>/<method>/<profile>-seed*``) raises :class:`DamagedRecordError`: a table
    must not be built around a hole."""
    found = []
    pattern = f"{dataset or '*'}/{method or '*'}/{profile + '-seed' if profile else ''}*/{RECORD_FILE}"
    for path in sorted(Path(results_dir, "runs").glob(pattern)):
        record = read_record(path)
        if dataset and record["dataset"] != dataset or method and record["method"] != method \
                or profile and record["profile"] != profile:
            continue
        record["_path"] = str(path)
        found.append(record)
    return found
