"""Which training-sample strategy learns most per minute: one run per strategy under one budget.

    python -m runners.sample_efficiency --method tiger --dataset amazon2014-beauty --profile cpu \\
        --budget-min 20 --strategies one-random all all-shuffled random-window --seed 0

Each strategy (``training.training_prefixes``) is one ``genrec_bench.run`` with
``training.time_budget_s`` set to the budget and nothing else changed, recorded under
``--results-dir`` (default ``results/studies/sample-efficiency``; no table reads it). Finished
runs are read back, interrupted ones resume: re-running the same command goes on where it
stopped. The report (Markdown table, PNG of validation NDCG@10 against the generator stage's
seconds, the strategy that learned most on VALIDATION) goes to ``<results-dir>/reports/``;
``--report-only`` re-renders it from the records. See ``genrec_bench/studies/sample_efficiency.py``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from genrec_bench.cli import OneLineParser, positive_int, seed_int
from genrec_bench.errors import GenRecError
from genrec_bench.studies.sample_efficiency import (
    DEFAULT_RESULTS_DIR,
    DEFAULT_STRATEGIES,
    StudySettings,
    run_study,
    write_report,
)
from genrec_bench.training.generator_config import TRAINING_PREFIXES


def positive_minutes(text: str) -> float:
    """argparse type: a positive, finite number of minutes."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of minutes, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m runners.sample_efficiency", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--budget-min", type=positive_minutes, default=20.0,
                        help="the generator stage's wall-clock budget of every run, in minutes")
    parser.add_argument("--strategies", nargs="+", choices=TRAINING_PREFIXES, default=list(DEFAULT_STRATEGIES))
    parser.add_argument("--seed", type=seed_int, default=0)
    parser.add_argument("--results-dir", default=str(DEFAULT_RESULTS_DIR))
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=positive_int, default=None)
    parser.add_argument("--report-only", action="store_true", help="re-render the report from existing records")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        settings = StudySettings(method=args.method, dataset=args.dataset, profile=args.profile,
                                 budget_min=args.budget_min, strategies=tuple(args.strategies), seed=args.seed,
                                 results_dir=Path(args.results_dir),
                                 run_options={"data_root": args.data_root, "device": args.device,
                                              "threads": args.threads})
        report = write_report(settings) if args.report_only else run_study(settings)
    except GenRecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to go on (finished runs are kept, the current one resumes)",
              file=sys.stderr)
        return 130
    print(report.markdown.read_text(encoding="utf-8"))
    print(f"written: {report.markdown}, {report.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
