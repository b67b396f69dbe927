"""torch.distributed, the standard engine: ``torchrun --nproc_per_node N -m runners.run ...``.

torchrun sets ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``; :func:`init_from_env` then joins the
process group (NCCL on GPUs, gloo on CPUs). Every rank seeds identically, so every rank
draws the same batch order and keeps the batches ``rank::world`` of it (a disjoint share,
the remainder that does not divide evenly is dropped so that every rank takes the same
number of steps). Gradients are averaged by DistributedDataParallel. Evaluation ranks a
disjoint share of users on every rank, gathers the per-user ranks, and every metric is
computed once over all users (never an average of per-rank means). Only rank 0 writes.
Several machines: ``torchrun --nnodes M --node_rank K --rdzv_endpoint HOST:PORT ...``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def init_from_env() -> World:
    """Join the process group torchrun describes; a plain run is a world of one."""
    if dist.is_available() and dist.is_initialized():
        return world()
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return world()


def shutdown(wait: bool = True) -> None:
    """Leave the process group in order: with ``wait``, first until every rank is done (rank
    0 writes last), then destroy the group. Exiting without this lets the interpreter tear
    gloo's threads down while a peer still talks to them, which aborts a rank at random
    ("terminate called without an active exception"). A rank that failed leaves with
    ``wait=False``, so it never blocks on peers that will not arrive."""
    if dist.is_available() and dist.is_initialized():
        try:
            if wait:
                dist.barrier()
        finally:
            dist.destroy_process_group()


def world() -> World:
    if dist.is_available() and dist.is_initialized():
        return World(rank=dist.get_rank(), size=dist.get_world_size())
    return World()


def shard(batches: Iterable, current: World | None = None) -> Iterator:
    """This rank's share of a batch sequence that every rank draws identically."""
    current = current or world()
    if not current.distributed:
        yield from batches
        return
    items = list(batches)
    usable = len(items) - len(items) % current.size
    yield from items[current.rank:usable:current.size]


def wrap(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` for training: DistributedDataParallel when distributed, else itself.
    The unwrapped module stays the one that is saved and evaluated."""
    if not world().distributed:
        return module
    device = next(module.parameters()).device
    return torch.nn.parallel.DistributedDataParallel(
        module, device_ids=[device.index] if device.type == "cuda" else None)


def all_gather_objects(obj):
    """A list with every rank's ``obj`` (rank order); ``[obj]`` when not distributed."""
    if not world().distributed:
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
