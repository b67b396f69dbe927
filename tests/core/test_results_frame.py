"""genrec_bench.results: run records as tidy DataFrames (one row per run, split, subset and metric),
current records as the tables choose them, per-user ranks, damaged records named."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from genrec_bench.errors import GenRecError
from genrec_bench.records.record import DamagedRecordError, load_per_user
from genrec_bench.records.selection import current_runs
from genrec_bench.results import (
    COLUMNS,
    current_records,
    frame,
    load_records,
    per_user,
    tuned_config,
)

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "results"


def committed_records() -> list[dict]:
    """Every committed record.json, read with json alone, ``_path`` added."""
    records = []
    for path in sorted((RESULTS / "runs").glob("*/*/*/record.json")):
        record = json.loads(path.read_text())
        record["_path"] = str(path)
        records.append(record)
    return records


def committed_current_paths() -> set[str]:
    groups = defaultdict(list)
    for record in committed_records():
        groups[(record["dataset"], record["method"], record["profile"])].append(record)
    return {r["_path"] for group in groups.values() for r in current_runs(group)}


def expected_values(record: dict) -> dict[tuple, float]:
    """(split, subset, part, metric) -> value of every number in the record's metrics."""
    metrics, values = record["metrics"], {}
    for split in ("valid", "test"):
        values.update({(split, "all", None, m): v for m, v in metrics[split].items()})
        for split_, stats in metrics.get("top_k_lists", {}).items():
            if split_ == split:
                values.update({(split, "all", None, m): v for m, v in stats.items()})
        for facet in ("domain", "popularity"):
            for part, stats in metrics.get(f"{split}_by_{facet}", {}).items():
                if isinstance(stats, dict):
                    values.update({(split, facet, part, m): v for m, v in stats.items()
                                   if m != "users" and isinstance(v, float)})
    return values


def test_one_row_per_metric_value_of_every_current_committed_record():
    df = frame(RESULTS)
    current = committed_current_paths()
    by_path = {r["_path"]: r for r in committed_records()}
    expected = {(path, *key): value for path in current for key, value in expected_values(by_path[path]).items()}
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == len(expected) == sum(len(expected_values(by_path[p])) for p in current)
    assert set(df.path) == current and df.current.all()
    part = df.domain.where(df.subset == "domain", df.popularity)
    got = {(p, s, sub, None if sub == "all" else pt, m): v
           for p, s, sub, pt, m, v in zip(df.path, df.split, df.subset, part, df.metric, df.value, strict=True)}
    assert got == expected                                     # exact floats, never rounded
    assert df.value.dtype == np.float64
    row = df[df.path == next(iter(current))].iloc[0]
    record = by_path[row.path]
    assert (row.run_id, row.method, row.dataset, row.profile, row.seed) == \
        (record["run_id"], record["method"], record["dataset"], record["profile"], record["seed"])
    assert row.config_hash == record["run_id"].rsplit("-", 1)[-1]
    assert row.fit_s == record["timings"]["fit_s"] and row.parameters == record["efficiency"]["parameters"]["total"]
    assert row.code_version == record["environment"]["code"]["commit"] and row.finished_at == record["finished_at"]
    assert row.tags == () and row.tuned is None


def test_the_readme_pivot_is_the_mean_over_current_seeds():
    df = frame(RESULTS, dataset="amazon2014-beauty", method="sasrec", profile="cpu")
    pivot = df.query("split == 'test' and subset == 'all' and metric == 'ndcg@10'").pivot_table(
        index="method", columns="dataset", values="value")
    runs = current_records(RESULTS, "amazon2014-beauty", "sasrec", "cpu")
    assert len(runs) == 3
    assert pivot.loc["sasrec", "amazon2014-beauty"] == pytest.approx(
        np.mean([r["metrics"]["test"]["ndcg@10"] for r in runs]), abs=0, rel=1e-15)


def test_every_record_with_current_only_false():
    df = frame(RESULTS, current_only=False)
    assert set(df.path) == {r["_path"] for r in committed_records()}
    current = committed_current_paths()
    flags = df.groupby("path").current.first()
    assert {p for p, flag in flags.items() if flag} == current


def write_record(results: Path, method: str, seed: int, config: str, finished: str, **extra) -> Path:
    run_id = f"cpu-seed{seed}-{config}"
    folder = results / "runs" / "beauty" / method / run_id
    folder.mkdir(parents=True)
    record = {"run_id": run_id, "method": method, "dataset": "beauty", "profile": "cpu", "seed": seed,
              "finished_at": finished, "metrics": {"valid": {"ndcg@10": 0.5 + seed}, "test": {"ndcg@10": 0.25 + seed,
                                                                                              "recall@10": 1 / 3}},
              **extra}
    (folder / "record.json").write_text(json.dumps(record))
    return folder


def test_only_the_newest_configuration_is_current(tmp_path):
    write_record(tmp_path, "tiger", 0, "old", "2026-01-01T00:00:00")
    write_record(tmp_path, "tiger", 1, "old", "2026-01-02T00:00:00")
    write_record(tmp_path, "tiger", 0, "new", "2026-02-01T00:00:00", tags=["sweep", "a"],
                 config_file={"path": "t.toml", "sha256": "0" * 64,
                              "tuned": {"study": "tiger-beauty-cpu", "trial": 7, "value": 0.03}})
    write_record(tmp_path, "sasrec", 0, "only", "2025-12-01T00:00:00", config_file=None)
    every = frame(tmp_path, current_only=False)
    assert len(every) == 4 * 3
    current = frame(tmp_path)
    assert sorted(set(zip(current.method, current.config_hash, strict=True))) == [("sasrec", "only"), ("tiger", "new")]
    assert set(every[~every.current].config_hash) == {"old"}
    tiger = current[current.method == "tiger"].iloc[0]
    assert tiger.tags == ("sweep", "a") and tiger.tuned_study == "tiger-beauty-cpu" and tiger.tuned_trial == 7
    assert tiger.tuned == {"study": "tiger-beauty-cpu", "trial": 7, "value": 0.03}
    sasrec = current[current.method == "sasrec"].iloc[0]
    assert sasrec.tags == () and sasrec.tuned is None and sasrec.parameters is pd_na()
    assert current[(current.method == "sasrec") & (current.metric == "recall@10")].value.item() == 1 / 3
    # the tables' selection is the same rule, seeds filtered first
    assert [r["run_id"] for r in current_records(tmp_path, "beauty", "tiger", "cpu")] == ["cpu-seed0-new"]
    assert [r["run_id"] for r in current_records(tmp_path, "beauty", "tiger", "cpu", seeds=[1])] == ["cpu-seed1-old"]
    assert frame(tmp_path / "runs").equals(current)             # the runs/ folder itself is read as well


def pd_na():
    import pandas as pd

    return pd.NA


def test_tuned_config_reads_config_file_tuned_or_none():
    assert tuned_config({}) is None and tuned_config({"config_file": None}) is None
    assert tuned_config({"config_file": {"path": "x.toml", "tuned": None}}) is None
    assert tuned_config({"config_file": {"tuned": {"study": "s", "trial": 2}}}) == {"study": "s", "trial": 2}


def test_per_user_equals_the_stored_arrays():
    record = current_records(RESULTS, "amazon2014-beauty", "tiger", "cpu")[0]
    folder = Path(record["_path"]).parent
    df = per_user(folder)
    for split in ("valid", "test"):
        stored = load_per_user(Path(record["_path"]), split)
        part = df[df.split == split]
        for column, key in (("user", "users"), ("target", "targets"), ("rank", "ranks"), ("tied", "tied")):
            assert np.array_equal(part[column].to_numpy(), stored[key])
    row = frame(RESULTS, dataset="amazon2014-beauty", method="tiger").query(f"path == '{record['_path']}'").iloc[0]
    assert per_user(row, "test").equals(per_user(record, "test"))
    assert per_user(folder / "record.json", "test").equals(per_user(record, "test"))
    with_lists = per_user(record, "test", lists=True)
    with np.load(folder / "per_user.npz") as data:
        assert np.array_equal(np.stack(with_lists["list"].to_list()), data["test_lists"])
        assert np.array_equal(np.stack(with_lists["list_ties"].to_list()), data["test_list_ties"])


def test_per_user_lists_of_a_method_that_scores_every_item_is_an_error():
    record = current_records(RESULTS, "amazon2014-beauty", "sasrec", "cpu")[0]
    with np.load(Path(record["_path"]).with_name("per_user.npz")) as data:
        assert "test_lists" not in data.files
    with pytest.raises(GenRecError, match="no top-K lists"):
        per_user(record, "test", lists=True)


def test_a_damaged_record_is_named_never_skipped(tmp_path):
    folder = write_record(tmp_path, "tiger", 0, "aaa", "2026-01-01")
    write_record(tmp_path, "tiger", 1, "aaa", "2026-01-02")
    (folder / "record.json").write_text('{"run_id": "cpu-seed0-aaa", "metr')
    with pytest.raises(DamagedRecordError, match=str(folder / "record.json")):
        frame(tmp_path)
    with pytest.raises(DamagedRecordError, match="not valid JSON"):
        load_records(tmp_path)
    shutil.rmtree(folder)
    with pytest.raises(DamagedRecordError, match="per_user.npz: missing"):
        per_user(tmp_path / "runs/beauty/tiger/cpu-seed1-aaa")


def test_a_folder_without_runs_is_an_error_not_an_empty_frame(tmp_path):
    with pytest.raises(GenRecError, match="no runs/ folder"):
        frame(tmp_path)
    assert load_records(tmp_path) == [] and current_records(tmp_path, "beauty", "tiger", "cpu") == []
