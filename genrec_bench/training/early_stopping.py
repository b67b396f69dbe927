"""Early stopping on a validation metric, keeping the best weights in memory."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch


@dataclass
class EarlyStopping:
    """Track the best validation value; say when ``patience`` evaluations brought no gain.

    Attributes:
        patience: evaluations without improvement before stopping.
        min_delta: the smallest increase that counts as an improvement.
    """

    patience: int
    min_delta: float = 0.0
    best_value: float = float("-inf")
    best_epoch: int | None = None
    bad_evals: int = 0
    best_state: list[dict] | None = field(default=None, repr=False)

    def update(self, value: float, epoch: int, modules: list[torch.nn.Module]) -> bool:
        """Record ``value`` for ``epoch``; snapshot ``modules`` if best. True = stop now."""
        if value > self.best_value + self.min_delta:
            self.best_value, self.best_epoch, self.bad_evals = value, epoch, 0
            self.best_state = [copy.deepcopy(m.state_dict()) for m in modules]
        else:
            self.bad_evals += 1
        return self.bad_evals >= self.patience

    def restore(self, modules: list[torch.nn.Module]) -> None:
        """Load the best snapshot back (strictly) into ``modules``."""
        if self.best_state is None:
            return
        for module, state in zip(modules, self.best_state, strict=True):
            module.load_state_dict(state, strict=True)
