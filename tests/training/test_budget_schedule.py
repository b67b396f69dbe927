"""A schedule that ends with the budget: the cosine follows the time spent, a budgeted run
ends annealed, and a resumed run sets the same rates as an uninterrupted one (fake clock)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec_bench.generative.seq2seq_training import scheduled_steps, stage_schedule
from genrec_bench.recommender import Recommender
from genrec_bench.training.budget import TrainingClock
from genrec_bench.training.generator_config import GeneratorTrainingConfig
from genrec_bench.training.loop import run_epochs

STEPS_PER_EPOCH, SECONDS_PER_STEP, BUDGET = 10, 1.0, 100.0


class FakeClock:
    """Seconds that pass only when a step says so."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Stub(Recommender):
    """One linear layer, enough for the loop to checkpoint."""

    def __init__(self) -> None:
        super().__init__(None)
        self.net = torch.nn.Linear(2, 1)

    def torch_modules(self):
        return [self.net]

    def fit(self, splits, validator=None):
        raise NotImplementedError

    def recommend(self, histories, k):
        raise NotImplementedError


class Interrupted(Exception):
    pass


def train(fake: FakeClock, checkpoint, *, max_epochs: int = 1000, kill_at: int | None = None):
    """Run the loop with ``scheduled_steps``; returns (lr factors of every step, report)."""
    training = GeneratorTrainingConfig(lr=1.0, lr_schedule="cosine", max_epochs=max_epochs, patience=5,
                                       time_budget_s=BUDGET)
    schedule, clock = stage_schedule(training)
    clock.clock = fake
    factors: list[float] = []

    def train_epoch(epoch: int) -> dict:
        if epoch == kill_at:
            raise Interrupted
        batches = [np.arange(1)] * STEPS_PER_EPOCH
        for _, factor in scheduled_steps(batches, epoch, training, clock):
            factors.append(factor)
            fake.now += SECONDS_PER_STEP
        return {"samples": STEPS_PER_EPOCH}

    report = run_epochs(Stub(), train_epoch, None, schedule, checkpoint_path=checkpoint, progress=False,
                        clock=clock)
    return factors, report


def test_a_budgeted_run_stops_with_its_budget_and_ends_annealed(tmp_path):
    factors, report = train(FakeClock(), tmp_path / "a.pt")
    assert report.stopped_by == "time_budget"
    assert len(report.epochs) == BUDGET / (STEPS_PER_EPOCH * SECONDS_PER_STEP)
    assert factors[0] == pytest.approx(1.0)
    assert max(factors[-STEPS_PER_EPOCH:]) < 0.03            # the last epoch runs at the bottom
    assert all(a >= b for a, b in zip(factors, factors[1:], strict=False))
    # an epoch-driven cosine over max_epochs = 1000 would still be at its top here
    assert factors[-1] < 0.01


def test_without_a_budget_the_cosine_ends_at_max_epochs(tmp_path):
    training = GeneratorTrainingConfig(lr=1.0, lr_schedule="cosine", max_epochs=4, patience=5)
    schedule, clock = stage_schedule(training)
    clock.clock = FakeClock()
    clock.start()
    clock.begin_epoch()
    last = list(scheduled_steps([np.arange(1)] * 4, 4, training, clock))
    assert [f for _, f in last] == pytest.approx([0.5 * (1 + np.cos(np.pi * (3 + i / 4) / 4)) for i in range(4)])


def test_a_resumed_run_sets_exactly_the_rates_of_an_uninterrupted_one(tmp_path):
    straight, _ = train(FakeClock(), tmp_path / "straight.pt")
    with pytest.raises(Interrupted):
        train(FakeClock(), tmp_path / "killed.pt", kill_at=5)         # epochs 1-4 checkpointed
    before = torch.load(tmp_path / "killed.pt", weights_only=False)
    assert before["epoch"] == 4
    resumed_from = FakeClock(now=12345.0)       # a new process: another clock origin
    after, report = train(resumed_from, tmp_path / "killed.pt")
    assert report.stopped_by == "time_budget"
    assert straight[:4 * STEPS_PER_EPOCH] + after == pytest.approx(straight)


def test_the_clock_extrapolates_within_an_epoch_and_counts_spent_time():
    fake = FakeClock()
    clock = TrainingClock(max_epochs=1000, time_budget_s=100.0, clock=fake)
    clock.start(spent=20.0)
    assert clock.elapsed() == 20.0 and not clock.exhausted()
    clock.begin_epoch()
    fake.now += 10.0
    clock.begin_epoch()                          # the previous epoch took 10 s
    assert clock.progress(3, 0.0) == pytest.approx(0.30)
    assert clock.progress(3, 0.5) == pytest.approx(0.35)
    fake.now += 70.0
    assert clock.exhausted()
    assert clock.progress(10**6) == 1.0
