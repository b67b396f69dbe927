"""Opt-in regression against the papers (``tox -e reproduce`` or ``pytest -m reproduce``).

Trains a method at a chosen profile and fails when a test metric falls below the number
the paper reports by more than ``TOLERANCE`` (relative). Choose what to run with
``GENREC_REPRODUCE="sasrec:amazon2014-beauty bert4rec:amazon2014-beauty"`` and
``GENREC_REPRODUCE_PROFILE=cpu`` (defaults shown). Long: minutes to hours per pair.
"""

from __future__ import annotations

import json
import os

import pytest

from genrec_bench.reported import load_reported, paper_number
from runners import run
from runners.reproduction import METRICS

TOLERANCE = 0.10   # ours may be at most 10 % below the paper (seed-to-seed spread on CPU ~5 %)
PAIRS = [tuple(p.split(":")) for p in os.environ.get(
    "GENREC_REPRODUCE", "sasrec:amazon2014-beauty bert4rec:amazon2014-beauty").split()]
PROFILE = os.environ.get("GENREC_REPRODUCE_PROFILE", "cpu")


@pytest.mark.reproduce
@pytest.mark.parametrize("method,dataset", PAIRS)
def test_metrics_reach_the_reported_numbers(method, dataset, tmp_path, real_data_root):
    assert run.main(["--method", method, "--dataset", dataset, "--profile", PROFILE, "--seed", "0",
                     "--results-dir", str(tmp_path), "--data-root", str(real_data_root), "--no-progress"]) == 0
    (path,) = tmp_path.glob("runs/*/*/*/record.json")
    ours = json.loads(path.read_text())["metrics"]["test"]
    numbers = load_reported()
    compared = 0
    for metric in METRICS:
        reported = paper_number(numbers, dataset, method, metric)
        if reported is None:
            continue
        compared += 1
        assert ours[metric] >= (1 - TOLERANCE) * reported.value, (
            f"{method} {dataset} {metric}: ours {ours[metric]:.4f} < paper {reported.value:.4f} - {TOLERANCE:.0%}")
    assert compared, f"the registry has no number for {method} on {dataset}"
