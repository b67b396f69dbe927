"""End to end: ``python -m runners.run`` on the real Beauty data writes a complete record."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genrec_bench.evaluation.metrics import METRICS
from runners import run

BEAUTY = ["--dataset", "amazon2014-beauty"]


@pytest.fixture(scope="module")
def popularity_run(tmp_path_factory, real_data_root):
    out = tmp_path_factory.mktemp("results")
    code = run.main(["--method", "popularity", *BEAUTY, "--profile", "smoke", "--seed", "0",
                     "--results-dir", str(out), "--data-root", str(real_data_root), "--no-progress"])
    assert code == 0
    (record_path,) = out.glob("runs/amazon2014-beauty/popularity/*/record.json")
    return out, record_path


def test_record_has_every_required_field(popularity_run):
    _, path = popularity_run
    record = json.loads(path.read_text())
    for key in ("method", "dataset", "profile", "seed", "config", "environment", "metrics", "timings",
                "evaluation", "data", "efficiency", "training", "command"):
        assert key in record, key
    assert record["seed"] == 0 and record["profile"] == "smoke"
    assert set(record["metrics"]) >= {"valid", "test", "test_by_popularity"}
    assert {"recall@10", "ndcg@10", "mrr@20", "recall@1"} <= set(record["metrics"]["test"])
    env = record["environment"]
    assert env["packages"]["torch"] and "commit" in env["code"] and "dirty" in env["code"]
    assert record["data"]["counts"] == {"users": 22363, "items": 12101, "interactions": 198502}
    assert record["evaluation"]["tie_policy"] == "pessimistic" and record["evaluation"]["mask_history"] is False


def test_per_user_ranks_reproduce_the_recorded_means(popularity_run):
    _, path = popularity_run
    record = json.loads(path.read_text())
    with np.load(path.parent / "per_user.npz") as data:
        ranks = data["test_ranks"]
        assert ranks.shape == (22363,)
    for key, value in record["metrics"]["test"].items():
        name, k = key.split("@")
        assert METRICS[name](ranks, int(k)).mean() == value   # stored unrounded


def test_a_finished_run_is_not_repeated(popularity_run, real_data_root, capsys):
    out, path = popularity_run
    before = path.stat().st_mtime_ns
    code = run.main(["--method", "popularity", *BEAUTY, "--profile", "smoke", "--seed", "0",
                     "--results-dir", str(out), "--data-root", str(real_data_root)])
    assert code == 0 and path.stat().st_mtime_ns == before
    assert "already finished" in capsys.readouterr().out


@pytest.mark.parametrize("args,expected", [
    (["--method", "sasrek", *BEAUTY], "valid methods: bert4rec, "),
    (["--method", "sasrec", "--dataset", "beauty"], "valid datasets: amazon2014-beauty"),
    (["--method", "sasrec", *BEAUTY, "--set", "max_epoch=3"], "unknown config key 'max_epoch'"),
    (["--method", "sasrec", *BEAUTY, "--set", "dropout"], "--set expects KEY=VALUE"),
])
def test_bad_names_fail_with_the_valid_choices(args, expected, capsys, tmp_path):
    assert run.main([*args, "--results-dir", str(tmp_path)]) == 2
    assert expected in capsys.readouterr().err


def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit) as info:
        run.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--method", "--dataset", "--profile", "--seed", "--data-root", "--set", "--force"):
        assert option in text


def test_method_notes_and_a_thread_limit_reach_the_record(tmp_path, real_data_root, monkeypatch):
    import os

    import torch

    from baselines.popularity import Popularity

    fit = Popularity.fit

    def fit_with_a_note(self, splits, validator=None):
        report = fit(self, splits, validator)
        report.notes.append("a note from the method")
        return report

    monkeypatch.setattr(Popularity, "fit", fit_with_a_note)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert run.main(["--method", "popularity", *BEAUTY, "--profile", "smoke", "--results-dir", str(tmp_path),
                         "--data-root", str(real_data_root), "--no-progress"]) == 0
    finally:
        torch.set_num_threads(threads)
    (path,) = tmp_path.glob("runs/*/*/*/record.json")
    notes = json.loads(path.read_text())["notes"]
    assert "a note from the method" in notes
    assert any(n.startswith("ran with 1 of ") for n in notes) == ((os.cpu_count() or 1) > 1)
