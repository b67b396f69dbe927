"""GenCDR's Table 2 from run records: methods x domains (Sports, Clothing, Phones, Electronics,
Books, Movies) x (R@5, N@5, R@10, N@10), the paper's numbers beside ours.

    python -m runners.table2                       # render from the records in results/
    python -m runners.table2 --profile smoke --results-dir /tmp/x \\
        --domains amazon2014-beauty amazon2014-sports --pairs amazon2014-beauty+amazon2014-sports

A cell of (method, domain) comes from the method's runs on a multi-domain dataset that
contains the domain (``--pairs``; the record's ``metrics.test_by_domain``), else from its runs
on the domain alone (marked ``†``: trained on that domain only). It shows our mean over
seeds (± standard deviation with several seeds), then the paper's number and our/paper ratio
in parentheses; ``[x]`` is the paper's number of a method or domain with no run here. Bold =
best, underlined = second among our measured methods in the column. No significance test is
made here (the per-domain per-user ranks are in each run's ``per_user.npz``). Domains whose
data is absent say how to obtain it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from genrec_bench.cli import OneLineParser, check_datasets, check_methods, recorded_methods
from genrec_bench.data.multidomain import split_dataset_name
from genrec_bench.errors import GenRecError
from genrec_bench.reported import load_reported, lookup
from genrec_bench.results import current_records
from genrec_bench.tables.cells import proxy_text_caption, read_proxy_text, tuned_config_caption
from genrec_bench.tables.data_status import domain_status
from genrec_bench.tables.headers import METRICS, SHORT
from genrec_bench.tables.render import Cell, write_table_files

PAPER, TABLE = "GenCDR", "Table 2"
DOMAINS = ("amazon2014-sports", "amazon2014-clothing", "amazon2014-phones", "amazon2014-electronics",
           "douban-book", "douban-movie")
PAIRS = ("amazon2014-sports+amazon2014-clothing", "amazon2014-phones+amazon2014-electronics",
         "douban-book+douban-movie", "amazon2014-beauty+amazon2014-sports")
#: pairs that are not GenCDR's: their cells say so in the caption
STAND_IN_PAIRS = {"amazon2014-beauty+amazon2014-sports": "stands in for Sports-Clothing while the Clothing files "
                                                         "are absent here (Beauty is not a GenCDR domain)"}
DEFAULT_METHODS = ("popularity", "bert4rec", "sasrec", "tiger", "gencdr")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m runners.table2", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), help="our methods to show")
    p.add_argument("--domains", nargs="+", default=list(DOMAINS), help="column groups")
    p.add_argument("--pairs", nargs="+", default=list(PAIRS),
                   help="multi-domain datasets whose runs give per-domain cells")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="seeds to use (those present)")
    p.add_argument("--profile", default="cpu", choices=("smoke", "cpu", "paper"))
    p.add_argument("--results-dir", default="results")
    p.add_argument("--data-root", default=None)
    return p


def measured(results_dir: Path, method: str, domain: str, pairs: list[str], profile: str,
             seeds: list[int]) -> tuple[dict[str, np.ndarray], bool, list[dict]] | None:
    """``({metric: per-seed values}, single_domain, records)`` of ``method`` on ``domain``, or None."""
    for pair in pairs:
        if domain not in split_dataset_name(pair):
            continue
        records = current_records(results_dir, pair, method, profile, seeds)
        records = [r for r in records if domain in r["metrics"].get("test_by_domain", {})]
        if records:
            return {m: np.array([r["metrics"]["test_by_domain"][domain][m] for r in records])
                    for m in METRICS}, False, records
    records = current_records(results_dir, domain, method, profile, seeds)
    if records:
        return {m: np.array([r["metrics"]["test"][m] for r in records]) for m in METRICS}, True, records
    return None


def build_table(args, results_dir: Path) -> str:
    reported = lookup(load_reported(), paper_contains=PAPER, table=TABLE)
    paper_rows: list[tuple[str, str]] = []
    for number in reported:
        if (number.method, number.method_label) not in paper_rows:
            paper_rows.append((number.method, number.method_label))
    labels = dict(paper_rows)
    shown = [m for m, _ in paper_rows] + [m for m in args.methods if m not in labels]
    headers = [f"{d} {SHORT[m]}" for d in args.domains for m in METRICS]
    found = {(m, d): measured(results_dir, m, d, args.pairs, args.profile, args.seeds)
             for m in args.methods for d in args.domains}
    if not any(found.values()):
        raise GenRecError(f"no {args.profile} records of {', '.join(args.methods)} on {', '.join(args.domains)} "
                          f"(alone or in {', '.join(args.pairs)}) under {results_dir / 'runs'}: a table without "
                          "a measured cell is not written")
    cells: dict[tuple[str, str, str], Cell] = {}
    single: set[tuple[str, str]] = set()
    for domain in args.domains:
        for metric in METRICS:
            means = {m: float(v[0][metric].mean()) for (m, d), v in found.items() if d == domain and v}
            ranking = sorted(means, key=lambda m: -means[m])
            for method in shown:
                paper = lookup(reported, dataset=domain, method=method, metric=metric)
                paper_value = paper[0].value if paper else None
                value = found.get((method, domain))
                if value is None:
                    cells[(method, domain, metric)] = Cell(paper=paper_value)
                    continue
                per_seed, is_single, _ = value
                if is_single:
                    single.add((method, domain))
                seeds = per_seed[metric]
                place = ranking.index(method) + 1
                cells[(method, domain, metric)] = Cell(
                    ours=means[method], std=float(seeds.std(ddof=1)) if seeds.size > 1 else None,
                    n_seeds=int(seeds.size), place=place if place <= 2 else None, paper=paper_value)
    rows = []
    for method in shown:
        label = labels.get(method, method)
        if not any(found.get((method, d)) for d in args.domains):
            label += " (reported only)" if method in labels else " (no runs)"
        elif any((method, d) in single for d in args.domains):
            label += " †"
        rows.append((label, [cells[(method, d, m)] for d in args.domains for m in METRICS]))
    caption = caption_text(args, found, single, {m: labels.get(m, m) for m in shown})
    return write_table_files(rows, headers, caption, results_dir / "tables", "table2")


def record_caveats(found: dict) -> list[str]:
    """Caption lines read from the records behind the measured cells: proxy item text, and the
    size of our GenCDR language model (the paper fine-tunes Qwen2.5-7B)."""
    records = {r["_path"]: (m, r) for (m, _), v in found.items() if v for r in v[2]}.values()
    proxy = sorted({d for _, r in records if read_proxy_text(r) for d in split_dataset_name(r["dataset"])})
    lines = [proxy_text_caption(proxy)] if proxy else []
    sizes = sorted({(r["config"]["generator"]["hidden_size"], r["config"]["generator"]["layers"])
                    for m, r in records if m.startswith("gencdr")})
    if sizes:
        shown = ", ".join(f"hidden {h}, {n} layers" for h, n in sizes)
        lines.append(f"Our GenCDR rows use a small Qwen2-architecture LM trained from scratch ({shown}), "
                     "not the paper's pretrained Qwen2.5-7B.")
    return lines


def caption_text(args, found: dict, single: set, rows: dict[str, str] | None = None) -> str:
    """The caption; ``rows``: method -> row label in the table's order (default: the methods)."""
    seeds = sorted({len(v[0][METRICS[0]]) for v in found.values() if v})  # seeds per measured cell
    lines = [
        f"Table 2 (GenCDR, Hu et al. 2025) rebuilt from run records, profile '{args.profile}'; test split, "
        "leave-last-out; per-domain metrics of multi-domain runs (" + ", ".join(args.pairs) + ").",
        "Cell: our mean over seeds (±std when several seeds), then (paper value, ours/paper); [x] = the "
        "paper's number only. Bold = best, underlined = second among our runs. No significance test.",
        f"Seeds per measured cell: {', '.join(map(str, seeds)) or 'no measured cell'}.",
    ]
    if single:
        lines.append("† = some cells of this method come from a run on the domain alone (no multi-domain "
                     "run found): " + ", ".join(f"{m} on {d}" for m, d in sorted(single)) + ".")
    for pair in args.pairs:
        if pair in STAND_IN_PAIRS:
            lines.append(f"{pair} {STAND_IN_PAIRS[pair]}; a domain's cells come from the first listed pair "
                         "with a record.")
    if args.profile != "paper":
        lines.append(f"Profile '{args.profile}' uses schedules sized for its budget, not the papers'.")
    lines.extend(record_caveats(found))
    rows = rows or {m: m for m, _ in found}
    tuned = tuned_config_caption((rows[m], d, found[(m, d)][2])
                                 for m in rows for d in args.domains if found.get((m, d)))
    if tuned:
        lines.append(tuned)
    for domain in args.domains:
        status = domain_status(domain, args.data_root)
        if status is not None:
            lines.append(f"{domain}: {status}; the paper's numbers are shown.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_datasets(args.domains, multi_domain=False)
        check_datasets(args.pairs)
        check_methods(args.methods, also_valid=set(DEFAULT_METHODS) | recorded_methods(args.results_dir))
        text = build_table(args, Path(args.results_dir))
    except GenRecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
