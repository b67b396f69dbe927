"""Learning rate as a function of the epoch, set at the start of every epoch.

A function of the epoch number alone, so a resumed run sets exactly the rate an uninterrupted
one would have (the optimizer's own state carries no schedule).

* ``constant``: ``base`` every epoch.
* ``cosine``: a linear warm-up over ``warmup_epochs`` epochs, then a half-cosine from ``base``
  down to ``base * floor`` at ``max_epochs``. A run stopped earlier (patience or a time
  budget) never reaches the low end of the curve; the record's schedule says so.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from genrec_bench import config_checks as checks
from genrec_bench.errors import ConfigError

SCHEDULES = ("constant", "cosine")


def epoch_lr(base: float, epoch: int, *, schedule: str, max_epochs: int, warmup_epochs: int = 0,
             floor: float = 0.0) -> float:
    """The learning rate of ``epoch`` (1-based)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"lr schedule {schedule!r}: expected one of {SCHEDULES}")
    if epoch < 1 or epoch > max_epochs:
        raise ValueError(f"epoch {epoch} outside 1..{max_epochs}")
    if schedule == "constant":
        return base
    if epoch <= warmup_epochs:
        return base * epoch / warmup_epochs
    span = max(max_epochs - warmup_epochs, 1)
    progress = (epoch - 1 - warmup_epochs) / span            # 0 at the first epoch after warm-up
    return base * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


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
