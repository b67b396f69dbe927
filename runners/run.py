"""Train one method on one dataset, evaluate it once on test, and write its run record.

    python -m runners.run --method sasrec --dataset amazon2014-beauty --profile cpu --seed 0

Only arguments and printing live here; the run is ``genrec_bench.run`` (``genrec_bench/experiment/``,
where records, resuming, ``torchrun`` and ``--config`` files are described). Every user error is
one line on stderr and exit code 2, found before data is loaded; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys

from tabulate import tabulate

from genrec_bench.cli import OneLineParser, parse_overrides, positive_int, seed_int
from genrec_bench.data.catalog import dataset_names
from genrec_bench.errors import GenRecError
from genrec_bench.experiment import execute, interrupted_message, prepare
from genrec_bench.progress import hide_progress_bars
from genrec_bench.registry import PROFILE_NAMES, method_names
from genrec_bench.training.distributed import shutdown

SUMMARY_METRICS = ("recall@5", "ndcg@5", "recall@10", "ndcg@10")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m runners.run", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    add = p.add_argument
    add("--method", required=True, help=f"registered method: {', '.join(method_names())}")
    add("--dataset", required=True, help=f"dataset name: {', '.join(dataset_names())}; join several with '+' "
        "for a multi-domain run (e.g. amazon2014-beauty+amazon2014-sports: no shared users or items)")
    add("--profile", default="cpu", choices=PROFILE_NAMES, help="smoke = seconds (tests); cpu = sized for a "
        "2-core CPU; paper = the paper's schedule (a GPU budget). Default: cpu")
    add("--seed", type=seed_int, default=0, help="random seed in 0..2**32-1 (0 is a seed). Default: 0")
    add("--data-root", help="folder holding the dataset folders (default: $GENREC_DATA, then ../shared/data)")
    add("--results-dir", default="results", help="where run records go. Default: results")
    add("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    add("--config", metavar="FILE.toml", help="config fields from a TOML file (a table per nested field: "
        "[training] lr = 1e-3; [genrec_bench] holds metadata); --set wins over it")
    add("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config field of the method, e.g. --set max_epochs=5 (repeatable)")
    add("--eval-batch-size", type=positive_int, default=256, help="users per evaluation chunk")
    add("--threads", type=positive_int, metavar="N", help="torch intra-op CPU threads (recorded). Default: "
        "torch's choice (all cores); with several jobs side by side, give each cores / jobs")
    add("--tie-policy", default="pessimistic", choices=("pessimistic", "optimistic"),
        help="how a target tied with other items is ranked. Default: pessimistic")
    add("--invalid-slots", choices=("miss", "skip"), default="miss", help="top-K lists: an empty or invalid "
        "slot is a miss in its place (miss, as ETEGRec's evaluation) or skipped (later items move up)")
    add("--mask-history", action="store_true", help="remove history items from the ranking (default: off)")
    add("--candidates", choices=("all", "user-domain"), help="items each user's ranking runs over (default: "
        "user-domain, the user's own domain, for a multi-domain dataset, else all)")
    add("--force", action="store_true", help="run from scratch even if the record or a checkpoint exists "
        "(by default a stopped run resumes from its last finished epoch)")
    add("--save-model", action="store_true", help="also write the fitted method (model.pt)")
    add("--no-progress", action="store_true", help="hide progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    hide_progress_bars(args.no_progress)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    code, message = 0, None
    try:
        code = run(args, argv if argv is not None else sys.argv[1:])
    except GenRecError as error:   # one line, exit code 2
        code, message = 2, f"error: {error}"
    except KeyboardInterrupt as error:   # genrec_bench.experiment.RunInterrupted names its checkpoint
        code, message = 130, interrupted_message(getattr(error, "checkpoint", None))
    if message is not None:
        print(message, file=sys.stderr)
    shutdown(wait=message is None)   # torchrun: ranks leave together after rank 0 wrote; a failed one at once
    return code


def launch_command(argv: list[str], world_size: int) -> str:
    """The command that made the run, as the user would type it again."""
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    nodes = f"--nnodes {world_size // per_node} " if per_node != world_size else ""
    launcher = "python -m" if world_size <= 1 else f"torchrun {nodes}--nproc_per_node {per_node} -m"
    return f"{launcher} runners.run " + shlex.join(argv)


def run(args: argparse.Namespace, argv: list[str]) -> int:
    same = ("profile", "seed", "config", "data_root", "results_dir", "force", "device", "threads",
            "eval_batch_size", "tie_policy", "mask_history", "candidates", "invalid_slots", "save_model")
    plan = prepare(args.method, args.dataset, overrides=parse_overrides(args.overrides),   # the API's names
                   command=launch_command(argv, int(os.environ.get("WORLD_SIZE", "1"))),
                   **{name: getattr(args, name) for name in same})
    if plan.existing is not None:
        print(f"already finished: {plan.record_path} (use --force to run again)")
        _print_summary(plan.existing)
        return 0
    if not args.force and plan.checkpoint.exists():
        print(f"resuming from {plan.checkpoint} (the same command was stopped before it finished)")
    record = execute(plan, progress=not args.no_progress)
    if record.path is not None:   # torchrun: rank 0 alone writes and prints
        print(f"record: {record.path}")
        _print_summary(record.to_json())
    return 0


def _print_summary(record: dict) -> None:
    rows = [[split] + [record["metrics"][split].get(m) for m in SUMMARY_METRICS] for split in ("valid", "test")]
    rows += [[f"test: {domain} ({values['users']} users)"] + [values.get(m) for m in SUMMARY_METRICS]
             for domain, values in record["metrics"].get("test_by_domain", {}).items()]
    print(f"{record['method']} on {record['dataset']} ({record['profile']}, seed {record['seed']}), "
          f"{record['timings']['total_s']:.0f} s")
    print(tabulate(rows, headers=["split", *SUMMARY_METRICS], floatfmt=".4f"))


if __name__ == "__main__":
    raise SystemExit(main())
