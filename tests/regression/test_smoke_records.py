"""Always-on regression: committed smoke-profile records must be reproduced exactly.

Smoke runs are deterministic on the CPU. Each committed ``results/runs/*/*/smoke-*`` record of
a method listed below is re-run with the same command into a temporary folder, and every
test metric must be equal to the committed value (no tolerance): any silent change of
behaviour in data loading, splitting, training or evaluation fails here. After an
intended change, re-run the smoke commands and commit the new records.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from runners import run

REPO = Path(__file__).resolve().parents[2]
FAST_METHODS = ("popularity", "sasrec", "bert4rec")
RECORDS = sorted(p for m in FAST_METHODS for p in REPO.glob(f"results/runs/*/{m}/smoke-*/record.json"))


def test_smoke_records_are_committed():
    methods = {json.loads(p.read_text())["method"] for p in RECORDS}
    assert methods == set(FAST_METHODS), f"missing smoke records for {set(FAST_METHODS) - methods}"


@pytest.mark.parametrize("record_path", RECORDS, ids=lambda p: f"{p.parts[-4]}/{p.parts[-3]}")
def test_smoke_run_reproduces_its_record_exactly(record_path, tmp_path, real_data_root):
    committed = json.loads(record_path.read_text())
    argv = shlex.split(committed["command"])[3:]           # drop "python -m runners.run"
    argv = [a for a in argv if a not in ("--force",)]
    assert run.main([*argv, "--results-dir", str(tmp_path), "--data-root", str(real_data_root), "--force",
                     "--no-progress"]) == 0
    (fresh_path,) = tmp_path.glob("runs/*/*/*/record.json")
    fresh = json.loads(fresh_path.read_text())
    assert fresh_path.parent.name == record_path.parent.name          # same config hash
    assert fresh["metrics"]["test"] == committed["metrics"]["test"]
    assert fresh["metrics"]["valid"] == committed["metrics"]["valid"]
