"""Checks a run makes before loading data or training (``genrec_bench.run``, ``runners.run``):
everything a user typed that can be found wrong in a second must not be found wrong after a
90-minute fit."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from genrec_bench.errors import ConfigError, GenRecError


def check_results_dir(results_dir: str | Path) -> None:
    """GenRecError unless ``results_dir`` is (or can be made) a folder this process can write in.

    The check writes and removes a probe file, so a read-only mount fails here too (a
    permission test alone passes for root)."""
    path = Path(results_dir)
    if path.exists() and not path.is_dir():
        raise GenRecError(f"--results-dir {results_dir}: not a folder (a file of that name exists)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise GenRecError(f"--results-dir {results_dir}: cannot write there ({error.strerror or error})") from None


def check_metric(metric: str, option: str = "selection_metric") -> None:
    """ConfigError unless ``metric`` is a metric name the evaluator computes (e.g. ``ndcg@10``)."""
    from genrec_bench.evaluation.result import parse_metric

    try:
        parse_metric(metric)
    except ValueError as error:
        raise ConfigError(f"{option}: {error}") from None


def check_device(name: str) -> torch.device:
    """The device ``--device`` names; ConfigError when it is malformed or absent here."""
    from genrec_bench.training import resolve_device

    try:
        device = resolve_device(name)
    except (ValueError, RuntimeError) as error:
        raise ConfigError(f"--device {name!r}: {error} (valid: auto, cpu, cuda, cuda:N)") from None
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s) "
                          f"(cuda:0..cuda:{torch.cuda.device_count() - 1})")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device {name!r}: only cpu and cuda devices are supported")
    return device
