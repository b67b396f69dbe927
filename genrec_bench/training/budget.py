"""The progress of a training stage, by epochs and by its wall-clock budget.

A :class:`TrainingClock` answers two questions the epoch loop and the learning-rate schedule
ask: how far along is the stage (``progress``: the larger of the share of ``max_epochs`` done
and the share of ``time_budget_s`` spent, in [0, 1]), and is the budget spent
(``exhausted``). Time counts training and validation alike, since both spend the budget.
The clock is injectable (``clock=``), so tests drive it with a fake; a resumed run restarts
it with the time its earlier processes spent (``start(spent)``), so the schedule continues
where it stopped instead of starting over.

Within an epoch the time share is extrapolated from the epoch's start and the previous
epoch's duration (``begin_epoch``), not read from the clock at every step: every rank of a
distributed run then sets the same rate at every step (rank 0's times are the ones used).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from genrec_bench.training.distributed import all_gather_objects


@dataclass
class TrainingClock:
    """Attributes:
    max_epochs: the stage's epoch cap.
    time_budget_s: the stage's wall-clock budget (0 = none: progress counts epochs only).
    clock: a monotonic clock in seconds (``time.perf_counter``; tests pass a fake).
    """

    max_epochs: int
    time_budget_s: float = 0.0
    clock: Callable[[], float] = time.perf_counter
    _origin: float | None = field(default=None, repr=False)
    _last_begin: float | None = field(default=None, repr=False)
    _epoch_start: float = field(default=0.0, repr=False)
    _epoch_span: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if self.max_epochs < 1 or self.time_budget_s < 0:
            raise ValueError(f"invalid clock {self}")

    def start(self, spent: float = 0.0, last_begin: float | None = None) -> None:
        """Start counting, ``spent`` seconds already used by earlier processes of this run;
        ``last_begin`` is :attr:`last_begin` as they checkpointed it (a resume then
        extrapolates the next epoch exactly as an uninterrupted run would)."""
        self._origin = self.clock() - spent
        self._last_begin = last_begin

    @property
    def last_begin(self) -> float | None:
        """Elapsed seconds at the start of the latest epoch (checkpointed with the run)."""
        return self._last_begin

    def elapsed(self) -> float:
        """Seconds spent in this stage (0 before :meth:`start`)."""
        return 0.0 if self._origin is None else self.clock() - self._origin

    def begin_epoch(self) -> None:
        """Mark the start of an epoch: the time share during it grows from here at the
        pace of the previous epoch (train and validation)."""
        now = self.elapsed()
        span = 0.0 if self._last_begin is None else now - self._last_begin
        self._last_begin = now
        self._epoch_start, self._epoch_span = all_gather_objects((now, span))[0]

    def exhausted(self) -> bool:
        """Whether a time budget is set and spent."""
        return bool(self.time_budget_s) and self.elapsed() >= self.time_budget_s

    def progress(self, epoch: int, fraction: float = 0.0) -> float:
        """Share of the stage done at ``fraction`` (0..1) of 1-based ``epoch``, in [0, 1]."""
        by_epochs = (epoch - 1 + fraction) / self.max_epochs
        spent = self._epoch_start + fraction * self._epoch_span
        by_time = spent / self.time_budget_s if self.time_budget_s else 0.0
        return min(1.0, max(by_epochs, by_time, 0.0))
