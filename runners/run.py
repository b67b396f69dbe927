"""Train one method on one dataset, evaluate it once on test, and write its run record.

    python -m runners.run --method sasrec --dataset amazon2014-beauty --profile cpu --seed 0

Several processes: ``torchrun --nproc_per_node N -m runners.run ...`` (DistributedDataParallel;
gloo on CPUs, NCCL on GPUs); several machines: add ``--nnodes``/``--node_rank``/``--rdzv_endpoint``.

The record goes to ``results/runs/<dataset>/<method>/<profile>-seed<N>-<config hash>/``.
A run whose record already exists (same method, dataset, profile, seed, config and
evaluation settings) is not repeated unless ``--force`` is given. Training state is
checkpointed after every epoch under ``results/checkpoints/``: re-running the command of a
run that was stopped (even by SIGKILL) resumes it and ends with the same result as an
uninterrupted run.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import io
import logging
import resource
import shlex
import sys
import time
from pathlib import Path

import torch
from tabulate import tabulate

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
from genrec_bench.evaluation.breakdown import domain_breakdown, head_items, popularity_breakdown
from genrec_bench.progress import hide_progress_bars
from genrec_bench.records import RunRecord, atomic_write_bytes, capture_environment, run_directory
from genrec_bench.records.record import RECORD_FILE, read_record
from genrec_bench.registry import PROFILE_NAMES, get_method, method_names
from genrec_bench.training import resolve_device, seed_everything
from genrec_bench.training.distributed import init_from_env, shutdown

SUMMARY_METRICS = ("recall@5", "ndcg@5", "recall@10", "ndcg@10")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    parser.add_argument("--seed", type=int, default=0, help="random seed (0 is a seed). Default: 0")
    parser.add_argument("--data-root", default=None,
                        help="folder holding the dataset folders (default: $GENREC_DATA, "
                             "then ../shared/data)")
    parser.add_argument("--results-dir", default="results", help="where run records go. Default: results")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field of the method, e.g. --set max_epochs=5 (repeatable)")
    parser.add_argument("--eval-batch-size", type=int, default=256, help="users per evaluation chunk")
    parser.add_argument("--tie-policy", default="pessimistic", choices=("pessimistic", "optimistic"),
                        help="how a target tied with other items is ranked. Default: pessimistic")
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
    shutdown()  # torchrun: every rank leaves the process group together, after rank 0 wrote
    return code


def run(args: argparse.Namespace, argv: list[str]) -> int:
    spec = get_method(args.method)
    check_dataset_name(args.dataset)  # a registered name, or several joined with '+'
    config = spec.make_config(args.profile, parse_overrides(args.overrides))
    multi_domain = len(split_dataset_name(args.dataset)) > 1
    candidates = args.candidates or ("user-domain" if multi_domain else "all")
    if candidates == "user-domain" and not multi_domain:
        raise ConfigError(f"--candidates user-domain needs a multi-domain dataset (a+b), got {args.dataset!r}")
    eval_config = EvalConfig(batch_size=args.eval_batch_size, tie_policy=args.tie_policy,
                             mask_history=args.mask_history, candidates=candidates)
    config_json = dataclasses.asdict(config)
    identity = {"config": config_json, "tie_policy": eval_config.tie_policy,
                "mask_history": eval_config.mask_history, "metrics": list(eval_config.metrics)}
    if candidates != "all":   # absent for "all", so records made before the option keep their ids
        identity["candidates"] = candidates
    directory = run_directory(Path(args.results_dir), args.dataset, args.method, args.profile,
                              args.seed, identity)
    if (directory / RECORD_FILE).exists() and not args.force:
        record = read_record(directory / RECORD_FILE)   # DamagedRecordError: names the file, says --force
        print(f"already finished: {directory / RECORD_FILE} (use --force to run again)")
        _print_summary(record)
        return 0

    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    t_start = time.perf_counter()
    current = init_from_env()  # torchrun: join the process group; otherwise a world of one
    device = resolve_device(args.device)
    if current.distributed and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    environment = capture_environment(device)  # the code as it is when the run starts
    checkpoint = Path(args.results_dir) / "checkpoints" / directory.relative_to(Path(args.results_dir) / "runs") \
        / "training.pt"
    if args.force:
        checkpoint.unlink(missing_ok=True)
    elif checkpoint.exists():
        print(f"resuming from {checkpoint} (the same command was stopped before it finished)")
    seed_everything(args.seed)
    dataset = load_dataset(args.dataset, resolve_data_root(args.data_root))
    splits = leave_last_out(dataset)
    t_loaded = time.perf_counter()
    rss = {"load": _peak_rss_mb()}

    evaluator = Evaluator(eval_config, n_items=splits.n_items,
                          item_domain=dataset.item_domain if dataset.is_multi_domain else None,
                          user_domain=dataset.user_domain if dataset.is_multi_domain else None)
    model = spec.recommender(config, device=device, seed=args.seed)
    model.checkpoint_path = checkpoint
    validator = Validator(evaluator, splits.valid, metric=getattr(config, "selection_metric", "ndcg@10"))
    report = model.fit(splits, validator)
    t_fitted = time.perf_counter()
    rss["fit"] = _peak_rss_mb()

    valid_result = evaluator.evaluate(model, splits.valid)
    t_valid = time.perf_counter()
    test_result = evaluator.evaluate(model, splits.test)
    t_test = time.perf_counter()
    rss["evaluate"] = _peak_rss_mb()

    metric_names = list(eval_config.metrics)
    head = head_items(splits.train_item_counts())
    text = dataset.item_text
    notes = []
    if getattr(model, "uses_item_text", False) and text is not None and text.is_proxy:
        notes.append(f"item text is a PROXY, not the real metadata: {text.description}")
    if args.profile != "paper":
        notes.append(f"profile {args.profile!r}: a schedule sized for this budget, not the paper's")
    notes.extend(report.notes)
    threads, cores = environment["torch_threads"], environment["cpu_count"] or 0
    if device.type == "cpu" and threads < cores:
        notes.append(f"ran with {threads} of {cores} CPU threads: timings are not those of the whole machine")
    metrics = {"valid": valid_result.metrics(metric_names), "test": test_result.metrics(metric_names),
               "test_by_popularity": popularity_breakdown(test_result, head, metric_names)}
    lists = {split: r.list_summary() for split, r in (("valid", valid_result), ("test", test_result))}
    if lists["test"] is not None:
        metrics["top_k_lists"] = lists   # generative decoders: slots without an item (invalid IDs)
    if dataset.is_multi_domain:
        metrics["valid_by_domain"] = domain_breakdown(valid_result, dataset.user_domain,
                                                      dataset.domains, metric_names)
        metrics["test_by_domain"] = domain_breakdown(test_result, dataset.user_domain,
                                                     dataset.domains, metric_names)
    n_test = len(splits.test)
    epoch_seconds = [e["train_seconds"] for e in report.epochs if "train_seconds" in e]
    samples = sum(e.get("samples", 0) for e in report.epochs)
    record = RunRecord(
        method=args.method, dataset=args.dataset, profile=args.profile, seed=args.seed,
        config=config_json, evaluation=evaluator.settings(),
        data={"counts": dataset.counts(), "protocol": splits.protocol,
              "provenance": dataset.provenance,
              "item_text": None if text is None else {"is_proxy": text.is_proxy,
                                                     "description": text.description,
                                                     "fields": sorted(text.fields)}},
        environment=environment,
        metrics=metrics,
        training={"epochs": report.epochs, "best_epoch": report.best_epoch,
                  "best_valid": report.best_valid, "stopped_by": report.stopped_by,
                  "selection_metric": validator.metric, **report.extra},
        timings={"load_s": t_loaded - t_start, "fit_s": t_fitted - t_loaded,
                 "valid_eval_s": t_valid - t_fitted, "test_eval_s": t_test - t_valid,
                 "total_s": t_test - t_start,
                 "train_epoch_s_mean": sum(epoch_seconds) / len(epoch_seconds) if epoch_seconds else None},
        efficiency={"parameters": model.num_parameters(), "peak_rss_mb_after": rss,
                    "train_samples_per_s": samples / sum(epoch_seconds) if epoch_seconds else None,
                    "test_users_per_s": n_test / (t_test - t_valid),
                    "test_ms_per_user": 1000 * (t_test - t_valid) / n_test},
        notes=notes,
        command="python -m runners.run " + shlex.join(argv),
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
    checkpoint.unlink(missing_ok=True)
    print(f"record: {path}")
    _print_summary(record.to_json())
    return 0


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
