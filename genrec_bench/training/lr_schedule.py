"""Learning rate as a function of training progress, set before every optimizer step.

The rate is ``peak * lr_factor(...)``: a linear warm-up over the first ``warmup_epochs``
epochs, times a decay over the stage's *progress* in [0, 1] (see
:class:`~genrec_bench.training.budget.TrainingClock`: the larger of the share of
``max_epochs`` done and the share of the time budget spent).

* ``constant``: no decay.
* ``cosine``: a half-cosine from 1 down to ``floor`` at progress 1. With a time budget the
  progress is driven by the clock, so a run stopped by its budget ends annealed instead of
  part-way down a curve sized for ``max_epochs``.

Without a time budget the progress is a function of the epoch and the step alone, so a resumed
run sets exactly the rates an uninterrupted one would have (the optimizer carries no schedule).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from genrec_bench import config_checks as checks
from genrec_bench.errors import ConfigError

SCHEDULES = ("constant", "cosine")


def lr_factor(progress: float, epochs_done: float, *, schedule: str, warmup_epochs: int = 0,
              floor: float = 0.0) -> float:
    """The multiplier of the peak rate.

    Args:
        progress: share of the stage done, clipped to [0, 1].
        epochs_done: epochs trained so far, counting the current epoch's finished share
            (e.g. 2.5 halfway through epoch 3); drives the warm-up.
        schedule: one of :data:`SCHEDULES`.
        warmup_epochs: linear warm-up length (0 = none).
        floor: the cosine's final share of the peak.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"lr schedule {schedule!r}: expected one of {SCHEDULES}")
    if not math.isfinite(progress) or epochs_done < 0:
        raise ValueError(f"progress must be finite and epochs_done >= 0, got {progress}, {epochs_done}")
    warm = min(1.0, epochs_done / warmup_epochs) if warmup_epochs > 0 else 1.0
    if schedule == "constant":
        return warm
    p = min(max(progress, 0.0), 1.0)
    return warm * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * p)))


def check_schedule_fields(cfg: Any) -> None:
    """``__post_init__`` check of a config's ``lr_schedule`` and ``warmup_epochs`` (< ``max_epochs``)."""
    checks.one_of(cfg, "lr_schedule", SCHEDULES)
    if not isinstance(cfg.warmup_epochs, int) or not 0 <= cfg.warmup_epochs < cfg.max_epochs:
        raise ConfigError(f"{type(cfg).__name__}.warmup_epochs must be an int in [0, max_epochs), "
                          f"got {cfg.warmup_epochs!r}")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Give every parameter group of ``optimizer`` the rate ``lr``."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def scale_lr(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Set every parameter group's rate to ``factor`` times its rate at construction.

    For optimizers whose groups have different base rates (FlexCode's T5 and router). The
    base is kept in the group as ``initial_lr`` (PyTorch's scheduler convention), which the
    optimizer's state dict carries, so a resumed run scales the same base.
    """
    for group in optimizer.param_groups:
        group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor
