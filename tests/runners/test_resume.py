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
    saved = torch.load(checkpoint, weights_only=False)   # what the killed process had finished
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
    assert "resumes" not in a["training"] and [r["from_epoch"] for r in b["training"]["resumes"]] == \
        [saved["epoch"] + 1]
    assert b["timings"]["processes"] == 2 and b["timings"]["fit_s"] > b["timings"]["fit_s_last_process"]


def wait_for_checkpoint(process: subprocess.Popen, results: Path) -> Path:
    """The checkpoint of ``process`` once it holds epoch 1 or later."""
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None:
        for found in results.glob("checkpoints/*/*/*/training.pt"):
            try:
                state = torch.load(found, weights_only=False)
            except Exception:          # being replaced this very moment: look again
                continue
            if state["epoch"] >= 1:
                return found
        time.sleep(0.05)
    raise AssertionError("the run ended before its first checkpoint was written")


def test_ctrl_c_names_the_epoch_and_the_resumed_record_counts_every_process(tmp_path, real_data_root):
    """SIGINT: one line saying from which epoch the same command resumes, exit code 130; the
    finished record sums the training time of both processes and lists the resume (20.6, 20.9)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = command("sasrec", tmp_path, real_data_root)
    process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    checkpoint = wait_for_checkpoint(process, tmp_path)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    saved = torch.load(checkpoint, weights_only=False)
    assert err.strip().splitlines()[-1] == \
        f"interrupted; rerun the same command to resume from epoch {saved['epoch'] + 1}"
    assert "Traceback" not in err

    subprocess.run(argv, cwd=REPO, env=env, check=True, capture_output=True, timeout=600)
    record, _ = finished(tmp_path)
    assert [r["from_epoch"] for r in record["training"]["resumes"]] == [saved["epoch"] + 1]
    timings = record["timings"]
    assert timings["processes"] == 2
    assert timings["fit_s"] == pytest.approx(saved["train_time_s"] + timings["fit_s_last_process"])
    assert any("resumed 1 time" in note for note in record["notes"])
    assert not list(tmp_path.glob("checkpoints/*/*/*/*"))   # checkpoint and process log removed
