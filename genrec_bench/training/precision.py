"""Numeric precision of training forward passes (``T5GeneratorConfig.train_precision``).

``fp32`` is the default everywhere. ``bf16`` runs the generator's forward pass under
``torch.autocast(dtype=bfloat16)``: matrix products in bfloat16 (AVX512-BF16/AMX on CPUs,
tensor cores on GPUs), while weights, gradients, optimizer state, layer norms and the losses
stay fp32. Decoding is always fp32, so evaluation does not depend on the training precision.
"""

from __future__ import annotations

import torch

PRECISIONS = ("fp32", "bf16")


def training_autocast(device: torch.device | str, precision: str) -> torch.autocast:
    """The autocast context of one training forward pass (disabled for ``fp32``)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16,
                          enabled=precision == "bf16")
