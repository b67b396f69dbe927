"""Train one method on one dataset, evaluate it once on test, and write its run record.

    python -m runners.run --method sasrec --dataset amazon2014-beauty --profile cpu --seed 0

Several processes: ``torchrun --nproc_per_node N -m runners.run ...`` (DistributedDataParallel;
gloo on CPUs, NCCL on GPUs); several machines: add ``--nnodes``/``--node_rank``/``--rdzv_endpoint``.

The record goes to ``results/runs/<dataset>/<method>/<profile>-seed<N>-<config hash>/``.
A run whose record already exists (same method, dataset, profile, seed, config and
evaluation settings) is not repeated unless ``--force`` is given. Training state is
checkpointed after every epoch under ``results/checkpoints/``: re-running the command of a
run that was stopped (even by SIGKILL) resumes it and ends with the same result as an
uninterrupted run; the record then sums the training time of every process that worked on it
and lists the resumes (``genrec_bench/records/processes.py``). Ctrl-C stops a run the same way:
it says from which epoch the same command resumes.

Everything that can be checked before training is checked first (``runners/_preflight.py``):
names, the results folder, the selection metric, the device, numeric options. Every user error
is one line on stderr and exit code 2; an interrupted run exits with 130.

``--threads N`` sets torch's intra-op threads (recorded in ``environment.torch_threads``): to
run several jobs side by side on a small machine, give each ``--threads`` = cores / jobs.
A ``torchrun`` run of N processes is a different run from a single-process one (its effective
batch is N times larger): the world size is part of its run id.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import io
import logging
import os
import resource
import shlex
import sys
import time
from pathlib import Path

import torch
from tabulate import tabulate

from genrec_bench.cli import OneLineParser, positive_int, seed_int
from genrec_bench.data.catalog import (
    check_dataset_name,
    dataset_names,
    load_dataset,
    resolve_data_root,
)
from genrec_bench.data.multidomain import split_dataset_name
from genrec_bench.data.split import leave_last_out
from genrec_bench.errors import ConfigError, GenRecError, UnknownNameError
from genrec_bench.evaluation import EvalConfig, Evaluator, Validator
from genrec_bench.evaluation.summary import record_metrics
from genrec_bench.progress import hide_progress_bars
from genrec_bench.records import RunRecord, atomic_write_bytes, capture_environment, run_directory
from genrec_bench.records.data_paths import relative_to_root
from genrec_bench.records.processes import checkpoint_progress, finish, start_process, whole_cost
from genrec_bench.records.record import RECORD_FILE, read_record
from genrec_bench.registry import PROFILE_NAMES, get_method, method_names
from genrec_bench.training import seed_everything
from genrec_bench.training.distributed import all_gather_objects, init_from_env, shutdown
from genrec_bench.training.generator_config import selection_metric_of
from genrec_bench.training.precision import resolve_precision
from runners._preflight import check_device, check_metric, check_results_dir

SUMMARY_METRICS = ("recall@5", "ndcg@5", "recall@10", "ndcg@10")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m runners.run", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", required=True,
                        help=f"registered method: {', '.join(method_names())}")
    parser.add_argument("--dataset", required=True,
                        help=f"dataset name: {', '.join(dataset_names())}; join several with '+' "
                             "for a multi-domain run (e.g. amazon2014-beauty+amazon2014-sports: "
                             "no shared users or items, metrics also per domain)")
    parser.add_argument("--profile", default="cpu", choices=PROFILE_NAMES,
                        help="smoke = seconds (tests); cpu = sized for a 2-core CPU; "
                             "paper = the paper's schedule (a GPU budget). Default: cpu")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="random seed in 0..2**32-1 (0 is a seed). Default: 0")
    parser.add_argument("--data-root", default=None,
                        help="folder holding the dataset folders (default: $GENREC_DATA, "
                             "then ../shared/data)")
    parser.add_argument("--results-dir", default="results", help="where run records go. Default: results")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field of the method, e.g. --set max_epochs=5 (repeatable)")
    parser.add_argument("--eval-batch-size", type=positive_int, default=256, help="users per evaluation chunk")
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="torch intra-op CPU threads of this run (recorded). Default: torch's choice "
                             "(all cores); with several jobs side by side, give each cores / jobs")
    parser.add_argument("--tie-policy", default="pessimistic", choices=("pessimistic", "optimistic"),
                        help="how a target tied with other items is ranked. Default: pessimistic")
    parser.add_argument("--invalid-slots", choices=("miss", "skip"), default="miss",
                        help="top-K lists: an empty or invalid slot is a miss in its place (miss, as "
                             "ETEGRec's official evaluation) or is skipped so later items move up. "
                             "Default: miss")
    parser.add_argument("--mask-history", action="store_true",
                        help="remove history items from the ranking (default: off, as TIGER/LETTER)")
    parser.add_argument("--candidates", choices=("all", "user-domain"), default=None,
                        help="items each user's ranking runs over: all, or only the user's own domain "
                             "(default: user-domain for a multi-domain dataset, else all)")
    parser.add_argument("--force", action="store_true",
                        help="run from scratch even if the record or a checkpoint exists "
                             "(by default a stopped run resumes from its last finished epoch)")
    parser.add_argument("--save-model", action="store_true",
                        help="also write the fitted method (model.pt, torch.save of the whole object)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise GenRecError(f"--set expects KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    hide_progress_bars(args.no_progress)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        code = run(args, argv if argv is not None else sys.argv[1:])
    except (GenRecError, UnknownNameError) as error:
        print(f"error: {error}", file=sys.stderr)
        shutdown(wait=False)
        return 2
    except KeyboardInterrupt:
        print(interrupted_message(getattr(args, "checkpoint", None)), file=sys.stderr)
        shutdown(wait=False)
        return 130
    shutdown()  # torchrun: every rank leaves the process group together, after rank 0 wrote
    return code


def interrupted_message(checkpoint: Path | None) -> str:
    """The line an interrupted run leaves: from which epoch the same command goes on."""
    progress = checkpoint_progress(checkpoint) if checkpoint is not None else None
    if progress is not None and progress["finished"]:
        return "interrupted; rerun the same command to evaluate the trained model (training is finished)"
    return f"interrupted; rerun the same command to resume from epoch {progress['epoch'] + 1 if progress else 1}"


def launch_command(argv: list[str], world_size: int) -> str:
    """The command that made the run, as the user would type it again."""
    if world_size <= 1:
        return "python -m runners.run " + shlex.join(argv)
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    nodes = f"--nnodes {world_size // per_node} " if per_node != world_size else ""
    return f"torchrun {nodes}--nproc_per_node {per_node} -m runners.run " + shlex.join(argv)


def run_identity(config_json: dict, eval_config: EvalConfig, world_size: int = 1) -> dict:
    """What makes two runs the same run (hashed into the run id): the method's config, the
    evaluation settings and, for ``torchrun``, the number of processes (N processes train with
    N times the batch). Keys are added only when they differ from the default, so records made
    before a key existed keep their ids."""
    identity = {"config": config_json, "tie_policy": eval_config.tie_policy,
                "mask_history": eval_config.mask_history, "metrics": list(eval_config.metrics)}
    if eval_config.candidates != "all":
        identity["candidates"] = eval_config.candidates
    if eval_config.invalid_slots != "miss":
        identity["invalid_slots"] = eval_config.invalid_slots
    if world_size > 1:
        identity["world_size"] = world_size
    return identity


def train_precision_of(config, device: torch.device) -> dict:
    """``{"train_precision": "bf16" | "fp32"}``: what a generator's ``auto`` precision meant on
    this device (empty for methods without a T5 generator config)."""
    precision = getattr(getattr(config, "generator", None), "train_precision", None)
    return {} if precision is None else {"train_precision": resolve_precision(precision, device)}


def run(args: argparse.Namespace, argv: list[str]) -> int:
    spec = get_method(args.method)
    check_dataset_name(args.dataset)  # a registered name, or several joined with '+'
    config = spec.make_config(args.profile, parse_overrides(args.overrides))
    check_metric(selection_metric_of(config))
    device = check_device(args.device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))   # torchrun's; 1 for a plain run
    multi_domain = len(split_dataset_name(args.dataset)) > 1
    candidates = args.candidates or ("user-domain" if multi_domain else "all")
    if candidates == "user-domain" and not multi_domain:
        raise ConfigError(f"--candidates user-domain needs a multi-domain dataset (a+b), got {args.dataset!r}")
    eval_config = EvalConfig(batch_size=args.eval_batch_size, tie_policy=args.tie_policy,
                             mask_history=args.mask_history, candidates=candidates,
                             invalid_slots=args.invalid_slots)
    config_json = dataclasses.asdict(config)
    directory = run_directory(Path(args.results_dir), args.dataset, args.method, args.profile,
                              args.seed, run_identity(config_json, eval_config, world_size))
    if (directory / RECORD_FILE).exists() and not args.force:
        record = read_record(directory / RECORD_FILE)   # DamagedRecordError: names the file, says --force
        print(f"already finished: {directory / RECORD_FILE} (use --force to run again)")
        _print_summary(record)
        return 0
    check_results_dir(args.results_dir)   # before the fit, not after it

    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    t_start = time.perf_counter()
    current = init_from_env()  # torchrun: join the process group; otherwise a world of one
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if current.distributed and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    environment = capture_environment(device)  # the code as it is when the run starts
    checkpoint = Path(args.results_dir) / "checkpoints" / directory.relative_to(Path(args.results_dir) / "runs") \
        / "training.pt"
    args.checkpoint = checkpoint   # for the message of an interrupted run
    if args.force:
        if current.is_main:
            checkpoint.unlink(missing_ok=True)
    elif checkpoint.exists():
        print(f"resuming from {checkpoint} (the same command was stopped before it finished)")
    processes = start_process(checkpoint, fresh=args.force, world_size=current.size) if current.is_main else []
    seed_everything(args.seed)
    data_root = resolve_data_root(args.data_root)
    dataset = load_dataset(args.dataset, data_root)
    splits = leave_last_out(dataset)
    t_loaded = time.perf_counter()
    rss = {"load": _peak_rss_mb()}

    evaluator = Evaluator(eval_config, n_items=splits.n_items,
                          item_domain=dataset.item_domain if dataset.is_multi_domain else None,
                          user_domain=dataset.user_domain if dataset.is_multi_domain else None)
    model = spec.recommender(config, device=device, seed=args.seed)
    model.checkpoint_path = checkpoint
    validator = Validator(evaluator, splits.valid, metric=selection_metric_of(config))
    report = model.fit(splits, validator)
    t_fitted = time.perf_counter()
    for epoch, samples in zip(report.epochs, _all_ranks_samples(report.epochs), strict=True):
        epoch["samples"] = samples   # every rank's share of the epoch, not rank 0's alone
    rss["fit"] = _peak_rss_mb()

    valid_result = evaluator.evaluate(model, splits.valid)
    t_valid = time.perf_counter()
    test_result = evaluator.evaluate(model, splits.test)
    t_test = time.perf_counter()
    rss["evaluate"] = _peak_rss_mb()

    metric_names = list(eval_config.metrics)
    text = dataset.item_text
    notes = []
    if getattr(model, "uses_item_text", False) and text is not None and text.is_proxy:
        notes.append(f"item text is a PROXY, not the real metadata: {text.description}")
    if args.profile != "paper":
        notes.append(f"profile {args.profile!r}: a schedule sized for this budget, not the paper's")
    notes.extend(report.notes)
    threads, cores = environment["torch_threads"], environment["cpu_count"] or 0
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", current.size))
    if device.type == "cpu" and threads * local_processes < cores:
        notes.append(f"ran with {threads * local_processes} of {cores} CPU threads"
                     + (f" ({local_processes} processes x {threads})" if local_processes > 1 else "")
                     + ": timings are not those of the whole machine")
    metrics = record_metrics(valid_result, test_result, splits, metric_names)   # as runners.rescore does
    n_test = len(splits.test)
    validating = sum(e.get("valid_seconds", 0.0) for e in report.epochs)   # epoch selection inside fit
    batch_size = config_json.get("batch_size", config_json.get("training", {}).get("batch_size"))
    epoch_seconds = [e["train_seconds"] for e in report.epochs if "train_seconds" in e]
    samples = sum(e.get("samples", 0) for e in report.epochs)
    cost, resumes = whole_cost(processes, t_fitted - t_loaded)
    if resumes:
        notes.append(f"resumed {len(resumes)} time(s); fit_s sums the training time of all "
                     f"{cost['processes']} processes (work lost after a process's last checkpoint is not counted)")
    record = RunRecord(
        method=args.method, dataset=args.dataset, profile=args.profile, seed=args.seed,
        config=config_json, evaluation=evaluator.settings(),
        data={"counts": dataset.counts(), "protocol": splits.protocol,
              "provenance": relative_to_root(dataset.provenance, data_root),   # no machine's paths
              "item_text": None if text is None else {"is_proxy": text.is_proxy,
                                                     "description": text.description,
                                                     "fields": sorted(text.fields)}},
        environment=environment,
        metrics=metrics,
        training={"epochs": report.epochs, "best_epoch": report.best_epoch,
                  "best_valid": report.best_valid, "stopped_by": report.stopped_by,
                  "selection_metric": validator.metric, **report.extra,
                  **({"resumes": resumes} if resumes else {}),
                  **({"world_size": current.size} if current.distributed else {}),
                  **({"effective_batch_size": batch_size * current.size}
                     if current.distributed and batch_size is not None else {}),
                  **train_precision_of(config, device)},
        timings={"load_s": t_loaded - t_start, **cost,
                 "valid_eval_s": t_valid - t_fitted, "test_eval_s": t_test - t_valid,
                 "total_s": t_test - t_start,
                 "valid_during_fit_s": validating, "valid_share_of_fit": validating / cost["fit_s"],
                 "train_epoch_s_mean": sum(epoch_seconds) / len(epoch_seconds) if epoch_seconds else None},
        efficiency={"parameters": model.num_parameters(), "peak_rss_mb_after": rss,
                    "train_samples_per_s": samples / sum(epoch_seconds) if epoch_seconds else None,
                    "test_users_per_s": n_test / (t_test - t_valid),
                    "test_ms_per_user": 1000 * (t_test - t_valid) / n_test},
        notes=notes,
        command=launch_command(argv, current.size),
        started_at=started_at,
        finished_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        run_id=directory.name,
    )
    record.environment["world_size"] = current.size
    if not current.is_main:  # only rank 0 writes
        return 0
    path = record.write(directory, {"valid": valid_result, "test": test_result})
    if args.save_model:
        buffer = io.BytesIO()
        model.checkpoint_path = None
        torch.save(model, buffer)
        atomic_write_bytes(directory / "model.pt", buffer.getvalue())
    finish(checkpoint)
    print(f"record: {path}")
    _print_summary(record.to_json())
    return 0


def _all_ranks_samples(epochs: list[dict]) -> list[int]:
    """Per epoch, the training samples of every rank together (a collective: all ranks call it)."""
    per_rank = all_gather_objects([int(e.get("samples", 0)) for e in epochs])
    return [sum(counts) for counts in zip(*per_rank, strict=True)]


def _print_summary(record: dict) -> None:
    rows = [[split] + [record["metrics"][split].get(m) for m in SUMMARY_METRICS]
            for split in ("valid", "test")]
    rows += [[f"test: {domain} ({values['users']} users)"] + [values.get(m) for m in SUMMARY_METRICS]
             for domain, values in record["metrics"].get("test_by_domain", {}).items()]
    print(f"{record['method']} on {record['dataset']} ({record['profile']}, seed {record['seed']}), "
          f"{record['timings']['total_s']:.0f} s")
    print(tabulate(rows, headers=["split", *SUMMARY_METRICS], floatfmt=".4f"))


if __name__ == "__main__":
    raise SystemExit(main())
