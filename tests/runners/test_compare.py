"""runners.compare: our methods side by side from committed records, with tests and cost."""

import shutil
from pathlib import Path

from runners import compare

REPO = Path(__file__).resolve().parents[2]
BEAUTY = REPO / "results/runs/amazon2014-beauty"


def copy_runs(tmp_path: Path, runs: dict[str, str]) -> None:
    for method, run_id in runs.items():
        shutil.copytree(BEAUTY / method / run_id, tmp_path / "runs/amazon2014-beauty" / method / run_id)


def test_compare_from_committed_records(tmp_path, capsys):
    copy_runs(tmp_path, {"sasrec": "cpu-seed0-2693e2b789", "tiger": "cpu-seed0-455c489eb3",
                         "popularity": "cpu-seed0-e102a6ea0e"})
    assert compare.main(["--dataset", "amazon2014-beauty", "--methods", "sasrec", "tiger", "popularity", "letter",
                         "--results-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    sasrec = next(line for line in text.splitlines() if line.startswith("| sasrec "))
    tiger = next(line for line in text.splitlines() if line.startswith("| tiger "))
    assert sasrec.count("**") == 8                            # best in the four metric columns
    assert "*" in tiger.replace("**", "").replace("<u>", "")  # significantly below the best
    assert "tiger 455c489eb3 (0)" in text and "No cpu records: letter." in text and "PROXY" in text
    assert "| sasrec - tiger " in text and "| sasrec - popularity " in text
    assert "## Cost" in text and "x2 threads" in text
    for suffix in ("md", "tex", "csv"):
        assert (tmp_path / "tables" / f"compare-amazon2014-beauty-cpu.{suffix}").stat().st_size > 0
    tex = (tmp_path / "tables/compare-amazon2014-beauty-cpu.tex").read_text().splitlines()
    assert all(line.startswith("%") for line in tex[:tex.index(next(t for t in tex if t.startswith("\\begin")))])


def test_no_records_is_an_error_naming_the_dataset(tmp_path, capsys):
    assert compare.main(["--dataset", "amazon2014-beauty", "--methods", "tiger", "--results-dir", str(tmp_path)]) == 2
    assert "no cpu records of tiger on amazon2014-beauty" in capsys.readouterr().err


def test_stem_names_the_output_files(tmp_path):
    copy_runs(tmp_path, {"sasrec": "cpu-seed0-2693e2b789", "tiger": "cpu-seed0-455c489eb3"})
    assert compare.main(["--dataset", "amazon2014-beauty", "--methods", "tiger", "sasrec", "--stem", "pair",
                         "--results-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["pair.csv", "pair.md", "pair.tex"]


def test_flexcode_allocation_by_popularity_bin(tmp_path, capsys):
    copy_runs(tmp_path, {"tiger": "cpu-seed0-455c489eb3", "flexcode": "cpu-seed0-888bf352c7"})
    assert compare.main(["--dataset", "amazon2014-beauty", "--methods", "flexcode", "tiger",
                         "--results-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    section = text[text.index("## Token allocation by item popularity"):text.index("## Cost")]
    assert "| bin 1 (tail) " in section and "| bin 5 (head) " in section
    (row,) = [line for line in section.splitlines() if line.startswith("| flexcode ")]
    assert row.count("(α 0.") == 5 and "| tiger " not in section   # TIGER has no allocation


def test_caption_states_the_protocol_the_records_used(tmp_path, capsys):
    """Beauty+Sports runs ranked the user's own domain: the caption says so, not 'all items'."""
    pair = REPO / "results/runs/amazon2014-beauty+amazon2014-sports"
    for method, run_id in {"sasrec": "cpu-seed0-d8a4f56f13", "popularity": "cpu-seed0-a2c9b45adc"}.items():
        shutil.copytree(pair / method / run_id, tmp_path / "runs/amazon2014-beauty+amazon2014-sports" / method / run_id)
    assert compare.main(["--dataset", "amazon2014-beauty+amazon2014-sports", "--methods", "sasrec", "popularity",
                         "--results-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "test split, full ranking over the items of the user's own domain, one target per user" in text
    assert "over all items" not in text


def test_caption_names_the_rows_of_each_protocol_when_they_differ():
    from genrec_bench.tables.cells import protocol_caption
    domain = {"evaluation": {"protocol": "full ranking over the items of the user's own domain, one target per user"}}
    every = {"evaluation": {"protocol": "full ranking over all items, one target per user"}}
    assert protocol_caption([("a", [every]), ("b", [every])]) == "full ranking over all items, one target per user"
    assert protocol_caption([("a", [every]), ("b", [domain])]) == (
        "full ranking over all items, one target per user (a); "
        "full ranking over the items of the user's own domain, one target per user (b)")
