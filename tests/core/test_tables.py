"""Table building blocks: one metric column (means, significance, places) and the files."""

import numpy as np
import pytest

from genrec_bench.tables.cells import MethodResults
from genrec_bench.tables.columns import measured_column
from genrec_bench.tables.render import Cell, write_table_files


def results(method: str, ranks: list[np.ndarray]) -> MethodResults:
    return MethodResults(method, "d", tuple(range(len(ranks))), tuple({} for _ in ranks), tuple(ranks),
                         np.arange(ranks[0].size), np.arange(ranks[0].size) + 1)


def test_measured_column_hand_case():
    n = 400
    strong = np.ones(n, dtype=np.int64)                    # every target at rank 1: NDCG 1
    weak = np.where(np.arange(n) % 4 == 0, 1, 1000)        # a quarter at rank 1: NDCG 0.25
    middle = np.where(np.arange(n) % 2 == 0, 1, 1000)      # half: 0.5, over two seeds of 0.5 each
    cells, family = measured_column({"a": results("a", [strong]), "b": results("b", [weak]),
                                     "c": results("c", [middle, middle])}, "ndcg@10", "d",
                                    paper={"a": 0.5})
    assert cells["a"].ours == 1.0 and cells["a"].place == 1 and not cells["a"].worse_than_best
    assert cells["a"].paper == 0.5 and cells["b"].paper is None
    assert cells["c"].ours == 0.5 and cells["c"].place == 2 and cells["c"].n_seeds == 2 and cells["c"].std == 0.0
    assert cells["b"].ours == 0.25 and cells["b"].place is None and cells["b"].worse_than_best
    assert family.best_method == "a" and len(family.comparisons) == 2


def test_a_single_method_is_not_tested():
    cells, family = measured_column({"a": results("a", [np.ones(5, dtype=np.int64)])}, "ndcg@10", "d")
    assert family is None and cells["a"].place == 1 and not cells["a"].worse_than_best


def test_every_caption_line_is_a_latex_comment(tmp_path):
    write_table_files([("A", [Cell(ours=0.1)])], ["N@10"], "first line\nsecond line", tmp_path, "t")
    tex = (tmp_path / "t.tex").read_text().splitlines()
    assert tex[:2] == ["% first line", "% second line"] and tex[2].startswith("\\begin{tabular}")
    assert (tmp_path / "t.md").read_text().endswith("first line\nsecond line\n")


def test_a_column_computes_no_bootstrap_interval_unless_asked(monkeypatch):
    """No cell shows a CI: Table 1 must not spend its time on them (issue 20.11)."""
    from genrec_bench.stats import comparison

    def refuse(*args, **kwargs):
        raise AssertionError("bootstrap_ci called")

    monkeypatch.setattr(comparison, "bootstrap_ci", refuse)
    ranks = {m: results(m, [np.arange(1, 41) % k + 1]) for m, k in (("a", 3), ("b", 20))}
    _, family = measured_column(ranks, "ndcg@10", "d")
    assert family is not None and np.isnan(family.comparisons[0].ci_low)
    with pytest.raises(AssertionError, match="bootstrap_ci called"):
        measured_column(ranks, "ndcg@10", "d", intervals=True)
