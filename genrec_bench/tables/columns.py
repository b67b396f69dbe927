"""One table column: our measured methods on one (dataset, metric), tested and ranked.

Every table of the suite builds its metric columns here, so "bold", "underlined" and ``*``
mean the same everywhere: the family "best method by mean vs every other measured method"
is tested on per-user values (averaged over seeds) and corrected (``stats.compare_family``).
"""

from __future__ import annotations

from collections.abc import Mapping

from genrec_bench.stats import compare_family
from genrec_bench.stats.comparison import FamilyResult
from genrec_bench.tables.cells import MethodResults, check_paired
from genrec_bench.tables.render import Cell


def measured_column(measured: Mapping[str, MethodResults], metric: str, dataset: str, *, test: str = "t-test",
                    correction: str = "holm", alpha: float = 0.05,
                    paper: Mapping[str, float | None] | None = None,
                    intervals: bool = False) -> tuple[dict[str, Cell], FamilyResult | None]:
    """``{method: Cell}`` for the methods in ``measured`` and the family tested (``None`` when
    fewer than two methods were measured).

    Cell: test mean over seeds, the standard deviation of the per-seed means (several seeds),
    ``*`` when significantly below the best after the correction, place 1/2 by mean, and the
    paper's number from ``paper`` where given. The family's bootstrap CIs (no cell shows them)
    are computed only with ``intervals=True``, for a caller that prints them."""
    paper = paper or {}
    means = {m: float(r.per_seed_means(metric).mean()) for m, r in measured.items()}
    family, below = None, set()
    if len(measured) >= 2:
        check_paired(dict(measured))
        family = compare_family({m: r.per_user(metric) for m, r in measured.items()}, metric=metric, test=test,
                                correction=correction, alpha=alpha, seed=0, dataset=dataset,
                                intervals=intervals)
        below = {c.method_b for c in family.comparisons if c.significant and c.mean_diff > 0}
    ranking = sorted(means, key=lambda m: -means[m])
    cells = {}
    for method, results in measured.items():
        seeds = results.per_seed_means(metric)
        place = ranking.index(method) + 1
        cells[method] = Cell(ours=means[method], std=float(seeds.std(ddof=1)) if seeds.size > 1 else None,
                             n_seeds=int(seeds.size), worse_than_best=method in below,
                             place=place if place <= 2 else None, paper=paper.get(method))
    return cells, family
