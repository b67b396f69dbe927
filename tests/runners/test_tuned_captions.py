"""Tables read their records through genrec_bench.results: the committed tables re-render byte for
byte, and a caption line names each row whose shown records were made from a tuned config file
(``config_file.tuned``); without one nothing changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from genrec_bench.tables.cells import tuned_config_caption
from runners import compare, table1, table2

REPO = Path(__file__).resolve().parents[2]
RUNS = REPO / "results" / "runs"
PAIR = "amazon2014-beauty+amazon2014-sports"
TUNED = {"path": "configs/sasrec.toml", "sha256": "0" * 64,
         "tuned": {"study": "sasrec-beauty-cpu", "trial": 7, "objective": "valid ndcg@10", "value": 0.031}}


@pytest.mark.parametrize(("main", "stem"), [(table1.main, "table1"), (table2.main, "table2")])
def test_the_committed_tables_render_byte_for_byte(main, stem, tmp_path, real_data_root, monkeypatch, capsys):
    (tmp_path / "runs").symlink_to(RUNS)   # read only; the tables go to tmp_path
    monkeypatch.setenv("GENREC_DATA", str(real_data_root))
    assert main(["--results-dir", str(tmp_path)]) == 0
    for suffix in ("md", "tex", "csv"):
        assert (tmp_path / "tables" / f"{stem}.{suffix}").read_bytes() == \
            (REPO / "results" / "tables" / f"{stem}.{suffix}").read_bytes(), suffix
    assert "tuned config" not in capsys.readouterr().out


def copy_runs(results: Path, dataset: str, method: str, pattern: str = "cpu-seed0-*",
              config_file: dict | None = None) -> list[Path]:
    """Copy the committed records of ``method`` on ``dataset`` matching ``pattern`` (current ones
    only) under ``results/runs``, with ``config_file`` written into each record."""
    copied = []
    for src in sorted((RUNS / dataset / method).glob(pattern)):
        dst = results / "runs" / dataset / method / src.name
        shutil.copytree(src, dst)
        if config_file is not None:
            record = json.loads((dst / "record.json").read_text())
            record["config_file"] = config_file
            (dst / "record.json").write_text(json.dumps(record))
        copied.append(dst)
    return copied


def caption_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if "tuned config" in line]


def test_table1_names_the_row_of_a_tuned_config(tmp_path, real_data_root, capsys):
    copy_runs(tmp_path, "amazon2014-beauty", "sasrec", config_file=TUNED)
    copy_runs(tmp_path, "amazon2014-beauty", "popularity", config_file={"path": "p.toml", "tuned": None})
    argv = ["--results-dir", str(tmp_path), "--data-root", str(real_data_root), "--datasets", "amazon2014-beauty",
            "--methods", "popularity", "sasrec"]
    assert table1.main(argv) == 0
    assert caption_lines(tmp_path / "tables/table1.md") == ["SASRec: tuned config (study sasrec-beauty-cpu, trial 7)."]
    assert caption_lines(tmp_path / "tables/table1.tex") == ["% SASRec: tuned config (study sasrec-beauty-cpu, trial 7)."]
    capsys.readouterr()


def test_table2_names_the_row_of_a_tuned_multi_domain_run(tmp_path, real_data_root, capsys):
    copy_runs(tmp_path, PAIR, "sasrec", config_file=TUNED)
    copy_runs(tmp_path, PAIR, "popularity")
    assert table2.main(["--results-dir", str(tmp_path), "--data-root", str(real_data_root), "--methods", "popularity",
                        "sasrec", "--domains", "amazon2014-beauty", "amazon2014-sports", "--pairs", PAIR]) == 0
    # both domains' cells come from the one tuned run: the row is named once, without a domain
    assert caption_lines(tmp_path / "tables/table2.md") == ["SASRec: tuned config (study sasrec-beauty-cpu, trial 7)."]
    capsys.readouterr()


def test_compare_names_the_tuned_method(tmp_path, capsys):
    copy_runs(tmp_path, "amazon2014-beauty", "sasrec", config_file=TUNED)
    copy_runs(tmp_path, "amazon2014-beauty", "popularity")
    assert compare.main(["--dataset", "amazon2014-beauty", "--methods", "sasrec", "popularity",
                         "--results-dir", str(tmp_path)]) == 0
    assert caption_lines(tmp_path / "tables/compare-amazon2014-beauty-cpu.md") == \
        ["sasrec: tuned config (study sasrec-beauty-cpu, trial 7)."]
    capsys.readouterr()


def record(seed: int, tuned: dict | None) -> dict:
    return {"seed": seed, "config_file": None if tuned is None else {"path": "x.toml", "tuned": tuned}}


def test_the_caption_says_where_a_rows_tuned_configs_differ():
    a, b = {"study": "a", "trial": 1}, {"study": "b", "trial": 2}
    assert tuned_config_caption([("SASRec", "beauty", [record(0, None)])]) is None
    assert tuned_config_caption([("SASRec", "beauty", [record(0, a), record(1, a)]),
                                 ("SASRec", "sports", [record(0, a)])]) == "SASRec: tuned config (study a, trial 1)."
    assert tuned_config_caption([("SASRec", "beauty", [record(0, a)]), ("SASRec", "sports", [record(0, b)]),
                                 ("TIGER", "beauty", [record(0, None), record(1, b)]),
                                 ("TIGER", "sports", [record(0, None)])]) == (
        "SASRec: tuned config on beauty (study a, trial 1), on sports (study b, trial 2); "
        "TIGER: tuned config on beauty (study b, trial 2; seed 1 only).")
    assert tuned_config_caption([("x", None, [{"seed": 0, "config_file": {"path": "c.toml", "tuned": {}}}])]) == \
        "x: tuned config (from c.toml)."
