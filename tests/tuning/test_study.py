"""The tuning study: seeded TPE over a space, resumable, selecting on validation only.

Trials here call a fake run function (no training), so the study logic is tested in seconds;
``test_tune_runner.py`` runs real smoke trials end to end."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import pytest

from genrec_bench.errors import ConfigError
from genrec_bench.tuning import TuningSettings, config_toml, tune
from genrec_bench.tuning.space import parse_space

SPACE = parse_space({"objective": {"metric": "ndcg@10"},
                     "params": {"lr": {"low": 1e-4, "high": 1e-2, "log": True},
                                "dropout": {"low": 0.1, "high": 0.6},
                                "max_len": {"choices": [20, 50]}}})


class NoTestPeeking(dict):
    """Metrics whose test split cannot be read: selection must use validation only."""

    def __getitem__(self, key):
        if key == "test":
            raise AssertionError("the study read test metrics")
        return super().__getitem__(key)

    def get(self, key, default=None):
        if key == "test":
            raise AssertionError("the study read test metrics")
        return super().get(key, default)


@dataclass
class FakeRecord:
    run_id: str
    metrics: dict


@dataclass
class FakeRun:
    """Validation score peaks at lr 1e-3 and dropout 0.3; remembers every call."""

    calls: list = field(default_factory=list)
    fail_at_call: int | None = None

    def __call__(self, method, dataset, *, profile, seed, overrides, results_dir, tags, **options):
        self.calls.append({"overrides": dict(overrides), "tags": tuple(tags), "results_dir": Path(results_dir),
                           "options": options, "seed": seed})
        if self.fail_at_call is not None and len(self.calls) == self.fail_at_call:
            raise KeyboardInterrupt
        value = 0.05 - (math.log10(overrides["lr"]) + 3) ** 2 / 100 - (overrides["dropout"] - 0.3) ** 2 / 10
        return FakeRecord(f"run-{len(self.calls)}", NoTestPeeking(valid={"ndcg@10": value}, test={"ndcg@10": 1.0}))


def settings(tmp_path, trials, **kw):
    return TuningSettings(method="sasrec", dataset="amazon2014-beauty", profile="smoke", space=SPACE,
                          trials=trials, seed=3, results_dir=tmp_path, **kw)


def test_study_runs_trials_tags_records_and_writes_the_best_on_validation(tmp_path):
    fake = FakeRun()
    result = tune(settings(tmp_path, 5), run=fake)
    assert len(fake.calls) == 5
    study_dir = tmp_path / "tuning" / "sasrec-amazon2014-beauty-smoke-seed3"
    assert (study_dir / "study.db").is_file()
    assert all(c["results_dir"] == study_dir for c in fake.calls)
    assert [c["tags"] for c in fake.calls] == [
        ("tuning", "study:sasrec-amazon2014-beauty-smoke-seed3", f"trial:{i}") for i in range(5)]
    assert all(c["seed"] == 3 for c in fake.calls)
    values = [t.value for t in result.trials]
    assert result.best.value == max(values)
    best = tomllib.loads((study_dir / "best.toml").read_text())
    tuned = best.pop("genrec_bench")["tuned"]
    assert tuned["trial"] == result.best.number and tuned["value"] == pytest.approx(max(values))
    assert tuned["objective"] == "valid ndcg@10"
    assert best == result.best.params
    assert result.best_config_text == (study_dir / "best.toml").read_text()


def test_same_seed_samples_the_same_parameters(tmp_path):
    first, second = FakeRun(), FakeRun()
    tune(settings(tmp_path / "a", 4), run=first)
    tune(settings(tmp_path / "b", 4), run=second)
    assert [c["overrides"] for c in first.calls] == [c["overrides"] for c in second.calls]


def test_a_resumed_study_runs_only_the_missing_trials(tmp_path):
    fake = FakeRun()
    tune(settings(tmp_path, 3), run=fake)
    result = tune(settings(tmp_path, 5), run=fake)
    assert len(fake.calls) == 5
    assert [t.number for t in result.trials] == [0, 1, 2, 3, 4]
    tune(settings(tmp_path, 5), run=fake)
    assert len(fake.calls) == 5   # nothing left to do


def test_a_killed_trial_is_failed_and_its_parameters_run_again(tmp_path):
    s = settings(tmp_path, 3)
    s.study_dir.mkdir(parents=True)
    study = optuna.create_study(study_name=s.study_name, storage=f"sqlite:///{s.study_dir / 'study.db'}",
                                direction="maximize")
    orphan = study.ask()
    orphan_params = {"lr": orphan.suggest_float("lr", 1e-4, 1e-2, log=True),
                     "dropout": orphan.suggest_float("dropout", 0.1, 0.6),
                     "max_len": orphan.suggest_categorical("max_len", [20, 50])}
    # the process running it was killed: the trial stays RUNNING in the storage
    fake = FakeRun()
    result = tune(s, run=fake)
    assert fake.calls[0]["overrides"] == orphan_params
    states = {t.number: t.state for t in result.trials}
    assert states[0] == "FAIL" and sum(s == "COMPLETE" for s in states.values()) == 3


def test_an_interrupted_trial_is_not_counted_and_the_rerun_finishes(tmp_path):
    fake = FakeRun(fail_at_call=2)
    with pytest.raises(KeyboardInterrupt):
        tune(settings(tmp_path, 3), run=fake)
    fake.fail_at_call = None
    result = tune(settings(tmp_path, 3), run=fake)
    assert sum(t.state == "COMPLETE" for t in result.trials) == 3


def test_resuming_with_another_space_or_dataset_is_an_error(tmp_path):
    tune(settings(tmp_path, 1), run=FakeRun())
    other = TuningSettings(method="sasrec", dataset="amazon2014-beauty", profile="smoke",
                           space=parse_space({"params": {"lr": {"low": 1e-3, "high": 1e-2}}}),
                           trials=2, seed=3, results_dir=tmp_path)
    with pytest.raises(ConfigError, match="another space"):
        tune(other, run=FakeRun())


def test_a_space_key_the_method_does_not_have_fails_before_any_trial(tmp_path):
    space = parse_space({"params": {"hiden_size": {"choices": [32, 64]}}}, where="sasrec.toml")
    fake = FakeRun()
    with pytest.raises(ConfigError, match=r"sasrec.toml.*hiden_size"):
        tune(TuningSettings(method="sasrec", dataset="amazon2014-beauty", profile="smoke", space=space,
                            trials=2, results_dir=tmp_path), run=fake)
    assert fake.calls == []


def test_a_value_the_config_refuses_fails_before_any_trial(tmp_path):
    space = parse_space({"params": {"dropout": {"low": 0.1, "high": 1.5}}}, where="sasrec.toml")
    with pytest.raises(ConfigError, match=r"sasrec.toml.*dropout"):
        tune(TuningSettings(method="sasrec", dataset="amazon2014-beauty", profile="smoke", space=space,
                            trials=2, results_dir=tmp_path), run=FakeRun())


def test_config_toml_round_trips_nested_keys_and_small_floats():
    params = {"lr": 1e-05, "dropout": 0.25, "max_len": 50, "training.lr": 3e-4, "training.lr_schedule": "cosine",
              "flag": True}
    text = config_toml(params, {"study": "s", "trial": 4, "value": 0.0312})
    data = tomllib.loads(text)
    assert data.pop("genrec_bench") == {"tuned": {"study": "s", "trial": 4, "value": 0.0312}}
    assert data == {"lr": 1e-05, "dropout": 0.25, "max_len": 50, "flag": True,
                    "training": {"lr": 3e-4, "lr_schedule": "cosine"}}


def test_a_resumed_study_samples_what_an_uninterrupted_one_does(tmp_path):
    """A resume must not restart the sampler's random stream (which re-proposed trial 0's
    parameters as trial 9 in a real study): the finished trials' parameters are the same."""
    straight = FakeRun()
    tune(settings(tmp_path / "straight", 6), run=straight)
    interrupted = FakeRun(fail_at_call=3)
    with pytest.raises(KeyboardInterrupt):
        tune(settings(tmp_path / "resumed", 6), run=interrupted)
    interrupted.fail_at_call = None
    tune(settings(tmp_path / "resumed", 6), run=interrupted)
    finished = [c["overrides"] for i, c in enumerate(interrupted.calls) if i != 2]   # call 3 was killed
    assert finished == [c["overrides"] for c in straight.calls]
    assert interrupted.calls[3]["overrides"] == interrupted.calls[2]["overrides"]   # the killed trial again
    assert len({tuple(sorted(o.items())) for o in finished}) == 6                   # no repeats
