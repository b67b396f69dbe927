"""results/REPRODUCTION.md must be regenerated whenever records change (CI check)."""

from pathlib import Path

from runners import reproduction

REPO = Path(__file__).resolve().parents[2]


def test_reproduction_file_is_current():
    assert reproduction.main(["--results-dir", str(REPO / "results"), "--check"]) == 0


def test_sasrec_beauty_is_compared_with_a_paper_number():
    text = reproduction.build(REPO / "results")
    row = next(line for line in text.splitlines() if "| amazon2014-beauty | sasrec | cpu " in line
               and "| ndcg@10 |" in line)
    assert "0.0318" in row and "FlexCode" in row
    assert "| cpu 2693e2b789 | 0,1,2 |" in row     # the current configuration, all three seeds


def test_a_superseded_tiger_configuration_is_left_out():
    """Beauty has four TIGER cpu records (the profile changed three times): one row, the newest."""
    rows = [line for line in reproduction.build(REPO / "results").splitlines()
            if "| amazon2014-beauty | tiger | cpu " in line and "| ndcg@10 |" in line]
    assert len(rows) == 1 and "| 0 |" in rows[0]
