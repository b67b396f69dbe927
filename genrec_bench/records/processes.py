"""The processes that worked on one run, so that a resumed run reports its whole cost.

A run stopped (SIGINT, SIGKILL, a lost machine) and started again by the same command
resumes from its training checkpoint (``results/checkpoints/<run>/training.pt``). Beside it,
``processes.json`` lists every process that worked on the run: when it started and after
which epoch it resumed. The checkpoint's ``train_time_s`` is the training time of all the
processes before, up to the last finished epoch; the record adds this process's fit time to it
(``timings.fit_s``; ``fit_s_last_process`` and the other timings, ``total_s`` included, are the
last process's) and lists the resumes (``training.resumes``). Work a process lost after its
last checkpoint is not counted. Both files are removed when the record is written.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from genrec_bench.records.atomic import atomic_write_json

LOG_FILE = "processes.json"


def checkpoint_progress(checkpoint: Path) -> dict | None:
    """``{"epoch", "train_time_s", "finished"}`` of a training checkpoint, None if there is none."""
    from genrec_bench.training.checkpoint import load_checkpoint

    saved = load_checkpoint(checkpoint) if Path(checkpoint).exists() else None
    if saved is None:
        return None
    return {"epoch": int(saved["epoch"]), "train_time_s": float(saved.get("train_time_s", 0.0)),
            "finished": bool(saved.get("finished"))}


def start_process(checkpoint: Path, *, fresh: bool = False, world_size: int = 1) -> list[dict]:
    """Append this process to the log beside ``checkpoint`` (a new log with ``fresh``: a run
    from scratch) and return every entry, this one last."""
    log = Path(checkpoint).with_name(LOG_FILE)
    progress = checkpoint_progress(checkpoint)
    entries = []
    if not fresh and log.exists():
        try:
            entries = json.loads(log.read_text())
        except (OSError, json.JSONDecodeError):
            entries = [{"started_at": None, "resumed_after_epoch": 0, "train_time_s_before": 0.0,
                        "note": f"the log of the processes before was unreadable ({log.name})"}]
    entries.append({"started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "resumed_after_epoch": progress["epoch"] if progress else 0,
                    "train_time_s_before": progress["train_time_s"] if progress else 0.0,
                    "world_size": world_size})
    atomic_write_json(log, entries)
    return entries


def whole_cost(entries: list[dict], fit_s: float) -> tuple[dict, list[dict]]:
    """``(timings, resumes)`` of a run whose last process fitted for ``fit_s`` seconds:
    ``timings = {"fit_s": all processes, "fit_s_last_process", "processes"}``, ``resumes`` =
    ``[{"at", "from_epoch"}]`` (empty for a run that was never stopped)."""
    before = entries[-1]["train_time_s_before"] if entries else 0.0
    timings = {"fit_s": before + fit_s, "fit_s_last_process": fit_s, "processes": max(len(entries), 1)}
    resumes = [{"at": e["started_at"], "from_epoch": e["resumed_after_epoch"] + 1} for e in entries[1:]]
    return timings, resumes


def finish(checkpoint: Path) -> None:
    """Remove the checkpoint and its process log (the record now holds what they told)."""
    Path(checkpoint).unlink(missing_ok=True)
    Path(checkpoint).with_name(LOG_FILE).unlink(missing_ok=True)
