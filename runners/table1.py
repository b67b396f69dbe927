"""FlexCode's Table 1 from run records: methods x (Beauty, Sports, KuaiRand) x (R@5, N@5, R@10, N@10).

    python -m runners.table1                       # render from the records in results/
    python -m runners.table1 --train-missing       # first train every missing cell (resumes)
    python -m runners.table1 --train-missing --shard 0/4   # one share of the missing cells

Each measured cell shows our test mean over seeds (± standard deviation when there are
several seeds), then the paper's number and our/paper ratio in parentheses. Per dataset and
metric, the family "best method vs every other measured method" is tested on per-user values
(averaged over seeds) and corrected (Holm by default); ``*`` marks a method significantly
below the best. Bold = best, underlined = second among our measured methods. Rows the suite
does not implement show the paper's numbers in brackets, marked as reported only.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from genrec_bench.cli import (
    OneLineParser,
    check_datasets,
    check_methods,
    parse_shard,
    recorded_methods,
)
from genrec_bench.errors import GenRecError
from genrec_bench.registry import method_names
from genrec_bench.reported import load_reported, lookup
from genrec_bench.tables.cells import (
    MethodResults,
    collect,
    proxy_text_caption,
    tuned_config_caption,
)
from genrec_bench.tables.columns import measured_column
from genrec_bench.tables.data_status import dataset_status
from genrec_bench.tables.headers import METRICS, SHORT
from genrec_bench.tables.render import Cell, write_table_files

PAPER, TABLE = "flexcode", "Table 1"
DATASETS = ("amazon2014-beauty", "amazon2014-sports", "kuairand-1k")
# The paper's Table 1 rows this suite implements, its three FlexCode ablations included.
DEFAULT_METHODS = ("popularity", "bert4rec", "sasrec", "tiger",
                   "flexcode-sid-only", "flexcode-cf-only", "flexcode-fix", "flexcode")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m runners.table1", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), help="our methods to show")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), help="column groups")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="seeds to use (those present)")
    p.add_argument("--profile", default="cpu", choices=("smoke", "cpu", "paper"))
    p.add_argument("--test", default="t-test", choices=("t-test", "wilcoxon", "permutation"))
    p.add_argument("--correction", default="holm", choices=("holm", "bh", "none"))
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--results-dir", default="results")
    p.add_argument("--data-root", default=None)
    p.add_argument("--train-missing", action="store_true",
                   help="train every missing (method, dataset, seed) cell first; finished runs are skipped")
    p.add_argument("--retrain", action="store_true",
                   help="train EVERY (method, dataset, seed) cell from scratch first (--force), replacing "
                        "the records of the same config; resumes nothing")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="with --train-missing or --retrain: only the cells whose index modulo N is I")
    return p


def all_cells(args) -> list[tuple[str, str, int]]:
    """Every (method, dataset, seed) the table asks for, for the methods the suite implements."""
    registered = set(method_names())
    return [(m, d, s) for d in args.datasets for m in args.methods if m in registered for s in args.seeds]


def missing_cells(args, results_dir: Path) -> list[tuple[str, str, int]]:
    cells = []
    for method, dataset, seed in all_cells(args):
        found = collect(results_dir, dataset, method, args.profile, args.seeds)
        if not found or seed not in set(found.seeds):
            cells.append((method, dataset, seed))
    return cells


def shard_of(cells: list, shard: str | None) -> list:
    if shard is None:
        return cells
    i, n = parse_shard(shard)
    return [c for k, c in enumerate(sorted(cells)) if k % n == i]


def check_arguments(args) -> None:
    """Every name and option checked before anything is trained or written (a typo must not
    replace the committed table with an empty one)."""
    check_datasets(args.datasets, multi_domain=False)
    check_methods(args.methods, also_valid=set(DEFAULT_METHODS) | recorded_methods(args.results_dir))
    if args.shard is not None:
        if not (args.train_missing or args.retrain):
            raise GenRecError("--shard selects cells to train: give it with --train-missing or --retrain")
        parse_shard(args.shard)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    results_dir = Path(args.results_dir)
    try:
        check_arguments(args)
        if args.train_missing or args.retrain:
            import shlex

            import genrec_bench
            from genrec_bench.experiment import interrupted_message

            cells = all_cells(args) if args.retrain else missing_cells(args, results_dir)
            for method, dataset, seed in shard_of(cells, args.shard):
                if dataset_status(dataset, args.data_root) is None:
                    argv = (["--method", method, "--dataset", dataset, "--profile", args.profile, "--seed", str(seed),
                             "--results-dir", str(results_dir), "--no-progress"]
                            + (["--data-root", args.data_root] if args.data_root else [])
                            + (["--force"] if args.retrain else []))
                    try:   # a GenRecError stops the loop with its one line (below); so does Ctrl-C
                        record = genrec_bench.run(method, dataset, profile=args.profile, seed=seed,
                                                  results_dir=results_dir, data_root=args.data_root,
                                                  force=args.retrain, command="python -m runners.run " + shlex.join(argv))
                    except KeyboardInterrupt as stop:
                        print(interrupted_message(getattr(stop, "checkpoint", None)), file=sys.stderr)
                        return 130
                    print(f"record: {record.path}")
        text = build_table(args, results_dir)
    except GenRecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(text)
    return 0


def build_table(args, results_dir: Path) -> str:
    reported = lookup(load_reported(), paper_contains=PAPER, table=TABLE)
    paper_rows: list[tuple[str, str]] = []
    for number in reported:
        if (number.method, number.method_label) not in paper_rows:
            paper_rows.append((number.method, number.method_label))
    labels = dict(paper_rows)
    order = [m for m, _ in paper_rows] + [m for m in args.methods if m not in labels]
    shown = [m for m in order if m in args.methods or m in labels]
    headers = [f"{d} {SHORT[m]}" for d in args.datasets for m in METRICS]

    results: dict[tuple[str, str], MethodResults] = {}
    for dataset in args.datasets:
        for method in args.methods:
            found = collect(results_dir, dataset, method, args.profile, args.seeds)
            if found is not None:
                results[(method, dataset)] = found
    if not results:
        raise GenRecError(f"no {args.profile} records of {', '.join(args.methods)} on {', '.join(args.datasets)} "
                          f"under {results_dir / 'runs'}: a table without a measured cell is not written "
                          "(train them with --train-missing)")

    cells: dict[tuple[str, str, str], Cell] = {}
    families = []
    for dataset in args.datasets:
        for metric in METRICS:
            paper = {}
            for method in shown:
                found = lookup(reported, dataset=dataset, method=method, metric=metric)
                paper[method] = found[0].value if found else None
            measured = {m: results[(m, dataset)] for m in args.methods if (m, dataset) in results}
            column, family = measured_column(measured, metric, dataset, test=args.test,
                                             correction=args.correction, alpha=args.alpha, paper=paper)
            if family is not None:
                families.append(family)
            for method in shown:
                cells[(method, dataset, metric)] = column.get(method, Cell(paper=paper[method]))
    rows = []
    for method in shown:
        label = labels.get(method, method)
        if method not in args.methods or not any((method, d) in results for d in args.datasets):
            label += " (reported only)" if method in labels else " (no runs)"
        rows.append((label, [cells[(method, d, m)] for d in args.datasets for m in METRICS]))
    caption = caption_text(args, results, families, {m: labels.get(m, m) for m in shown})
    return write_table_files(rows, headers, caption, results_dir / "tables", "table1")


def caption_text(args, results: dict, families: list, rows: dict[str, str] | None = None) -> str:
    """The caption; ``rows``: method -> row label in the table's order (default: the methods)."""
    seeds = sorted({s for r in results.values() for s in r.seeds})
    proxy = sorted({d for (m, d), r in results.items() if r.proxy_text})
    lines = [
        f"Table 1 (FlexCode, Hui et al. 2025) rebuilt from run records, profile '{args.profile}', "
        f"seeds {seeds or 'none'}; test split, full ranking over all items, leave-last-out.",
        "Cell: our mean over seeds (±std when several seeds), then (paper value, ours/paper); "
        "[x] = the paper's number only (method not run here). Bold = best, underlined = second among our runs.",
        f"Significance: paired two-sided {args.test} on per-user values (averaged over seeds), family = the "
        f"best method vs each other measured method, per dataset and metric; {args.correction} correction "
        f"at alpha={args.alpha}; * = significantly below the best.",
    ]
    if args.profile != "paper":
        lines.append(f"Profile '{args.profile}' uses schedules sized for its budget, not the papers'.")
    if proxy:
        lines.append(proxy_text_caption(proxy))
    rows = rows or {m: m for m, _ in results}
    tuned = tuned_config_caption((rows[m], d, results[(m, d)].records)
                                 for m in rows for d in args.datasets if (m, d) in results)
    if tuned:
        lines.append(tuned)
    for dataset in args.datasets:
        status = dataset_status(dataset, args.data_root)
        if status is not None:
            lines.append(f"{dataset}: {status}; the paper's numbers are shown.")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
