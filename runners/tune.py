"""Tune one method's hyper-parameters on validation with a seeded, resumable Optuna study.

    python -m runners.tune --method sasrec --dataset amazon2014-beauty --profile cpu --trials 12

Every trial is a normal run (``genrec_bench.run``) whose record, tagged with the study and
trial, goes to ``results/tuning/<study>/runs/``; the study itself is ``study.db`` (SQLite)
beside them, so re-running the same command resumes an interrupted study. Trials are chosen
on the validation split only. The best trial's parameters are printed and written as
``results/tuning/<study>/best.toml``, a file ``python -m runners.run --config`` accepts.
``--space`` defaults to the space shipped beside the method (``baselines/spaces/<name>.toml``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tabulate import tabulate

from genrec_bench.cli import OneLineParser, positive_int, seed_int
from genrec_bench.errors import GenRecError
from genrec_bench.tuning import TuningSettings, read_space, shipped_space, tune


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m runners.tune", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--trials", type=positive_int, required=True, help="finished trials wanted in all")
    parser.add_argument("--space", help="search-space TOML (default: the method's shipped space)")
    parser.add_argument("--seed", type=seed_int, default=0, help="seeds the sampler and every trial")
    parser.add_argument("--study", default="", help="study name (default <method>-<dataset>-<profile>-seed<N>)")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=positive_int, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        space = read_space(args.space or shipped_space(args.method))
        settings = TuningSettings(
            method=args.method, dataset=args.dataset, profile=args.profile, space=space,
            trials=args.trials, seed=args.seed, results_dir=Path(args.results_dir), study_name=args.study,
            run_options={"data_root": args.data_root, "device": args.device, "threads": args.threads})
        result = tune(settings)
    except GenRecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume the study", file=sys.stderr)
        return 130
    names = [p.name for p in space.params]
    rows = [[t.number, t.state, *(t.params.get(n) for n in names),
             None if t.value is None else f"{t.value:.4f}", t.run_id] for t in result.trials]
    print(tabulate(rows, headers=["trial", "state", *names, f"valid {result.metric}", "run id"]))
    print(f"\nbest: trial {result.best.number}, valid {result.metric} {result.best.value:.4f}; "
          f"config file {result.best_config_path}\n")
    print(result.best_config_text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
