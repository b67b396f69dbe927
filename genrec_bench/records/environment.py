"""What a run ran on: code version, packages, interpreter, machine and device."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

PACKAGES = ("torch", "numpy", "pandas", "scipy", "transformers", "peft", "sentence-transformers",
            "tabulate", "genrec-bench")
REPO_ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


#: the files that can change what a run computes; edits elsewhere (tests, docs, records) do not
RUN_CODE = ("genrec_bench/", "baselines/", "methods/", "runners/", "datasets/", "pyproject.toml")


def code_version() -> dict:
    """``{"commit", "dirty", "dirty_files"}``: ``dirty`` = a file under ``RUN_CODE`` differs
    from the commit or is not tracked yet (then the commit alone does not reproduce the run)."""
    commit = (_git("rev-parse", "HEAD") or "").strip() or None
    status = _git("status", "--porcelain", "--untracked-files=all", "--", *RUN_CODE) or ""
    changed = [line[3:] for line in status.splitlines() if len(line) > 3]
    return {"commit": commit, "dirty": bool(changed), "dirty_files": changed[:20]}


def package_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def capture_environment(device: torch.device) -> dict:
    env = {
        "code": code_version(),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        env["cuda"] = {"version": torch.version.cuda, "gpu": torch.cuda.get_device_name(device),
                       "gpus": torch.cuda.device_count()}
    return env


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
