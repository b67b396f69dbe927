"""``genrec_bench.run``: the Python API gives the record ``python -m runners.run`` gives, returns
a finished record without training, stores tags, and works from any directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import genrec_bench
from genrec_bench.errors import ConfigError, GenRecError, UnknownNameError
from genrec_bench.experiment import api
from genrec_bench.records import RunRecord

REPO = Path(__file__).resolve().parents[2]
SMOKE = {"profile": "smoke", "seed": 0}


def env(**extra: str) -> dict:
    """This checkout first on the path (the venv may hold an editable install of another one)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **extra}


@pytest.fixture(scope="module")
def api_run(tmp_path_factory, real_data_root):
    results = tmp_path_factory.mktemp("api")
    record = genrec_bench.run("popularity", "amazon2014-beauty", **SMOKE, data_root=real_data_root,
                              results_dir=results, tags=["smoke", "api-test"])
    return results, record


def test_the_api_and_the_command_line_give_the_same_record(api_run, real_data_root, tmp_path):
    _, record = api_run
    out = subprocess.run([sys.executable, "-m", "runners.run", "--method", "popularity", "--dataset",
                          "amazon2014-beauty", "--profile", "smoke", "--seed", "0", "--results-dir", str(tmp_path),
                          "--data-root", str(real_data_root), "--no-progress"],
                         cwd=REPO, env=env(), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    (path,) = tmp_path.glob("runs/*/*/*/record.json")
    cli = json.loads(path.read_text())
    assert isinstance(record, RunRecord)
    assert record.metrics["test"]["ndcg@10"] == cli["metrics"]["test"]["ndcg@10"]
    assert record.metrics["test"] == cli["metrics"]["test"] and record.metrics["valid"] == cli["metrics"]["valid"]
    assert record.run_id == cli["run_id"] == path.parent.name          # tags are not part of the run id
    assert record.config == cli["config"] and record.evaluation == cli["evaluation"]
    assert cli["tags"] == [] and cli["config_file"] is None
    assert cli["command"].startswith("python -m runners.run --method popularity")
    assert record.command == "genrec_bench.run('popularity', 'amazon2014-beauty', profile='smoke', tags=['smoke', 'api-test'])"


def test_tags_are_stored(api_run):
    results, record = api_run
    (path,) = results.glob("runs/*/*/*/record.json")
    assert record.path == path
    stored = json.loads(path.read_text())
    assert stored["tags"] == ["smoke", "api-test"] == record.tags
    assert stored == json.loads(json.dumps(record.to_json()))       # what was returned is what was written


def test_a_second_call_returns_the_existing_record_without_training(api_run, real_data_root, monkeypatch):
    results, first = api_run
    before = first.path.stat().st_mtime_ns

    def refuse(*args, **kwargs):
        raise AssertionError("the data was loaded: the finished run ran again")

    monkeypatch.setattr(api, "load_dataset", refuse)
    start = time.perf_counter()
    again = genrec_bench.run("popularity", "amazon2014-beauty", **SMOKE, data_root=real_data_root,
                             results_dir=results)
    assert time.perf_counter() - start < 5
    assert first.path.stat().st_mtime_ns == before
    assert isinstance(again, RunRecord) and again.path == first.path
    assert json.loads(json.dumps(again.to_json())) == json.loads(first.path.read_text())   # read back as written
    assert again.tags == ["smoke", "api-test"] and again.metrics["test"] == first.metrics["test"]


def test_a_record_made_before_tags_reads_back(tmp_path, real_data_root, monkeypatch):
    committed = REPO / "results/runs/amazon2014-beauty/popularity/smoke-seed0-e102a6ea0e"
    if not committed.is_dir():
        pytest.skip("the committed popularity smoke record is not there")
    assert "tags" not in json.loads((committed / "record.json").read_text())
    shutil.copytree(committed, tmp_path / "runs/amazon2014-beauty/popularity" / committed.name)
    monkeypatch.setattr(api, "load_dataset", lambda *a, **k: pytest.fail("trained again"))
    record = genrec_bench.run("popularity", "amazon2014-beauty", **SMOKE, data_root=real_data_root,
                              results_dir=tmp_path)
    assert record.run_id == committed.name and record.tags == [] and record.config_file is None
    assert record.metrics["test"]["ndcg@10"] > 0


@pytest.mark.parametrize(("options", "error", "words"), [
    ({"method": "sasrek"}, UnknownNameError, "valid methods"),
    ({"dataset": "beauty"}, UnknownNameError, "valid datasets"),
    ({"profile": "laptop"}, UnknownNameError, "valid profiles"),
    ({"seed": -1}, ConfigError, "seed"),
    ({"seed": 1.5}, ConfigError, "seed"),
    ({"eval_batch_size": 0}, ConfigError, "eval_batch_size"),
    ({"threads": 0}, ConfigError, "threads"),
    ({"tie_policy": "random"}, ConfigError, "tie_policy"),
    ({"candidates": "user-domain"}, ConfigError, "multi-domain"),
    ({"tags": "smoke"}, ConfigError, "tags"),
    ({"mask_history": "no"}, ConfigError, "mask_history"),
    ({"overrides": {"include_valid_items": 1}}, ConfigError, "expects bool"),
    ({"overrides": {"bogus": 1}}, ConfigError, "unknown config key 'bogus'"),
    ({"device": "cuda:99"}, ConfigError, "--device"),
])
def test_api_errors_are_the_suites_one_line_errors(options, error, words, tmp_path, monkeypatch):
    monkeypatch.setattr(api, "load_dataset", lambda *a, **k: pytest.fail("the data was loaded before the error"))
    arguments = {"method": "popularity", "dataset": "amazon2014-beauty", "profile": "smoke", **options}
    with pytest.raises(error) as raised:
        genrec_bench.run(arguments.pop("method"), arguments.pop("dataset"), results_dir=tmp_path, **arguments)
    assert isinstance(raised.value, GenRecError) and words in str(raised.value)
    assert len(str(raised.value).splitlines()) == 1
    assert not list(tmp_path.iterdir())                   # nothing written


def test_typed_and_nested_overrides_reach_the_config(tmp_path):
    plan = api.prepare("tiger", "amazon2014-beauty", profile="smoke", results_dir=tmp_path,
                       overrides={"training": {"lr": 0.005}, "training.batch_size": "32"})
    assert plan.config.training.lr == 0.005 and plan.config.training.batch_size == 32


def test_import_stays_light_and_the_one_liner_works_from_another_directory(tmp_path, real_data_root):
    light = subprocess.run([sys.executable, "-c", "import sys, genrec_bench; print('torch' in sys.modules)"],
                           cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120)
    assert light.stdout.strip() == "False", light.stderr[-2000:]
    one_liner = ("import genrec_bench as g; r = g.run('popularity', 'amazon2014-beauty', profile='smoke'); "
                 "print(r.metrics['test']['ndcg@10'])")
    out = subprocess.run([sys.executable, "-c", one_liner], cwd=tmp_path, env=env(GENREC_DATA=str(real_data_root)),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    (path,) = tmp_path.glob("results/runs/amazon2014-beauty/popularity/*/record.json")   # under that directory
    assert float(out.stdout.strip().splitlines()[-1]) == json.loads(path.read_text())["metrics"]["test"]["ndcg@10"]
    loaded = subprocess.run([sys.executable, "-c", "import genrec_bench, methods; print(genrec_bench.__file__, "
                             "methods.__file__)"], cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120)
    assert all(part.startswith(str(REPO)) for part in loaded.stdout.split()), loaded.stdout   # this checkout's
