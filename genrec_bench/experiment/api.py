"""One run: train a method on a dataset, evaluate it once on test, write its run record.

    import genrec_bench
    record = genrec_bench.run("sasrec", "amazon2014-beauty", profile="cpu", seed=0)
    record.metrics["test"]["ndcg@10"]

``runners.run`` is the same call from the command line. :func:`run` is :func:`prepare`
(everything a user gave is checked before data is loaded: names, config file and overrides,
selection metric, device, numeric options, a writable results folder) then :func:`execute`.

The record goes to ``<results_dir>/runs/<dataset>/<method>/<profile>-seed<N>-<config hash>/``.
A run whose record already exists (same method, dataset, profile, seed, resolved config,
evaluation settings and world size) is not repeated unless ``force``: the existing record is
read back. Training state is checkpointed after every epoch under
``<results_dir>/checkpoints/``: running a stopped run again (even one killed by SIGKILL)
resumes it and ends with the result of an uninterrupted run; the record then sums the training
time of every process that worked on it and lists the resumes
(``genrec_bench/records/processes.py``). Ctrl-C raises :class:`RunInterrupted` (a
``KeyboardInterrupt``) that says from which epoch the same call resumes.

Under ``torchrun`` every rank calls :func:`run`: training is DistributedDataParallel, evaluation
gathers every rank's users, only rank 0 writes (other ranks get the record unwritten, ``path``
None). N processes train with N times the batch, so the world size is part of the run id.
Leaving the process group (``genrec_bench.training.distributed.shutdown``) is the caller's.

Errors a user can cause are :class:`~genrec_bench.errors.GenRecError` subclasses with a
one-line message (the command line prints it and exits with 2).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
import resource
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genrec_bench.data.catalog import check_dataset_name, load_dataset, resolve_data_root
from genrec_bench.data.multidomain import split_dataset_name
from genrec_bench.data.split import leave_last_out
from genrec_bench.errors import ConfigError
from genrec_bench.evaluation import EvalConfig, Evaluator, Validator
from genrec_bench.evaluation.summary import record_metrics
from genrec_bench.experiment.config_files import resolve_config
from genrec_bench.experiment.preflight import check_device, check_metric, check_results_dir
from genrec_bench.progress import shown_progress_bars
from genrec_bench.records import RunRecord, atomic_write_bytes, capture_environment, run_directory
from genrec_bench.records.data_paths import relative_to_root
from genrec_bench.records.processes import checkpoint_progress, finish, start_process, whole_cost
from genrec_bench.records.record import RECORD_FILE, read_record
from genrec_bench.registry import MethodSpec, get_method
from genrec_bench.training import seed_everything
from genrec_bench.training.distributed import all_gather_objects, init_from_env
from genrec_bench.training.generator_config import selection_metric_of
from genrec_bench.training.precision import resolve_precision

#: seeds numpy and torch both accept
MAX_SEED = 2**32 - 1
TIE_POLICIES = ("pessimistic", "optimistic")
INVALID_SLOTS = ("miss", "skip")
CANDIDATES = ("all", "user-domain")


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`execute`; ``checkpoint`` is the training state the same call resumes from."""

    def __init__(self, checkpoint: Path) -> None:
        super().__init__()
        self.checkpoint = checkpoint

    def __str__(self) -> str:
        return interrupted_message(self.checkpoint)


def interrupted_message(checkpoint: Path | None) -> str:
    """The line an interrupted run leaves: from which epoch the same command goes on."""
    progress = checkpoint_progress(checkpoint) if checkpoint is not None else None
    if progress is not None and progress["finished"]:
        return "interrupted; rerun the same command to evaluate the trained model (training is finished)"
    return f"interrupted; rerun the same command to resume from epoch {progress['epoch'] + 1 if progress else 1}"


@dataclass
class Plan:
    """A run checked by :func:`prepare`, not started. ``existing`` is the record of the same
    run when it is finished already (and ``force`` is off): :func:`execute` returns it."""

    spec: MethodSpec
    dataset: str
    profile: str
    seed: int
    config: Any
    config_file: dict | None
    eval_config: EvalConfig
    device: torch.device
    world_size: int
    results_dir: Path
    directory: Path
    checkpoint: Path
    existing: dict | None
    data_root: str | Path | None = None
    force: bool = False
    tags: list[str] = dataclasses.field(default_factory=list)
    threads: int | None = None
    save_model: bool = False
    command: str = ""

    @property
    def record_path(self) -> Path:
        return self.directory / RECORD_FILE


def run(method: str, dataset: str, *, profile: str = "cpu", seed: int = 0,
        overrides: Mapping[str, Any] | None = None,
        config: str | Path | Mapping[str, Any] | None = None,
        data_root: str | Path | None = None, results_dir: str | Path = "results", force: bool = False,
        tags: Sequence[str] = (), device: str = "auto", threads: int | None = None,
        eval_batch_size: int = 256, tie_policy: str = "pessimistic", mask_history: bool = False,
        candidates: str | None = None, invalid_slots: str = "miss", save_model: bool = False,
        progress: bool = False, command: str | None = None) -> RunRecord:
    """Train ``method`` on ``dataset``, evaluate it on validation and test, write and return its record.

    Args:
        method, dataset: registered names (``genrec_bench.registry.method_names()``; a dataset
            with a card, several joined with ``+`` for a multi-domain run).
        profile: ``smoke`` (seconds), ``cpu`` (sized for a 2-core CPU) or ``paper``.
        seed: in ``0 .. 2**32-1``.
        overrides: config fields, like ``--set``: dotted keys (``{"training.lr": 1e-3}``) or
            nested mappings; strings are parsed to the field's type, other values must have it.
            They win over ``config``.
        config: a TOML file or a nested mapping of config fields (``[training]`` / ``lr = 1e-3``);
            a ``genrec_bench`` table in it is metadata (``tuned``), recorded, not applied.
        data_root: the folder of dataset folders (default: ``$GENREC_DATA``, then ``../shared/data``).
        results_dir: where records and checkpoints go.
        force: run from scratch even when the record or a checkpoint exists.
        tags: labels stored in the record (``tags``); they do not change the run id.
        device: ``auto`` (CUDA if present), ``cpu``, ``cuda``, ``cuda:N``.
        threads: torch intra-op threads during the run (recorded); None = torch's choice.
        eval_batch_size, tie_policy, mask_history, candidates, invalid_slots: the evaluation
            settings of ``runners.run`` (``candidates`` None = ``user-domain`` for a
            multi-domain dataset, else ``all``).
        save_model: also write the fitted method (``model.pt``).
        progress: draw progress bars.
        command: what the record says made it (default: this call, as Python).

    Returns the :class:`~genrec_bench.records.RunRecord` (``record.path``: its ``record.json``).
    Raises a :class:`~genrec_bench.errors.GenRecError` for anything a user gave wrong, before
    data is loaded; :class:`RunInterrupted` on Ctrl-C.
    """
    plan = prepare(method, dataset, profile=profile, seed=seed, overrides=overrides, config=config,
                   data_root=data_root, results_dir=results_dir, force=force, tags=tags, device=device,
                   threads=threads, eval_batch_size=eval_batch_size, tie_policy=tie_policy,
                   mask_history=mask_history, candidates=candidates, invalid_slots=invalid_slots,
                   save_model=save_model, command=command)
    return execute(plan, progress=progress)


def prepare(method: str, dataset: str, *, profile: str = "cpu", seed: int = 0,
            overrides: Mapping[str, Any] | None = None,
            config: str | Path | Mapping[str, Any] | None = None,
            data_root: str | Path | None = None, results_dir: str | Path = "results", force: bool = False,
            tags: Sequence[str] = (), device: str = "auto", threads: int | None = None,
            eval_batch_size: int = 256, tie_policy: str = "pessimistic", mask_history: bool = False,
            candidates: str | None = None, invalid_slots: str = "miss", save_model: bool = False,
            command: str | None = None) -> Plan:
    """Check everything :func:`run` was given and find its run directory; loads no data and
    trains nothing (it makes the results folder if it is missing). Arguments as :func:`run`'s."""
    spec = get_method(method)
    tags = tags if isinstance(tags, str) else list(tags)
    check_dataset_name(dataset)  # a registered name, or several joined with '+'
    _check_options(seed=seed, eval_batch_size=eval_batch_size, threads=threads, tie_policy=tie_policy,
                   invalid_slots=invalid_slots, candidates=candidates, tags=tags, mask_history=mask_history)
    resolved, config_file = resolve_config(spec, profile, config=config, overrides=overrides)
    check_metric(selection_metric_of(resolved))
    checked_device = check_device(device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))   # torchrun's; 1 for a plain run
    if command is None:
        command = _python_call(method, dataset, profile=profile, seed=seed, overrides=overrides, config=config,
                               tags=list(tags), device=device, threads=threads, eval_batch_size=eval_batch_size,
                               tie_policy=tie_policy, mask_history=mask_history, candidates=candidates,
                               invalid_slots=invalid_slots)
    multi_domain = len(split_dataset_name(dataset)) > 1
    candidates = candidates or ("user-domain" if multi_domain else "all")
    if candidates == "user-domain" and not multi_domain:
        raise ConfigError(f"--candidates user-domain needs a multi-domain dataset (a+b), got {dataset!r}")
    eval_config = EvalConfig(batch_size=eval_batch_size, tie_policy=tie_policy, mask_history=mask_history,
                             candidates=candidates, invalid_slots=invalid_slots)
    results_dir = Path(results_dir)
    directory = run_directory(results_dir, dataset, method, profile, seed,
                              run_identity(dataclasses.asdict(resolved), eval_config, world_size))
    existing = None
    if (directory / RECORD_FILE).exists() and not force:
        existing = read_record(directory / RECORD_FILE)   # DamagedRecordError: names the file, says --force
    else:
        check_results_dir(results_dir)   # before the fit, not after it
    return Plan(spec=spec, dataset=dataset, profile=profile, seed=seed, config=resolved,
                config_file=config_file, eval_config=eval_config, device=checked_device, world_size=world_size,
                results_dir=results_dir, directory=directory,
                checkpoint=results_dir / "checkpoints" / directory.relative_to(results_dir / "runs") / "training.pt",
                existing=existing, data_root=data_root, force=force, tags=list(tags), threads=threads,
                save_model=save_model, command=command)


def execute(plan: Plan, *, progress: bool = False) -> RunRecord:
    """Run a prepared run (or read back its finished record); see :func:`run`."""
    if plan.existing is not None:
        return RunRecord.from_json(plan.existing, plan.record_path)
    threads_before = torch.get_num_threads()
    try:
        with shown_progress_bars(progress):
            return _train_and_record(plan)
    except KeyboardInterrupt:
        raise RunInterrupted(plan.checkpoint) from None
    finally:
        torch.set_num_threads(threads_before)


def run_identity(config_json: dict, eval_config: EvalConfig, world_size: int = 1) -> dict:
    """What makes two runs the same run (hashed into the run id): the method's config, the
    evaluation settings and, for ``torchrun``, the number of processes (N processes train with
    N times the batch). Keys are added only when they differ from the default, so records made
    before a key existed keep their ids. Tags and the config file are not part of it."""
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


def _train_and_record(plan: Plan) -> RunRecord:
    config, eval_config, device, checkpoint = plan.config, plan.eval_config, plan.device, plan.checkpoint
    config_json = dataclasses.asdict(config)
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    t_start = time.perf_counter()
    current = init_from_env()  # torchrun: join the process group; otherwise a world of one
    if plan.threads is not None:
        torch.set_num_threads(plan.threads)
    if current.distributed and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    environment = capture_environment(device)  # the code as it is when the run starts
    if plan.force:
        if current.is_main:
            checkpoint.unlink(missing_ok=True)
    processes = start_process(checkpoint, fresh=plan.force, world_size=current.size) if current.is_main else []
    seed_everything(plan.seed)
    data_root = resolve_data_root(plan.data_root)
    dataset = load_dataset(plan.dataset, data_root)
    splits = leave_last_out(dataset)
    t_loaded = time.perf_counter()
    rss = {"load": _peak_rss_mb()}

    evaluator = Evaluator(eval_config, n_items=splits.n_items,
                          item_domain=dataset.item_domain if dataset.is_multi_domain else None,
                          user_domain=dataset.user_domain if dataset.is_multi_domain else None)
    model = plan.spec.recommender(config, device=device, seed=plan.seed)
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
    if plan.profile != "paper":
        notes.append(f"profile {plan.profile!r}: a schedule sized for this budget, not the paper's")
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
        method=plan.spec.name, dataset=plan.dataset, profile=plan.profile, seed=plan.seed,
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
        command=plan.command,
        started_at=started_at,
        finished_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        run_id=plan.directory.name,
        tags=list(plan.tags),
        config_file=plan.config_file,
    )
    record.environment["world_size"] = current.size
    if not current.is_main:  # only rank 0 writes
        return record
    record.write(plan.directory, {"valid": valid_result, "test": test_result})
    if plan.save_model:
        buffer = io.BytesIO()
        model.checkpoint_path = None
        torch.save(model, buffer)
        atomic_write_bytes(plan.directory / "model.pt", buffer.getvalue())
    finish(checkpoint)
    return record


def _check_options(*, seed, eval_batch_size, threads, tie_policy, invalid_slots, candidates, tags,
                   mask_history) -> None:
    """ConfigError for a value the command line's argument types would have refused."""
    def whole(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not whole(seed) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed: a seed is an integer in 0..{MAX_SEED}, got {seed!r}")
    if not whole(eval_batch_size) or eval_batch_size < 1:
        raise ConfigError(f"eval_batch_size: expected a positive integer, got {eval_batch_size!r}")
    if threads is not None and (not whole(threads) or threads < 1):
        raise ConfigError(f"threads: expected a positive integer or None, got {threads!r}")
    for name, value, valid in (("tie_policy", tie_policy, TIE_POLICIES), ("invalid_slots", invalid_slots, INVALID_SLOTS),
                               ("candidates", candidates, (None, *CANDIDATES))):
        if value not in valid:
            raise ConfigError(f"{name}: expected one of {', '.join(map(str, valid))}, got {value!r}")
    if not isinstance(mask_history, bool):
        raise ConfigError(f"mask_history: expected True or False, got {mask_history!r}")
    if isinstance(tags, str) or not all(isinstance(tag, str) for tag in tags):
        raise ConfigError(f"tags: expected a list of strings, got {tags!r}")


def _python_call(method: str, dataset: str, **options) -> str:
    """The :func:`run` call that makes this run, as Python (defaults left out)."""
    defaults = {"profile": "cpu", "seed": 0, "overrides": None, "config": None, "tags": [], "device": "auto",
                "threads": None, "eval_batch_size": 256, "tie_policy": "pessimistic", "mask_history": False,
                "candidates": None, "invalid_slots": "miss"}
    given = []
    for key, value in options.items():
        if value == defaults.get(key):
            continue
        if isinstance(value, Mapping):
            value = dict(value)
        elif key == "config":
            value = str(value)
        given.append(f"{key}={value!r}")
    return f"genrec_bench.run({', '.join([repr(method), repr(dataset), *given])})"


def _all_ranks_samples(epochs: list[dict]) -> list[int]:
    """Per epoch, the training samples of every rank together (a collective: all ranks call it)."""
    per_rank = all_gather_objects([int(e.get("samples", 0)) for e in epochs])
    return [sum(counts) for counts in zip(*per_rank, strict=True)]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
