"""runners.curves: validation NDCG@10 against cumulative training samples, from run records."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from genrec_bench.reported import ReportedNumber, load_reported
from runners import curves

DATASET = "amazon2014-beauty"


def write_record(results: Path, method: str, epochs: list[dict], *, seed: int = 0, config: str = "aaa",
                 finished: str = "2026-01-01T00:00:00+00:00", metric: str = "ndcg@10") -> str:
    """A minimal finished cpu run record of ``method`` on Beauty; returns its run id."""
    run_id = f"cpu-seed{seed}-{config}"
    record = {"run_id": run_id, "method": method, "dataset": DATASET, "profile": "cpu", "seed": seed,
              "finished_at": finished, "metrics": {"test": {"ndcg@10": 0.01}}, "data": {}, "notes": [],
              "training": {"epochs": epochs, "selection_metric": metric, "stopped_by": "max_epochs"}}
    directory = results / "runs" / DATASET / method / run_id
    directory.mkdir(parents=True)
    (directory / "record.json").write_text(json.dumps(record))
    return run_id


def epoch(number: int, samples: int | None, valid: float | None = None, **extra) -> dict:
    out = {"epoch": number, "steps": 1, **extra}
    if samples is not None:
        out["samples"] = samples
    if valid is not None:
        out["valid"] = valid
    return out


def read_csv(results: Path) -> list[dict]:
    with open(results / "curves" / f"{DATASET}-cpu.csv", newline="") as f:
        return list(csv.DictReader(f))


def number(method: str, value: float) -> ReportedNumber:
    return ReportedNumber(paper="P", table="T1", dataset=DATASET, dataset_version="v", method=method,
                          method_label=method, metric="ndcg@10", value=value, protocol="full", source="primary")


def test_csv_holds_cumulative_samples_and_valid_only_where_validated(tmp_path):
    write_record(tmp_path, "tiger", [epoch(1, 100), epoch(2, 100, 0.01), epoch(3, 37, 0.02)])
    assert curves.main(["--dataset", DATASET, "--results-dir", str(tmp_path)]) == 0
    rows = read_csv(tmp_path)
    assert list(rows[0]) == list(curves.CSV_COLUMNS)
    assert [(r["epoch"], r["samples_seen"], r["valid_ndcg@10"]) for r in rows] == [
        ("1", "100", ""), ("2", "200", "0.01"), ("3", "237", "0.02")]
    assert {r["method"] for r in rows} == {"tiger"} and {r["run_id"] for r in rows} == {"cpu-seed0-aaa"}
    assert (tmp_path / "curves" / f"{DATASET}-cpu.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (tmp_path / "curves" / f"{DATASET}-cpu.md").read_text()
    assert f"![Validation NDCG@10 against training samples seen]({DATASET}-cpu.png)" in markdown
    assert "VALIDATION NDCG@10" in markdown and "TEST NDCG@10" in markdown


def test_etegrec_counts_only_the_samples_its_generator_was_trained_on():
    stage1 = [epoch(1, 50, stage=1, phase="tokenizer"), epoch(2, 50, 0.01, stage=1, phase="generator"),
              epoch(3, 50, stage=1, phase="tokenizer"), epoch(4, 50, 0.02, stage=1, phase="generator")]
    stage2 = [epoch(1, 50, 0.03, stage=2, phase="generator")]
    record = {"method": "etegrec", "run_id": "cpu-seed0-e", "seed": 0, "metrics": {},
              "training": {"epochs": stage1 + stage2, "selection_metric": "ndcg@10"}}
    curve = curves.run_curve(record)
    assert [(p.stage, p.epoch, p.samples_seen) for p in curve.points] == [
        (1, 1, 0), (1, 2, 50), (1, 3, 50), (1, 4, 100), (2, 1, 150)]
    # a tokenizer epoch needs no count: the generator was frozen whatever it says
    stage1[0].pop("samples")
    assert curves.run_curve(record).points[0].samples_seen == 0


def test_a_record_without_samples_is_left_out_with_a_warning(tmp_path, capsys):
    write_record(tmp_path, "tiger", [epoch(1, 100, 0.01)])
    old = write_record(tmp_path, "letter", [epoch(1, None), epoch(2, 100, 0.02)])
    assert curves.main(["--dataset", DATASET, "--results-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert f"warning: letter {old} left out" in err and "no `samples` recorded for epoch 1" in err
    assert {r["method"] for r in read_csv(tmp_path)} == {"tiger"}
    markdown = (tmp_path / "curves" / f"{DATASET}-cpu.md").read_text()
    left_out = markdown[markdown.index("## Left out"):]
    assert f"letter `{old}`: no `samples` recorded for epoch 1" in left_out


def test_a_missing_count_after_the_last_validation_keeps_the_curve():
    record = {"method": "tiger", "run_id": "cpu-seed0-t", "seed": 0, "metrics": {},
              "training": {"epochs": [epoch(1, 100, 0.01), epoch(2, None)], "selection_metric": "ndcg@10"}}
    curve = curves.run_curve(record)
    assert [p.samples_seen for p in curve.points] == [100, None]


def test_records_validated_on_another_metric_or_never_are_left_out():
    other = {"method": "tiger", "run_id": "r", "seed": 0,
             "training": {"epochs": [epoch(1, 10, 0.5)], "selection_metric": "recall@10"}}
    untrained = {"method": "popularity", "run_id": "p", "seed": 0,
                 "training": {"epochs": [], "selection_metric": "ndcg@10", "stopped_by": "not_trainable"}}
    assert "validated on recall@10" in curves.run_curve(other).reason
    assert curves.run_curve(untrained).reason == "no validated epoch (stopped by not_trainable)"


def test_only_the_current_configuration_is_plotted(tmp_path):
    write_record(tmp_path, "tiger", [epoch(1, 100, 0.01)], config="old", finished="2026-01-01")
    write_record(tmp_path, "tiger", [epoch(1, 100, 0.02)], config="new", finished="2026-02-01")
    found, left_out = curves.current_curves(tmp_path, DATASET, "cpu")
    assert [c.run_id for c in found] == ["cpu-seed0-new"] and left_out == []


def test_plot_spec_draws_the_paper_line_in_the_methods_colour():
    def curve(method: str, seed: int) -> curves.RunCurve:
        points = (curves.EpochPoint(None, 1, 100, None), curves.EpochPoint(None, 2, 200, 0.01),
                  curves.EpochPoint(None, 3, 300, 0.02))
        return curves.RunCurve(method, f"cpu-seed{seed}-a", seed, points, False, None)

    spec = curves.plot_spec([curve("tiger", 0), curve("tiger", 1), curve("etegrec", 0)],
                            {"tiger": number("tiger", 0.0384), "sasrec": number("sasrec", 0.03)}, "t")
    tiger = [s for s in spec.series if s.label.startswith("tiger")]
    assert [(s.x, s.y) for s in tiger] == [((200, 300), (0.01, 0.02))] * 2   # validated epochs only
    assert tiger[0].colour == tiger[1].colour and tiger[0].marker != tiger[1].marker
    (line,) = spec.paper_lines                    # none for etegrec (no number) nor sasrec (no curve)
    assert line.y == 0.0384 and line.colour == tiger[0].colour and "paper test" in line.label


def test_a_validation_before_any_training_sample_is_not_put_on_the_log_axis():
    points = (curves.EpochPoint(1, 1, 0, 0.001), curves.EpochPoint(1, 2, 10, 0.01))
    spec = curves.plot_spec([curves.RunCurve("etegrec", "r", 0, points, False, None)], {}, "t")
    assert spec.series[0].x == (10,)


def test_paper_lines_use_the_registry_as_reproduction_does():
    lines = curves.paper_lines(load_reported(), DATASET, ["tiger", "etegrec"])
    assert list(lines) == ["tiger"]               # the registry has no Beauty number for ETEGRec
    assert lines["tiger"].metric == "ndcg@10" and lines["tiger"].protocol == "full"
    assert lines["tiger"].source == "primary"


def test_an_unknown_dataset_is_a_one_line_error_listing_the_valid_ones(tmp_path, capsys):
    assert curves.main(["--dataset", "beauty", "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown dataset 'beauty'" in err and DATASET in err
    assert not (tmp_path / "curves").exists()


def test_no_records_is_an_error_and_writes_nothing(tmp_path, capsys):
    assert curves.main(["--dataset", DATASET, "--results-dir", str(tmp_path)]) == 2
    assert f"no cpu records with a validation history on {DATASET}" in capsys.readouterr().err
    write_record(tmp_path, "popularity", [])      # a record, but no curve
    assert curves.main(["--dataset", DATASET, "--results-dir", str(tmp_path)]) == 2
    assert "popularity cpu-seed0-aaa: no validated epoch" in capsys.readouterr().err
    assert not (tmp_path / "curves").exists()
