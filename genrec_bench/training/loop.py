"""The epoch loop every trainable method shares: train, validate, stop early, restore best."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from genrec_bench.recommender import FitReport, Recommender
from genrec_bench.training.early_stopping import EarlyStopping

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """How long to train and how to select the epoch.

    Attributes:
        max_epochs: hard cap on epochs.
        patience: validations without improvement before stopping.
        eval_every: validate every this many epochs.
        time_budget_s: stop after the epoch that crosses this much training time (0 = none).
    """

    max_epochs: int
    patience: int
    eval_every: int = 1
    time_budget_s: float = 0.0

    def __post_init__(self) -> None:
        if self.max_epochs < 1 or self.patience < 1 or self.eval_every < 1 or self.time_budget_s < 0:
            raise ValueError(f"invalid schedule {self}")


def run_epochs(model: Recommender, train_epoch: Callable[[int], dict[str, Any]],
               validator: Callable[[Recommender], float] | None, schedule: Schedule,
               *, progress: bool = True) -> FitReport:
    """Call ``train_epoch(epoch)`` until the schedule ends; restore the best validated weights.

    ``train_epoch`` returns a dict of epoch statistics (e.g. the mean loss); the loop adds
    seconds, the validation value and the selection bookkeeping.
    """
    report = FitReport()
    stopper = EarlyStopping(patience=schedule.patience)
    modules = model.torch_modules()
    started = time.perf_counter()
    bar = tqdm(range(1, schedule.max_epochs + 1), desc=f"{model.name} epochs", disable=None if progress else True,
               leave=False)
    report.stopped_by = "max_epochs"
    for epoch in bar:
        t0 = time.perf_counter()
        for m in modules:
            m.train()
        stats = dict(train_epoch(epoch))
        stats.update(epoch=epoch, train_seconds=time.perf_counter() - t0)
        stop = False
        if validator is not None and epoch % schedule.eval_every == 0:
            t1 = time.perf_counter()
            value = validator(model)
            stats.update(valid=value, valid_seconds=time.perf_counter() - t1)
            stop = stopper.update(value, epoch, modules)
            bar.set_postfix(loss=f"{stats.get('loss', float('nan')):.4f}", valid=f"{value:.4f}",
                            best=f"{stopper.best_value:.4f}@{stopper.best_epoch}")
        report.epochs.append(stats)
        log.info("%s epoch %d: %s", model.name, epoch,
                 ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in stats.items() if k != "epoch"))
        if stop:
            report.stopped_by = "patience"
            break
        if schedule.time_budget_s and time.perf_counter() - started >= schedule.time_budget_s:
            report.stopped_by = "time_budget"
            break
    bar.close()
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
