"""A typo never replaces a committed table: unknown names, empty tables and a comparison of
other methods are one-line errors with exit code 2 that write nothing (issues 20.1, 20.6)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runners import compare, efficiency, reproduction, table1, table2

REPO = Path(__file__).resolve().parents[2]
BEAUTY = {"sasrec": "cpu-seed0-2693e2b789", "popularity": "cpu-seed0-e102a6ea0e"}


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """Two committed Beauty records and a committed-looking table folder."""
    for method, run_id in BEAUTY.items():
        shutil.copytree(REPO / "results/runs/amazon2014-beauty" / method / run_id,
                        tmp_path / "runs/amazon2014-beauty" / method / run_id)
    (tmp_path / "tables").mkdir()
    for name in ("table1.md", "table2.md"):
        (tmp_path / "tables" / name).write_text("committed\n")
    return tmp_path


def one_line_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize(("argv", "words"), [
    (["--datasets", "amazon2014-beuty"], ["unknown dataset 'amazon2014-beuty'", "amazon2014-beauty"]),
    (["--methods", "popularity", "sasrex"], ["unknown method 'sasrex'", "sasrec"]),
    (["--methods", "letter"], ["no cpu records of letter", "not written"]),   # no measured cell
    (["--shard", "0/2"], ["--train-missing"]),
    (["--train-missing", "--shard", "abc"], ["--shard expects I/N", "'abc'"]),
    (["--train-missing", "--shard", "2/2"], ["--shard expects I/N"]),
])
def test_table1_refuses_and_leaves_the_committed_table(results, argv, words, capsys, real_data_root):
    assert table1.main(["--results-dir", str(results), "--data-root", str(real_data_root), *argv]) == 2
    one_line_error(capsys, *words)
    assert sorted(p.name for p in (results / "tables").iterdir()) == ["table1.md", "table2.md"]
    assert (results / "tables/table1.md").read_text() == "committed\n"


@pytest.mark.parametrize(("argv", "words"), [
    (["--domains", "amazon2014-sprots"], ["unknown dataset 'amazon2014-sprots'"]),
    (["--methods", "gencdr", "tigr"], ["unknown method 'tigr'"]),
    (["--methods", "gencdr", "--domains", "douban-movie"], ["no cpu records of gencdr", "not written"]),
])
def test_table2_refuses_and_leaves_the_committed_table(results, argv, words, capsys, real_data_root):
    assert table2.main(["--results-dir", str(results), "--data-root", str(real_data_root), *argv]) == 2
    one_line_error(capsys, *words)
    assert (results / "tables/table2.md").read_text() == "committed\n"


def compare_main(results: Path, *argv: str) -> int:
    return compare.main(["--results-dir", str(results), "--dataset", "amazon2014-beauty", *argv])


def test_compare_refuses_an_unknown_method_or_dataset(results, capsys):
    assert compare_main(results, "--methods", "popularity", "sasrex") == 2
    one_line_error(capsys, "unknown method 'sasrex'")
    assert compare.main(["--results-dir", str(results), "--dataset", "amazon2014-beuty", "--methods", "sasrec"]) == 2
    one_line_error(capsys, "unknown dataset 'amazon2014-beuty'")
    assert list((results / "tables").glob("compare-*")) == []


def test_compare_of_other_methods_does_not_replace_a_comparison(results, capsys):
    assert compare_main(results, "--methods", "sasrec", "popularity") == 0
    made = {p.name: p.read_bytes() for p in (results / "tables").glob("compare-*")}
    assert len(made) == 3
    assert compare_main(results, "--methods", "sasrec") == 2                      # a subset
    one_line_error(capsys, "compare-amazon2014-beauty-cpu.* compares popularity, sasrec, not sasrec", "--force")
    assert {p.name: p.read_bytes() for p in (results / "tables").glob("compare-*")} == made
    assert compare_main(results, "--methods", "popularity", "sasrec") == 0          # same set, other order
    assert compare_main(results, "--methods", "sasrec", "--stem", "solo") == 0      # another name
    assert compare_main(results, "--methods", "sasrec", "--force") == 0             # asked for
    assert (results / "tables/compare-amazon2014-beauty-cpu.md").read_bytes() != made["compare-amazon2014-beauty-cpu.md"]


@pytest.mark.parametrize("main", [table1.main, table2.main, compare.main, efficiency.main, reproduction.main],
                         ids=["table1", "table2", "compare", "efficiency", "reproduction"])
def test_a_usage_error_is_one_line_with_exit_code_2(main, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--dataset", "amazon2014-beauty", "--methods", "sasrec", "--profile", "bogus"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err


def test_efficiency_refuses_an_unknown_dataset_or_no_records(results, capsys):
    assert efficiency.main(["--results-dir", str(results), "--dataset", "amazon2014-beuty"]) == 2
    one_line_error(capsys, "unknown dataset 'amazon2014-beuty'")
    assert efficiency.main(["--results-dir", str(results), "--dataset", "amazon2014-sports"]) == 2
    one_line_error(capsys, "no cpu records for amazon2014-sports")
    assert not (results / "efficiency").exists()


def test_known_names_are_checked_without_importing_every_method(monkeypatch, tmp_path):
    """The registry imports every method module (transformers: seconds); a table's default
    methods and the methods with records need no lookup (issue 20.11: table1 stays fast)."""
    from genrec_bench import cli

    monkeypatch.setattr(cli, "method_names", lambda: pytest.fail("the registry was loaded"))
    (tmp_path / "runs/d/mymethod").mkdir(parents=True)
    cli.check_methods(["sasrec", "mymethod"], also_valid={"sasrec"} | cli.recorded_methods(tmp_path))
    assert cli.recorded_methods(tmp_path, ["d"]) == {"mymethod"} and cli.recorded_methods(tmp_path, ["e"]) == set()
