"""``python -m runners.tune`` end to end on the smoke profile: real trials, tagged records,
and a best config that ``python -m runners.run --config`` accepts and records as tuned."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from genrec_bench.tables.data_status import dataset_status
from runners import run as run_cli
from runners import tune as tune_cli

pytestmark = pytest.mark.skipif(dataset_status("amazon2014-beauty", None) is not None,
                                reason="amazon2014-beauty data not found (set GENREC_DATA)")


def records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("runs/*/*/*/record.json"))]


def test_two_smoke_trials_then_the_best_config_as_a_run(tmp_path, capsys):
    argv = ["--method", "sasrec", "--dataset", "amazon2014-beauty", "--profile", "smoke", "--trials", "2",
            "--results-dir", str(tmp_path), "--threads", "1"]
    assert tune_cli.main(argv) == 0
    study_dir = tmp_path / "tuning" / "sasrec-amazon2014-beauty-smoke-seed0"
    trials = records(study_dir)
    assert len(trials) == 2
    assert all("tuning" in r["tags"] and "study:sasrec-amazon2014-beauty-smoke-seed0" in r["tags"] for r in trials)
    assert not (tmp_path / "runs").exists()          # trials never land among the table records
    best = tomllib.loads((study_dir / "best.toml").read_text())
    chosen = max(trials, key=lambda r: r["metrics"]["valid"]["ndcg@10"])
    assert best["genrec_bench"]["tuned"]["value"] == pytest.approx(chosen["metrics"]["valid"]["ndcg@10"])
    printed = capsys.readouterr().out
    assert "[genrec_bench.tuned]" in printed

    # the study is complete: running it again trains nothing
    assert tune_cli.main(argv) == 0
    assert len(records(study_dir)) == 2

    # the best config reproduces the best trial's run exactly and says it was tuned
    out = tmp_path / "again"
    assert run_cli.main(["--method", "sasrec", "--dataset", "amazon2014-beauty", "--profile", "smoke",
                         "--config", str(study_dir / "best.toml"), "--results-dir", str(out),
                         "--threads", "1", "--no-progress"]) == 0
    (rerun,) = records(out)
    assert rerun["config"] == chosen["config"]
    assert rerun["metrics"]["valid"] == chosen["metrics"]["valid"]
    assert rerun["config_file"]["tuned"]["study"] == "sasrec-amazon2014-beauty-smoke-seed0"


def test_a_bad_space_is_one_line_and_exit_2(tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text("[params.hiden_size]\nchoices = [32, 64]\n")
    code = tune_cli.main(["--method", "sasrec", "--dataset", "amazon2014-beauty", "--profile", "smoke",
                          "--trials", "1", "--space", str(space), "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "hiden_size" in err and str(space) in err
