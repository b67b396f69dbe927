"""Optimizers built for the device they run on."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def adamw(params: Iterable[torch.nn.Parameter], *, lr: float, weight_decay: float,
          device: torch.device | str) -> torch.optim.AdamW:
    """AdamW; on CUDA the fused implementation (one kernel over all parameters instead of a
    launch per parameter group and operation: the paper-size T5's step was 22 % faster on one
    H200, issue 18). Elsewhere torch's default implementation; the update is the same."""
    fused = True if torch.device(device).type == "cuda" else None
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fused)
