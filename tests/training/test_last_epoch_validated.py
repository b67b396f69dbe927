"""The stage's last epoch is always validated, so a budgeted run's final (annealed) weights
can be selected even when the budget ends between two ``eval_every`` epochs."""

from __future__ import annotations

import pytest

from genrec_bench.training.loop import Schedule
from tests.training.loop_fakes import fit_on_fake_clock as fit


def validated_epochs(epochs):
    return [e["epoch"] for e in epochs if "valid" in e]


@pytest.mark.parametrize("budget, epochs", [(100.0, 10), (95.0, 10), (80.0, 8)])
def test_a_budget_that_ends_between_validations_still_validates_the_last_epoch(budget, epochs):
    validated, report = fit(Schedule(max_epochs=1000, patience=50, eval_every=4, time_budget_s=budget))
    assert report.stopped_by == "time_budget" and len(report.epochs) == epochs
    assert validated == sorted({*range(4, epochs + 1, 4), epochs})     # no epoch twice
    assert validated_epochs(report.epochs) == validated
    assert report.best_epoch == epochs                                 # the final weights are selected


def test_max_epochs_validates_the_last_epoch():
    validated, report = fit(Schedule(max_epochs=6, patience=50, eval_every=4))
    assert validated == [4, 6] and report.stopped_by == "max_epochs" and report.best_epoch == 6
