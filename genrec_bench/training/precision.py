"""Numeric precision of training forward passes (``T5GeneratorConfig.train_precision``).

``fp32`` is the default everywhere. ``bf16`` runs the generator's forward pass under
``torch.autocast(dtype=bfloat16)``: matrix products in bfloat16 (AVX512-BF16/AMX on CPUs,
tensor cores on GPUs), while weights, gradients, optimizer state, layer norms and the losses
stay fp32. Decoding is always fp32, so evaluation does not depend on the training precision.

``auto`` chooses per device by what was measured for the semantic-ID T5 at the cpu and paper
sizes: ``bf16`` on a CPU with native bf16 dot products (2.1x and 2.9x the fp32 samples/s on
the 2-core AVX512-BF16 development CPU, ``tests/benchmarks/test_training_speed.py``), ``fp32``
on CUDA (on one H200, fp32 steps took 35 ms and bf16-autocast steps 72 ms at batch 256: the
model is too small for tensor cores to pay for the casts; issue 18) and on any other CPU.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

PRECISIONS = ("fp32", "bf16", "auto")


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (``avx512_bf16`` or ``amx_bf16`` in /proc/cpuinfo)."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``fp32`` or ``bf16``: ``precision`` itself, or what ``auto`` means on ``device``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if torch.device(device).type == "cpu" and cpu_has_native_bf16() else "fp32"


def training_autocast(device: torch.device | str, precision: str) -> torch.autocast:
    """The autocast context of one training forward pass (disabled for ``fp32``)."""
    resolved = resolve_precision(precision, device)
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16,
                          enabled=resolved == "bf16")
