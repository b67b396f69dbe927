"""The run record: ``results/runs/<dataset>/<method>/<run-id>/record.json`` + ``per_user.npz``.

``record.json`` is written last and atomically, so its presence marks a finished run. The
per-user file holds the 1-based rank of every user's target for the validation and test
splits; every top-K metric (and every paired significance test) follows from it.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrec_bench.evaluation.result import EvalResult
from genrec_bench.records.atomic import atomic_write_bytes, atomic_write_json

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"
PER_USER_FILE = "per_user.npz"


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

    def to_json(self) -> dict:
        return {"schema": SCHEMA_VERSION, "run_id": self.run_id, "method": self.method,
                "dataset": self.dataset, "profile": self.profile, "seed": self.seed,
                "config": self.config, "evaluation": self.evaluation, "data": self.data,
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
        return atomic_write_json(directory / RECORD_FILE, self.to_json())


def load_per_user(record_path: Path, split: str = "test") -> dict[str, np.ndarray]:
    """``{"users", "targets", "ranks", "tied"}`` arrays of one split of a finished run."""
    with np.load(Path(record_path).parent / PER_USER_FILE) as data:
        return {key: data[f"{split}_{key}"] for key in ("users", "targets", "ranks", "tied")}


def find_records(results_dir: Path, *, dataset: str | None = None, method: str | None = None,
                 profile: str | None = None) -> list[dict]:
    """Every finished run record under ``results_dir/runs`` matching the filters, with
    ``"_path"`` added (the record file)."""
    found = []
    for path in sorted(Path(results_dir, "runs").glob(f"*/*/*/{RECORD_FILE}")):
        record = json.loads(path.read_text())
        if dataset and record["dataset"] != dataset or method and record["method"] != method \
                or profile and record["profile"] != profile:
            continue
        record["_path"] = str(path)
        found.append(record)
    return found
