"""The epoch loop every trainable method shares: train, validate, stop early, restore best."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from genrec_bench.progress import tqdm_disable
from genrec_bench.recommender import FitReport, Recommender
from genrec_bench.training.budget import TrainingClock
from genrec_bench.training.checkpoint import (
    Generators,
    capture_rng,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from genrec_bench.training.distributed import all_gather_objects, world
from genrec_bench.training.early_stopping import EarlyStopping

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """How long to train and how to select the epoch.

    Attributes:
        max_epochs: hard cap on epochs.
        patience: validations without improvement before stopping.
        eval_every: validate every this many epochs, and always the stage's last epoch (the
            one that reaches ``max_epochs`` or spends the time budget), so a budgeted run's
            final, annealed weights are candidates for selection.
        time_budget_s: stop after the epoch that crosses this much training time (0 = none).
        max_valid_share: when > 0, an ``eval_every`` epoch is validated only if the stage's
            validation time, counting this validation at the cost of the previous one, stays
            within this share of the stage's time; skipped validations do not count towards
            ``patience``. The stage's first due validation and its last epoch's always run.
    """

    max_epochs: int
    patience: int
    eval_every: int = 1
    time_budget_s: float = 0.0
    max_valid_share: float = 0.0

    def __post_init__(self) -> None:
        if self.max_epochs < 1 or self.patience < 1 or self.eval_every < 1 or self.time_budget_s < 0 \
                or not 0.0 <= self.max_valid_share < 1.0:
            raise ValueError(f"invalid schedule {self}")


def validation_affordable(epochs: list[dict[str, Any]], max_share: float) -> bool:
    """Whether one more validation keeps the validation time of ``epochs`` (the stage's epoch
    stats so far, the current one included, with ``train_seconds`` and, where validated,
    ``valid_seconds``) within ``max_share`` of their total time; its cost is taken to be the
    previous validation's. True when nothing was validated yet or ``max_share`` is 0 (no cap).
    Read from the history alone, so a resumed run decides as an uninterrupted one would."""
    costs = [e["valid_seconds"] for e in epochs if "valid_seconds" in e]
    if not max_share or not costs:
        return True
    valid = sum(costs) + costs[-1]
    total = sum(e.get("train_seconds", 0.0) for e in epochs) + valid
    return valid <= max_share * total


def run_epochs(model: Recommender, train_epoch: Callable[[int], dict[str, Any]],
               validator: Callable[[Recommender], float] | None, schedule: Schedule,
               *, optimizer: torch.optim.Optimizer | None = None, generators: Generators | None = None,
               checkpoint_path: Path | None = None, progress: bool = True,
               clock: TrainingClock | None = None) -> FitReport:
    """Call ``train_epoch(epoch)`` until the schedule ends; restore the best validated weights.

    ``train_epoch`` returns a dict of epoch statistics (e.g. the mean loss); the loop adds
    seconds, the validation value and the selection bookkeeping. With ``checkpoint_path``
    the complete training state (modules, ``optimizer``, the global RNGs and the method's
    own ``generators``, early stopping, history, time spent) is saved after every epoch and,
    when a checkpoint exists, training resumes from it (see ``checkpoint.py``).

    ``clock`` measures the stage's time budget; pass the one ``train_epoch`` reads its
    learning-rate progress from (``budget.py``), so both see the same time, also after a
    resume. Without one, the loop makes its own from ``schedule``.
    """
    clock = clock or TrainingClock(schedule.max_epochs, schedule.time_budget_s)
    if (clock.max_epochs, clock.time_budget_s) != (schedule.max_epochs, schedule.time_budget_s):
        raise ValueError(f"the clock ({clock}) and the schedule ({schedule}) disagree")
    generators = generators or {}
    report = FitReport()
    stopper = EarlyStopping(patience=schedule.patience)
    modules = model.torch_modules()
    first_epoch, spent = 1, 0.0
    saved = load_checkpoint(checkpoint_path)
    if saved is not None:
        for module, state in zip(modules, saved["modules"], strict=True):
            module.load_state_dict(state, strict=True)
        if optimizer is not None:
            optimizer.load_state_dict(saved["optimizer"])
        restore_rng(saved["rng"], generators)
        for key, value in saved["stopper"].items():
            setattr(stopper, key, value)
        report.epochs = saved["epochs"]
        first_epoch, spent = saved["epoch"] + 1, saved["train_time_s"]
        log.info("%s: resumed from %s after epoch %d", model.name, checkpoint_path, saved["epoch"])
    clock.start(spent, last_begin=saved.get("clock_last_begin") if saved is not None else None)
    bar = tqdm(range(first_epoch, schedule.max_epochs + 1), desc=f"{model.name} epochs",
               disable=tqdm_disable(progress), leave=False)
    report.stopped_by = "max_epochs"
    finished = saved is not None and saved.get("finished")
    for epoch in ([] if finished else bar):
        t0 = clock.clock()              # the stage clock (injectable; perf_counter by default)
        clock.begin_epoch()
        for m in modules:
            m.train()
        stats = dict(train_epoch(epoch))
        stats.update(epoch=epoch, train_seconds=clock.clock() - t0)
        stop = False
        # due every eval_every epochs within the validation share, and at the last epoch;
        # every rank takes rank 0's view of the clock
        due = epoch % schedule.eval_every == 0 and validation_affordable(
            [*report.epochs, stats], schedule.max_valid_share)
        last = epoch == schedule.max_epochs or clock.exhausted()
        due, last = all_gather_objects((due, last))[0]
        if validator is not None and (due or last):
            t1 = clock.clock()
            value = validator(model)
            stats.update(valid=value, valid_seconds=clock.clock() - t1)
            stop = stopper.update(value, epoch, modules)
            bar.set_postfix(loss=f"{stats.get('loss', float('nan')):.4f}", valid=f"{value:.4f}",
                            best=f"{stopper.best_value:.4f}@{stopper.best_epoch}")
        report.epochs.append(stats)
        log.info("%s epoch %d: %s", model.name, epoch,
                 ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in stats.items() if k != "epoch"))
        if stop:
            report.stopped_by = "patience"
        elif clock.exhausted():
            report.stopped_by = "time_budget"
        # every rank must stop at the same epoch: rank 0's decision is the one taken
        report.stopped_by = all_gather_objects(report.stopped_by)[0]
        if checkpoint_path is not None and world().is_main:
            save_checkpoint(checkpoint_path, {
                "epoch": epoch, "modules": [m.state_dict() for m in modules],
                "optimizer": optimizer.state_dict() if optimizer is not None else None,
                "rng": capture_rng(generators), "epochs": report.epochs,
                "stopper": {"best_value": stopper.best_value, "best_epoch": stopper.best_epoch,
                            "bad_evals": stopper.bad_evals, "best_state": stopper.best_state},
                "train_time_s": clock.elapsed(), "clock_last_begin": clock.last_begin,
                "finished": report.stopped_by != "max_epochs" or epoch == schedule.max_epochs,
                "stopped_by": report.stopped_by})
        if report.stopped_by != "max_epochs":
            break
    bar.close()
    if finished:
        report.stopped_by = saved["stopped_by"]
    if validator is not None and stopper.best_state is not None:
        stopper.restore(modules)
        report.best_epoch, report.best_valid = stopper.best_epoch, stopper.best_value
    for m in modules:
        m.eval()
    return report


def adam_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, params, clip: float = 0.0) -> None:
    """One optimizer step: zero, backward, optional gradient clipping, step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(params, clip)
    optimizer.step()
