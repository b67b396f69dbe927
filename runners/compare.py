"""Our methods side by side on one dataset: accuracy with significance, head/tail, and cost.

    python -m runners.compare --dataset amazon2014-beauty --methods sasrec tiger letter etegrec
    python -m runners.compare --dataset amazon2018-scientific --methods tiger letter etegrec --test wilcoxon

Answers from the run records alone: does one method beat another on this data, by how much,
is the difference real, and what does it cost. Writes
``results/tables/compare-<dataset>-<profile>.{md,tex,csv}`` (or ``--stem``; an existing table made
from a different set of methods is replaced only with ``--force``):

* metric columns (R@5, N@5, R@10, N@10), built as in Table 1 (``tables/columns.py``): mean
  over seeds, ``*`` = significantly below the best after the family's correction;
* head / tail N@10: test NDCG@10 of the users whose target is a head / tail item by training
  popularity (``metrics.test_by_popularity`` of each record), mean over seeds, not tested;
* (Markdown only) the best method against each other on ``--metric``: mean difference, its
  paired bootstrap 95% CI, the corrected p-value and wins/ties/losses over users; and the cost
  of each run: fit minutes, threads, test ms/user and parameters. Timings compare only between
  runs on the same machine with the same thread count; the table says both;
* (Markdown only, when a record has one) the token allocation of FlexCode-style methods per
  popularity bin (``training.allocation``): mean collaborative tokens of the item ID and the
  router's mean collaborative share alpha, bins by training count from the least to the most
  popular items, mean over seeds.

Each method's current configuration is used (``records/selection.py``); the caption names it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tabulate import tabulate

from genrec_bench.cli import OneLineParser, check_datasets, check_methods, recorded_methods
from genrec_bench.errors import GenRecError
from genrec_bench.records.selection import config_id
from genrec_bench.registry import PROFILE_NAMES
from genrec_bench.tables.cells import (
    MethodResults,
    collect,
    protocol_caption,
    proxy_text_caption,
    tuned_config_caption,
)
from genrec_bench.tables.columns import measured_column
from genrec_bench.tables.headers import METRICS, SHORT
from genrec_bench.tables.render import Cell, write_table_files


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m runners.compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--methods", nargs="+", required=True)
    p.add_argument("--profile", default="cpu", choices=PROFILE_NAMES)
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="seeds to use (default: all present)")
    p.add_argument("--metric", default="ndcg@10", choices=METRICS, help="the metric of the pairwise section")
    p.add_argument("--test", default="t-test", choices=("t-test", "wilcoxon", "permutation"))
    p.add_argument("--correction", default="holm", choices=("holm", "bh", "none"))
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--results-dir", default="results")
    p.add_argument("--stem", default=None,
                   help="output file name under results/tables (default compare-<dataset>-<profile>)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing table that was made from a different set of methods")
    return p


def table_methods(csv_path: Path) -> set[str] | None:
    """The methods (rows) of an existing comparison table's CSV, or None if there is none."""
    import csv

    if not csv_path.exists():
        return None
    with csv_path.open(newline="") as f:
        return {row[0] for row in list(csv.reader(f))[1:] if row}


def check_output(out_dir: Path, stem: str, methods: list[str], force: bool) -> None:
    """GenRecError unless ``<stem>.*`` is new or was made from the same methods (or ``force``):
    a comparison of a subset, or a typo, must not silently replace a committed comparison."""
    existing = table_methods(out_dir / f"{stem}.csv")
    if existing is None or existing == set(methods) or force:
        return
    raise GenRecError(f"{out_dir / stem}.* compares {', '.join(sorted(existing))}, not "
                      f"{', '.join(sorted(methods))}: give another --stem, or --force to replace it")


def popularity_cell(results: MethodResults, group: str) -> Cell:
    """Test NDCG@10 of the users whose target is a ``group`` ("head"/"tail") item, mean over seeds."""
    values = [r["metrics"].get("test_by_popularity", {}).get(group, {}).get("ndcg@10") for r in results.records]
    if any(v is None for v in values):
        return Cell()
    return Cell(ours=float(np.mean(values)), n_seeds=len(values),
                std=float(np.std(values, ddof=1)) if len(values) > 1 else None)


def cost_rows(measured: dict[str, MethodResults]) -> list[list]:
    rows = []
    for method, results in measured.items():
        for record in results.records:
            env, eff = record["environment"], record["efficiency"]
            rows.append([method, record["seed"], record["timings"]["fit_s"] / 60, eff["test_ms_per_user"],
                         eff["parameters"]["total"], f"{env.get('processor', '?')} x{env.get('torch_threads', '?')}"
                         f" threads, {env.get('device')}"])
    return rows


def allocation_rows(measured: dict[str, MethodResults]) -> tuple[list[list], list[str]]:
    """One row per method whose records carry ``training.allocation`` (a list of bins, least
    popular first): ``"<mean collaborative tokens> (α <mean alpha>)"`` per bin, mean over seeds."""
    rows, n_bins = [], 0
    for method, results in measured.items():
        allocations = [r["training"].get("allocation") for r in results.records]
        if not allocations or any(a is None for a in allocations):
            continue
        n_bins = len(allocations[0])
        tokens = np.mean([[b["mean_collaborative_tokens"] for b in a] for a in allocations], axis=0)
        alpha = np.mean([[b["mean_alpha"] for b in a] for a in allocations], axis=0)
        rows.append([method, *(f"{t:.2f} (α {a:.3f})" for t, a in zip(tokens, alpha, strict=True))])
    headers = ["method", *(f"bin {b + 1}" + (" (tail)" if b == 0 else " (head)" if b == n_bins - 1 else "")
                           for b in range(n_bins))]
    return rows, headers


def build(args) -> str:
    results_dir = Path(args.results_dir)
    measured: dict[str, MethodResults] = {}
    for method in args.methods:
        found = collect(results_dir, args.dataset, method, args.profile, args.seeds)
        if found is not None:
            measured[method] = found
    if not measured:
        raise GenRecError(f"no {args.profile} records of {', '.join(args.methods)} on {args.dataset} "
                          f"under {results_dir / 'runs'}")
    stem = args.stem or f"compare-{args.dataset}-{args.profile}"
    check_output(results_dir / "tables", stem, list(measured), args.force)
    columns, families = {}, {}
    for metric in METRICS:
        columns[metric], families[metric] = measured_column(measured, metric, args.dataset, test=args.test,
                                                            correction=args.correction, alpha=args.alpha,
                                                            intervals=metric == args.metric)
    rows = [(method, [columns[m][method] for m in METRICS]
             + [popularity_cell(results, "head"), popularity_cell(results, "tail")])
            for method, results in measured.items()]
    headers = [SHORT[m] for m in METRICS] + ["head N@10", "tail N@10"]
    missing = [m for m in args.methods if m not in measured]
    caption = [
        f"{args.dataset}, profile '{args.profile}'; test split, "
        f"{protocol_caption((m, r.records) for m, r in measured.items())}, leave-last-out. Runs (config, seeds): "
        + ", ".join(f"{m} {config_id(r.records[0])} ({','.join(map(str, r.seeds))})" for m, r in measured.items())
        + ".",
        "Cell: our mean over seeds (±std when several). Bold = best, underlined = second. "
        f"Significance: paired two-sided {args.test} on per-user values (averaged over seeds), family = the best "
        f"method vs each other, per metric; {args.correction} correction at alpha={args.alpha}; "
        "* = significantly below the best. Head/tail: users grouped by their target's training popularity "
        "(head = the 20% most-interacted items); not tested.",
    ]
    if args.profile != "paper":
        caption.append(f"Profile '{args.profile}' uses schedules sized for its budget, not the papers'.")
    if any(r.proxy_text for r in measured.values()):
        caption.append(proxy_text_caption([args.dataset]))
    tuned = tuned_config_caption((m, None, r.records) for m, r in measured.items())
    if tuned:
        caption.append(tuned)
    if missing:
        caption.append(f"No {args.profile} records: {', '.join(missing)}.")
    family = families[args.metric]
    sections = []
    if family is not None:
        pairs = [[f"{c.method_a} - {c.method_b}", f"{c.mean_diff:+.4f}", f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}]",
                  f"{c.p_adjusted:.2g}", "yes" if c.significant else "no", f"{c.wins}/{c.ties}/{c.losses}"]
                 for c in family.comparisons]
        sections += ["", f"## {SHORT[args.metric]}: the best against each other", "", family.family + ".", "",
                     tabulate(pairs, headers=["difference", "mean", "95% CI (bootstrap)", "p adjusted",
                                              "significant", "users won/tied/lost"], tablefmt="github",
                              disable_numparse=True)]
    allocation, allocation_headers = allocation_rows(measured)
    if allocation:
        sections += ["", "## Token allocation by item popularity", "",
                     "Collaborative tokens in the item ID, mean over the items of each bin (router's mean "
                     f"collaborative share alpha in brackets); {len(allocation_headers) - 1} bins of equally many "
                     "items by training interactions, bin 1 the least popular.", "",
                     tabulate(allocation, headers=allocation_headers, tablefmt="github", disable_numparse=True)]
    sections += ["", "## Cost", "", tabulate(cost_rows(measured), headers=["method", "seed", "fit min",
                                                                         "test ms/user", "parameters", "machine"],
                                             tablefmt="github", floatfmt=("", "", ".1f", ".2f", "", ""), intfmt=","), ""]
    return write_table_files(rows, headers, "\n".join(caption), results_dir / "tables", stem, "\n".join(sections))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_datasets([args.dataset])
        check_methods(args.methods, also_valid=recorded_methods(args.results_dir, [args.dataset]))
        text = build(args)
    except GenRecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
