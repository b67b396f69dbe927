"""runners.table1 renders from committed records, with paper numbers and significance marks."""

import shutil
from pathlib import Path

import pytest

from genrec_bench.errors import GenRecError
from runners import table1

REPO = Path(__file__).resolve().parents[2]


def copy_beauty_cpu_records(results_dir: Path, methods: tuple[str, ...]) -> None:
    """Copy the committed Beauty cpu seed-0 records of ``methods`` under ``results_dir/runs``."""
    runs = results_dir / "runs" / "amazon2014-beauty"
    for method in methods:
        for src in (REPO / "results/runs/amazon2014-beauty" / method).glob("cpu-seed0-*"):
            shutil.copytree(src, runs / method / src.name)


def test_table1_from_the_committed_beauty_records(tmp_path, real_data_root, capsys):
    copy_beauty_cpu_records(tmp_path, ("sasrec", "bert4rec", "popularity"))
    assert table1.main(["--results-dir", str(tmp_path), "--data-root", str(real_data_root),
                        "--datasets", "amazon2014-beauty", "kuairand-1k"]) == 0
    out = capsys.readouterr().out
    sasrec = next(line for line in out.splitlines() if line.startswith("| SASRec"))
    popularity = next(line for line in out.splitlines() if line.startswith("| popularity"))
    assert "**0.0" in sasrec and "(0.0318," in sasrec          # best, with the paper's N@10 beside it
    assert "*" in popularity.replace("**", "")                 # significantly below the best
    assert "Caser (reported only)" in out and "[0.0347]" in out
    assert "holm correction" in out and "kuairand-1k: data absent" in out
    for suffix in ("md", "tex", "csv"):
        assert (tmp_path / "tables" / f"table1.{suffix}").stat().st_size > 0


def test_flexcode_ablation_rows_are_filled_from_their_records(tmp_path, real_data_root, capsys):
    copy_beauty_cpu_records(tmp_path, ("flexcode", "flexcode-fix"))
    assert table1.main(["--results-dir", str(tmp_path), "--data-root", str(real_data_root),
                        "--datasets", "amazon2014-beauty"]) == 0
    lines = capsys.readouterr().out.splitlines()
    fix = next(line for line in lines if line.startswith("| FlexCode-Fix"))
    assert "reported only" not in fix and "(0.0452," in fix     # measured N@10 beside the paper's
    assert any(line.startswith("| FlexCode-SID only (reported only)") for line in lines)


def test_shards_partition_the_missing_cells():
    cells = [("sasrec", "d", s) for s in range(7)]
    shards = [table1.shard_of(cells, f"{i}/3") for i in range(3)]
    assert sorted(c for s in shards for c in s) == sorted(cells)
    assert not set(shards[0]) & set(shards[1])


def _fake_run(calls: list, outcome=None):
    """A stand-in for ``genrec_bench.run`` that notes its arguments, then raises ``outcome``."""
    from types import SimpleNamespace

    def fake(method, dataset, **options):
        calls.append({"method": method, "dataset": dataset, **options})
        if outcome is not None:
            raise outcome
        return SimpleNamespace(path=None)

    return fake


def test_retrain_reruns_every_cell_with_force_and_train_missing_only_the_absent(tmp_path, real_data_root,
                                                                                 monkeypatch):
    from genrec_bench import experiment

    copy_beauty_cpu_records(tmp_path, ("sasrec",))
    calls = []
    monkeypatch.setattr(experiment, "run", _fake_run(calls))
    common = ["--results-dir", str(tmp_path), "--data-root", str(real_data_root), "--methods", "sasrec",
              "--datasets", "amazon2014-beauty", "--seeds", "0", "1"]
    assert table1.main([*common, "--train-missing"]) == 0
    assert [call["seed"] for call in calls] == [1] and not calls[0]["force"]
    assert calls[0]["command"].startswith("python -m runners.run --method sasrec ")   # re-typeable
    calls.clear()
    assert table1.main([*common, "--retrain"]) == 0
    assert sorted(call["seed"] for call in calls) == [0, 1]
    assert all(call["force"] for call in calls)


@pytest.mark.parametrize("outcome, code", [(KeyboardInterrupt(), 130), (GenRecError("bad"), 2)])
def test_a_failed_or_interrupted_cell_stops_the_training_loop(outcome, code, tmp_path, real_data_root, monkeypatch):
    """Ctrl-C (or an error) in one cell must not go on with the next cells."""
    from genrec_bench import experiment

    calls = []
    monkeypatch.setattr(experiment, "run", _fake_run(calls, outcome))
    assert table1.main(["--results-dir", str(tmp_path), "--data-root", str(real_data_root), "--methods", "sasrec",
                        "--datasets", "amazon2014-beauty", "--seeds", "0", "1", "--train-missing"]) == code
    assert len(calls) == 1 and not (tmp_path / "tables").exists()
