"""Drive ``run_epochs`` with a fake clock: epochs and validations take the seconds a test says."""

from __future__ import annotations

from genrec_bench.recommender import FitReport
from genrec_bench.training.budget import TrainingClock
from genrec_bench.training.loop import Schedule, run_epochs
from tests.training.test_budget_schedule import FakeClock, Stub


def fit_on_fake_clock(schedule: Schedule, train_s: float = 10.0, valid_s: float = 0.0) -> tuple[list[int], FitReport]:
    """Run the loop; every epoch takes ``train_s`` and every validation ``valid_s`` seconds, and
    the validation value is the epoch number (later epochs are better). Returns the validated
    epochs and the report."""
    fake = FakeClock()
    clock = TrainingClock(schedule.max_epochs, schedule.time_budget_s, clock=fake)
    validated: list[int] = []
    current = [0]

    def train_epoch(epoch: int) -> dict:
        current[0] = epoch
        fake.now += train_s
        return {}

    def validator(model) -> float:
        validated.append(current[0])
        fake.now += valid_s
        return float(current[0])

    report = run_epochs(Stub(), train_epoch, validator, schedule, progress=False, clock=clock)
    return validated, report
