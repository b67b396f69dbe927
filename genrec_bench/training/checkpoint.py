"""Training checkpoints that let a killed run continue exactly where its last epoch ended.

A checkpoint holds the model's modules, the optimizer, every random number generator the
training reads (Python, NumPy global, torch global, plus the method's own NumPy/torch
generators, e.g. the data order and BERT4Rec's masking), the early-stopping state with its
best weights, the per-epoch history and the training time spent. It is written atomically
after every epoch, so a SIGKILL at any moment leaves either the previous or the new
checkpoint. Resuming replays the interrupted epoch from the same generator states, so the
finished run equals an uninterrupted one (tested on the CPU).
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrec_bench.records.atomic import atomic_write_bytes

Generators = dict[str, "np.random.Generator | torch.Generator"]


def capture_rng(generators: Generators) -> dict[str, Any]:
    """The state of the global generators and of the named ``generators``."""
    states: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                              "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    for name, generator in generators.items():
        states[f"gen:{name}"] = (generator.bit_generator.state if isinstance(generator, np.random.Generator)
                                 else generator.get_state())
    return states


def restore_rng(states: dict[str, Any], generators: Generators) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    for name, generator in generators.items():
        state = states[f"gen:{name}"]
        if isinstance(generator, np.random.Generator):
            generator.bit_generator.state = state
        else:
            generator.set_state(state)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path | None) -> dict[str, Any] | None:
    """The saved state, or None when there is no checkpoint (a fresh start)."""
    if path is None or not Path(path).exists():
        return None
    # our own file, written by save_checkpoint: it holds numpy RNG tuples, not just tensors
    return torch.load(path, map_location="cpu", weights_only=False)
