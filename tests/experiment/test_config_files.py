"""``--config FILE.toml`` (``config=`` of ``genrec_bench.run``): nested tables reach nested
config fields, values are checked as ``--set`` values are, ``--set`` wins, ``[genrec_bench]``
is metadata (stripped, recorded), and every mistake is one line naming the file."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

import genrec_bench
from baselines.popularity import Popularity
from genrec_bench import registry
from genrec_bench.errors import ConfigError, UnknownNameError
from genrec_bench.experiment import api
from runners import run

SMOKE = ["--dataset", "amazon2014-beauty", "--profile", "smoke", "--no-progress"]


@pytest.fixture
def no_loading(monkeypatch):
    """Any input that reaches the data (let alone training) fails the test."""
    monkeypatch.setattr(api, "load_dataset", lambda *a, **k: pytest.fail("the data was loaded before the error"))


def write(path, text: str):
    path.write_text(text)
    return path


def one_line(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize(("method", "text", "words"), [
    ("tiger", "[training]\nlr = = 1e-3\n", ["not valid TOML", "line 2, column"]),                   # syntax
    ("tiger", "[training]\nbogus = 1\n", ["unknown config key 'training.bogus'", "under 'training'", "lr,"]),
    ("tiger", "[training]\nlr = 'fast'\n", ["config key 'training.lr' expects float", "'fast'"]),
    ("tiger", "[training]\nbatch_size = 2.5\n", ["config key 'training.batch_size' expects int", "2.5"]),
    ("popularity", "include_valid_items = 1\n", ["config key 'include_valid_items' expects bool", "1 (int)"]),
    ("tiger", "training = 3\n", ["config key 'training' is a group of keys"]),
    ("tiger", "[training]\nlr = -1.0\n", ["training: ", "lr must be in"]),                          # a range
    ("popularity", "[genrec_bench]\ntuned = 3\n", ["genrec_bench.tuned is a table"]),
    ("popularity", "[genrec_bench]\nstudy = 'x'\n", ["unknown key genrec_bench.study"]),
])
def test_a_bad_config_file_is_one_line_naming_the_file(method, text, words, tmp_path, capsys, no_loading):
    path = write(tmp_path / "bad.toml", text)
    assert run.main(["--method", method, *SMOKE, "--results-dir", str(tmp_path / "results"),
                     "--config", str(path)]) == 2
    err = one_line(capsys, *words)
    assert "config file " in err and "bad.toml" in err
    assert not (tmp_path / "results").exists()                     # nothing written either
    with pytest.raises(ConfigError, match="bad.toml"):              # the API raises the same error
        genrec_bench.run(method, "amazon2014-beauty", profile="smoke", config=path, results_dir=tmp_path / "results")


def test_a_missing_file_and_an_unknown_method_are_one_line(tmp_path, capsys, no_loading):
    assert run.main(["--method", "popularity", *SMOKE, "--config", str(tmp_path / "nope.toml")]) == 2
    one_line(capsys, "config file", "nope.toml", "no such file")
    path = write(tmp_path / "ok.toml", "include_valid_items = true\n")
    assert run.main(["--method", "populariti", *SMOKE, "--config", str(path)]) == 2
    one_line(capsys, "unknown method 'populariti'", "valid methods: ")
    with pytest.raises(UnknownNameError):
        genrec_bench.run("populariti", "amazon2014-beauty", config=path)


def test_a_nested_table_reaches_the_nested_config(tmp_path):
    path = write(tmp_path / "tiger.toml", "[training]\nlr = 5e-3\nlr_schedule = 'cosine'\n\n[generator]\n"
                 "d_model = 32\n")
    plan = api.prepare("tiger", "amazon2014-beauty", profile="smoke", config=path, results_dir=tmp_path)
    smoke = registry.get_method("tiger").make_config("smoke")
    assert plan.config.training.lr == 5e-3 and plan.config.training.lr_schedule == "cosine"
    assert plan.config.generator.d_model == 32
    assert plan.config.training.batch_size == smoke.training.batch_size           # the rest is the profile's
    # --set wins over the file
    plan = api.prepare("tiger", "amazon2014-beauty", profile="smoke", config=path, results_dir=tmp_path,
                       overrides={"training.lr": "1e-4"})
    assert plan.config.training.lr == 1e-4 and plan.config.training.lr_schedule == "cosine"


@dataclasses.dataclass(frozen=True)
class Schedule:
    lr: float = 1e-3
    steps: int = 5


@dataclasses.dataclass(frozen=True)
class NestedConfig:
    include_valid_items: bool = False
    schedule: Schedule = Schedule()


@pytest.fixture
def nested_method(monkeypatch):
    """``popularity`` under another name with a nested config dataclass (fast to run)."""
    registry.method_names()                                           # the built-in methods first
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))   # leave no trace

    @registry.register_method("nested-popularity", config=NestedConfig, profiles={"smoke": NestedConfig()})
    class NestedPopularity(Popularity):
        pass

    yield "nested-popularity"
    # register_method set class attributes on the subclass only: Popularity is untouched
    assert Popularity.name == "popularity"


def test_the_record_holds_the_resolved_config_and_the_file(nested_method, tmp_path, real_data_root, capsys,
                                                           monkeypatch):
    text = ("include_valid_items = true\n\n[schedule]\nlr = 0.01\nsteps = 7\n\n"
            "[genrec_bench]\ntuned = { study = \"pop-lr\", trial = 3, objective = \"ndcg@10\", value = 0.0421 }\n")
    path = write(tmp_path / "tuned.toml", text)
    monkeypatch.chdir(tmp_path)                                     # the record names the file relative to here
    assert run.main(["--method", nested_method, *SMOKE, "--data-root", str(real_data_root), "--results-dir",
                     str(tmp_path / "results"), "--config", str(path), "--set", "schedule.steps=9"]) == 0
    (record_path,) = (tmp_path / "results").glob("runs/*/*/*/record.json")
    record = json.loads(record_path.read_text())
    assert record["config"] == {"include_valid_items": True, "schedule": {"lr": 0.01, "steps": 9}}   # --set wins
    assert record["config_file"] == {
        "path": "tuned.toml", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "tuned": {"study": "pop-lr", "trial": 3, "objective": "ndcg@10", "value": 0.0421}}
    assert "genrec_bench" not in record["config"]                  # metadata is not config
    assert "--config" in record["command"]
    # the same resolved config from a mapping is the same run (the config file is not part of the run id)
    again = genrec_bench.run(nested_method, "amazon2014-beauty", profile="smoke", results_dir=tmp_path / "results",
                             data_root=real_data_root,
                             config={"include_valid_items": True, "schedule": {"lr": 0.01, "steps": 9}})
    assert again.path == record_path


def test_a_mapping_records_its_tuned_table_and_no_file(nested_method, tmp_path, real_data_root):
    tuned = {"study": "s", "trial": 1, "objective": "ndcg@10", "value": 0.5}
    record = genrec_bench.run(nested_method, "amazon2014-beauty", profile="smoke", results_dir=tmp_path,
                              data_root=real_data_root,
                              config={"schedule": {"steps": 2}, "genrec_bench": {"tuned": tuned}})
    assert record.config == {"include_valid_items": False, "schedule": {"lr": 1e-3, "steps": 2}}
    assert record.config_file == {"path": None, "sha256": None, "tuned": tuned}
    assert json.loads(record.path.read_text())["config_file"] == record.config_file
