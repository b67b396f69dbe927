"""The sample-efficiency study: one run per strategy with exactly two overrides, tagged, in a
results folder of its own, finished runs read back, and a report chosen on validation.

Training TIGER even at the smoke profile on Beauty takes over a minute per strategy, so the
study runs a fake run function that writes synthetic records, finished runs are read back by
the real ``genrec_bench.run`` from records written where it looks, and the report is rendered
for real from synthetic records."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import genrec_bench.experiment.api as api
from genrec_bench.errors import ConfigError
from genrec_bench.experiment import prepare
from genrec_bench.records.record import DamagedRecordError
from genrec_bench.studies.sample_efficiency import (
    STUDY_TAG,
    StudySettings,
    run_study,
    study_records,
    write_report,
)
from runners import sample_efficiency as runner

STRATEGIES = ("one-random", "all", "all-shuffled", "random-window")
#: per strategy: (full-validation NDCG@10, test NDCG@10): validation favours random-window,
#: test favours all, so a choice made on test shows
SCORES = {"one-random": (0.030, 0.031), "all": (0.028, 0.040), "all-shuffled": (0.025, 0.026),
          "random-window": (0.033, 0.020)}
#: per strategy: (samples of an epoch, seconds of an epoch)
EPOCHS = {"one-random": (22_363, 10.0), "all": (131_413, 60.0), "all-shuffled": (131_413, 100.0),
          "random-window": (22_363, 9.0)}


def synthetic_record(strategy: str, *, budget_s: float = 1200.0, seed: int = 0, tags=None, run_id: str | None = None,
                     finished_at: str = "2026-01-01T00:00:00+00:00", valid: float | None = None) -> dict:
    """A record of one study run: epochs of ``EPOCHS[strategy]`` until the budget, validated
    every 8 epochs, the curve rising to the strategy's validation score."""
    samples, seconds = EPOCHS[strategy]
    n = max(1, math.ceil(budget_s / seconds))
    full_valid, test = SCORES[strategy]
    full_valid = full_valid if valid is None else valid
    epochs = []
    for e in range(1, n + 1):
        epoch = {"epoch": e, "samples": samples, "train_seconds": seconds, "loss": 5.0 / e}
        if e % 8 == 0:
            epoch.update(valid=full_valid * e / n, valid_seconds=6.0)
        epochs.append(epoch)
    validated = [e for e in epochs if "valid" in e]
    best = validated[-1] if validated else None
    return {"run_id": run_id or f"cpu-seed{seed}-{strategy}", "method": "tiger", "dataset": "amazon2014-beauty",
            "profile": "cpu", "seed": seed, "tags": list(tags if tags is not None else (STUDY_TAG, f"strategy:{strategy}")),
            "config": {"training": {"training_prefixes": strategy, "time_budget_s": budget_s}},
            "metrics": {"valid": {"ndcg@10": full_valid}, "test": {"ndcg@10": test}},
            "training": {"epochs": epochs, "best_epoch": best and best["epoch"], "best_valid": best and best["valid"],
                         "stopped_by": "time_budget", "validation_subset": {"n_users": 4096, "of": 22363}},
            "timings": {"fit_s": n * seconds + 120.0, "valid_share_of_fit": 0.05},
            "efficiency": {"train_samples_per_s": samples / seconds}, "finished_at": finished_at}


def write_record(results_dir: Path, record: dict, directory: Path | None = None) -> Path:
    directory = directory or results_dir / "runs" / record["dataset"] / record["method"] / record["run_id"]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "record.json"
    path.write_text(json.dumps(record))
    return path


@dataclass
class FakeRecord:
    run_id: str


@dataclass
class FakeRun:
    """``genrec_bench.run``'s signature; writes a synthetic record and remembers every call."""

    calls: list = field(default_factory=list)

    def __call__(self, method, dataset, *, profile, seed, overrides, results_dir, tags, **options):
        self.calls.append({"method": method, "dataset": dataset, "profile": profile, "seed": seed,
                           "overrides": dict(overrides), "results_dir": Path(results_dir), "tags": tuple(tags),
                           "options": options})
        strategy = overrides["training.training_prefixes"]
        record = synthetic_record(strategy, budget_s=float(overrides["training.time_budget_s"]), seed=seed)
        write_record(Path(results_dir), record)
        return FakeRecord(record["run_id"])


def settings(tmp_path, **kw) -> StudySettings:
    return StudySettings(**{"method": "tiger", "dataset": "amazon2014-beauty", "profile": "cpu", "budget_min": 20,
                            "strategies": STRATEGIES, "seed": 0, "results_dir": tmp_path / "study", **kw})


def test_the_study_runs_each_strategy_with_two_overrides_tagged_into_its_own_folder(tmp_path):
    fake = FakeRun()
    report = run_study(settings(tmp_path, run_options={"threads": 1, "data_root": "/data"}), run=fake)
    assert [c["overrides"] for c in fake.calls] == [
        {"training.training_prefixes": s, "training.time_budget_s": "1200"} for s in STRATEGIES]
    assert [c["tags"] for c in fake.calls] == [(STUDY_TAG, f"strategy:{s}") for s in STRATEGIES]
    assert all(c["results_dir"] == tmp_path / "study" and c["seed"] == 0 and c["profile"] == "cpu"
               and c["options"] == {"threads": 1, "data_root": "/data"} for c in fake.calls)
    assert not (tmp_path / "runs").exists()                          # nothing where the tables read
    assert [r.strategy for r in report.results] == list(STRATEGIES) and report.missing == ()
    assert report.markdown == tmp_path / "study" / "reports" / "tiger-amazon2014-beauty-cpu-seed0-20min.md"
    assert report.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_report_chooses_on_validation_and_shows_test_without_using_it(tmp_path):
    report = run_study(settings(tmp_path), run=FakeRun())
    assert report.best == ("random-window",)                         # test would have chosen `all`
    text = report.markdown.read_text()
    assert "**random-window**: the highest full-validation NDCG@10" in text and "0.0330" in text
    assert "test N@10 (NOT used for the choice)" in text and "0.0400" in text
    row = next(line for line in text.splitlines() if line.startswith("| all "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # strategy, run id, samples seen, samples/s, epochs, validations, selected, full valid, test, fit s, ...
    assert cells[2] == f"{20 * 131_413:,}" and cells[3] == "2,190" and cells[4] == "20" and cells[5] == "2"
    assert cells[6] == "0.0224 (epoch 16)" and cells[7] == "0.0280" and cells[8] == "0.0400"
    # `all` was last validated after epoch 16 (972 s); its stage ran 4 more epochs (240 s)
    assert cells[12] == "240"
    assert "Caution: all trained 240 s after its last validation" in text
    assert "all-shuffled ran 12 s past" not in text                  # 12 x 100 s + 6 s: within 10 %


def test_a_strategy_never_validated_and_one_past_the_budget_are_flagged(tmp_path):
    study = settings(tmp_path, budget_min=2)                        # all-shuffled: 2 epochs, no validation
    run_study(study, run=FakeRun())
    text = study.report_path(".md").read_text()
    assert "all-shuffled was never validated" in text
    assert "all ran 0 s past" not in text and "all-shuffled ran 80 s past the budget" in text


def test_report_only_renders_from_records_and_ignores_other_runs(tmp_path, capsys):
    study = tmp_path / "study"
    for strategy in STRATEGIES:
        write_record(study, synthetic_record(strategy))
    write_record(study, synthetic_record("one-random", tags=[], run_id="untagged", valid=0.9))
    write_record(study, synthetic_record("one-random", budget_s=600.0, run_id="other-budget", valid=0.9))
    write_record(study, synthetic_record("one-random", seed=1, run_id="other-seed", valid=0.9))
    write_record(study, synthetic_record("all", run_id="older", valid=0.9, finished_at="2025-01-01T00:00:00+00:00"))
    argv = ["--method", "tiger", "--dataset", "amazon2014-beauty", "--budget-min", "20", "--results-dir", str(study),
            "--report-only"]
    assert runner.main(argv) == 0
    out = capsys.readouterr().out
    assert "**random-window**" in out and "0.9000" not in out and "written:" in out
    assert (study / "reports" / "tiger-amazon2014-beauty-cpu-seed0-20min.png").read_bytes()[:4] == b"\x89PNG"
    assert {s: r["run_id"] for s, r in study_records(settings(tmp_path)).items()} == {
        s: f"cpu-seed0-{s}" for s in STRATEGIES}


def test_report_only_names_the_strategies_not_run_and_refuses_without_records(tmp_path, capsys):
    study = tmp_path / "study"
    argv = ["--method", "tiger", "--dataset", "amazon2014-beauty", "--results-dir", str(study), "--report-only"]
    assert runner.main(argv) == 2
    assert "no records of this study" in capsys.readouterr().err
    write_record(study, synthetic_record("all"))
    assert runner.main(argv) == 0
    text = capsys.readouterr().out
    assert "Not run yet: one-random, all-shuffled, random-window" in text
    assert "Not every strategy has run" in text


def test_finished_runs_are_read_back_by_the_real_api_without_training(tmp_path, monkeypatch):
    study = settings(tmp_path, strategies=("one-random", "random-window"))
    for strategy in study.strategies:
        plan = prepare(study.method, study.dataset, **study.run_arguments(strategy))
        record = synthetic_record(strategy, run_id=plan.directory.name)
        write_record(study.results_dir, record, directory=plan.directory)

    def no_training(plan):
        raise AssertionError(f"trained {plan.directory}")

    monkeypatch.setattr(api, "_train_and_record", no_training)
    report = run_study(study)
    assert [r.strategy for r in report.results] == ["one-random", "random-window"]
    assert report.best == ("random-window",)


def test_every_run_is_checked_before_the_first_trains(tmp_path, monkeypatch):
    monkeypatch.setattr(api, "_train_and_record", lambda plan: pytest.fail("a run started"))
    with pytest.raises(ConfigError, match="training"):             # SASRec has no generator training config
        run_study(settings(tmp_path, method="sasrec"))
    study = settings(tmp_path)
    damaged = prepare(study.method, study.dataset, **study.run_arguments(STRATEGIES[-1])).directory
    damaged.mkdir(parents=True)
    (damaged / "record.json").write_text("{")                       # the last strategy's record is damaged
    with pytest.raises(DamagedRecordError):
        run_study(study)


@pytest.mark.parametrize("bad, message", [
    ({"strategies": ("all", "windows")}, "windows"),
    ({"strategies": ()}, "strategies"),
    ({"strategies": ("all", "all")}, "at most once"),
    ({"budget_min": 0}, "budget_min"),
    ({"budget_min": 0.001}, "budget_min"),
    ({"budget_min": float("inf")}, "budget_min"),
])
def test_invalid_settings_are_refused(tmp_path, bad, message):
    with pytest.raises(ConfigError, match=message):
        settings(tmp_path, **bad)


@pytest.mark.parametrize("argv", [["--strategies", "windows"], ["--budget-min", "0"], ["--budget-min", "x"]])
def test_usage_errors_are_one_line_with_exit_code_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        runner.main(["--method", "tiger", "--dataset", "amazon2014-beauty", *argv])
    assert exit_.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


def test_nothing_is_written_without_records(tmp_path):
    with pytest.raises(Exception, match="no records"):
        write_report(settings(tmp_path))
    assert not (tmp_path / "study" / "reports").exists()


def write_valid_ranks(record_path: Path, ranks, users=None, targets=None) -> None:
    """A ``per_user.npz`` beside ``record_path`` with validation ranks only."""
    import numpy as np

    ranks = np.asarray(ranks, dtype=np.int64)
    users = np.arange(len(ranks)) if users is None else np.asarray(users)
    np.savez(record_path.parent / "per_user.npz", valid_users=users,
             valid_targets=np.arange(len(ranks)) + 100 if targets is None else np.asarray(targets),
             valid_ranks=ranks, valid_tied=np.zeros(len(ranks), dtype=bool))


def test_the_lead_is_tested_per_validation_user_and_a_lead_within_noise_is_said_to_be_one(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    study = settings(tmp_path, strategies=("one-random", "all-shuffled", "random-window"))
    base = np.tile([1, 20], 1500)                                    # half the users hit at rank 1
    window = base.copy()
    window[1:61:2] = 1                                               # 30 users gained, 25 lost: a hair better,
    window[0:50:2] = 20                                              # within noise
    ranks = {"one-random": base, "random-window": window,
             "all-shuffled": np.where(rng.random(3000) < 0.5, 500, base)}   # half the hits lost: a real gap
    for strategy in study.strategies:
        path = write_record(study.results_dir, synthetic_record(strategy))
        write_valid_ranks(path, ranks[strategy][::-1], users=np.arange(3000)[::-1],   # stored unsorted
                          targets=(np.arange(3000) + 100)[::-1])
    report = write_report(study)
    family = report.significance
    assert family.best_method == "random-window"
    verdict = {c.method_b: c.significant for c in family}
    assert verdict == {"one-random": False, "all-shuffled": True}
    text = report.markdown.read_text()
    assert "## Is the lead real?" in text and "3,000 validation users" in text
    assert "random-window's lead over one-random is not significant" in text
    assert "random-window learned significantly more than all-shuffled" in text


def test_the_paired_test_refuses_runs_of_different_users_and_names_records_without_ranks(tmp_path):
    study = settings(tmp_path, strategies=("one-random", "all", "random-window"))
    paths = {s: write_record(study.results_dir, synthetic_record(s)) for s in study.strategies}
    write_valid_ranks(paths["one-random"], [1, 2, 3, 50])
    text = write_report(study).markdown.read_text()                  # one of three has ranks: no test
    assert "No paired test" in text and "all (" in text and "per_user.npz" in text
    write_valid_ranks(paths["random-window"], [1, 2, 3, 50], targets=[100, 101, 102, 999])
    with pytest.raises(Exception, match="random-window.*cannot be paired"):
        write_report(study)
