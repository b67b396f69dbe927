"""A run killed with SIGKILL mid-training and re-run resumes and ends exactly like an
uninterrupted run (same metrics, same per-user ranks)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def command(method: str, results: Path, data_root: Path) -> list[str]:
    return [sys.executable, "-m", "runners.run", "--method", method, "--dataset", "amazon2018-scientific",
            "--profile", "smoke", "--seed", "3", "--set", "max_epochs=4", "--set", "patience=4",
            "--results-dir", str(results), "--data-root", str(data_root), "--no-progress"]


def finished(results: Path) -> tuple[dict, np.ndarray]:
    (path,) = results.glob("runs/*/*/*/record.json")
    with np.load(path.parent / "per_user.npz") as data:
        return json.loads(path.read_text()), data["test_ranks"]


@pytest.mark.parametrize("method", ["sasrec", "bert4rec"])
def test_sigkill_then_rerun_equals_an_uninterrupted_run(method, tmp_path, real_data_root):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    straight = tmp_path / "straight"
    subprocess.run(command(method, straight, real_data_root), cwd=REPO, env=env, check=True,
                   capture_output=True, timeout=600)

    killed = tmp_path / "killed"
    process = subprocess.Popen(command(method, killed, real_data_root), cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    checkpoint = None
    while time.time() < deadline and process.poll() is None:
        found = list(killed.glob("checkpoints/*/*/*/training.pt"))
        if found:
            try:
                state = torch.load(found[0], weights_only=False)
            except Exception:          # being replaced this very moment: look again
                state = None
            if state is not None and state["epoch"] >= 1:
                checkpoint = found[0]
                break
        time.sleep(0.05)
    assert checkpoint is not None, "the run ended before its first checkpoint was written"
    time.sleep(0.3)                    # now somewhere inside epoch 2
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not list(killed.glob("runs/*/*/*/record.json"))

    out = subprocess.run(command(method, killed, real_data_root), cwd=REPO, env=env, check=True,
                         capture_output=True, text=True, timeout=600)
    assert "resuming from" in out.stdout
    assert not checkpoint.exists()     # removed once the record is written
    a, ranks_a = finished(straight)
    b, ranks_b = finished(killed)
    assert a["metrics"]["test"] == b["metrics"]["test"]
    assert a["metrics"]["valid"] == b["metrics"]["valid"]
    assert np.array_equal(ranks_a, ranks_b)
    assert [e["loss"] for e in a["training"]["epochs"]] == [e["loss"] for e in b["training"]["epochs"]]
