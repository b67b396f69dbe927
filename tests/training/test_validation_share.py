"""``max_valid_share`` skips due validations that would take a stage's validation time over
the share, decided from the epoch history alone (so a resumed run decides the same way)."""

from __future__ import annotations

import pytest

from genrec_bench.training.loop import Schedule, validation_affordable
from tests.training.loop_fakes import fit_on_fake_clock as fit


def test_affordable_counts_the_next_validation_at_the_previous_cost():
    assert validation_affordable([{"train_seconds": 1.0}], 0.1)                     # nothing validated yet
    history = [{"train_seconds": 10.0, "valid_seconds": 5.0}, {"train_seconds": 10.0}]
    assert not validation_affordable(history, 0.1)          # (5 + 5) / (20 + 10) = 0.33 > 0.1
    assert validation_affordable(history, 0.0)               # 0 = no cap
    history += [{"train_seconds": 70.0}]
    assert validation_affordable(history, 0.1)               # (5 + 5) / (90 + 10) = 0.10


def test_expensive_validations_are_skipped_and_the_share_holds():
    schedule = Schedule(max_epochs=40, patience=3, eval_every=2, max_valid_share=0.1)
    validated, report = fit(schedule, train_s=1.0, valid_s=1.0)
    # the first due epoch (2) validates; the next one once 1 s is at most 10 % of the time
    assert validated[0] == 2 and validated[-1] == 40
    assert all(e % 2 == 0 for e in validated) and len(validated) < 20 / 2
    train = sum(e["train_seconds"] for e in report.epochs)
    # every validation but the forced last one kept the share
    assert (len(validated) - 1) * 1.0 <= 0.1 * (train + (len(validated) - 1) * 1.0) + 1e-9
    assert report.best_epoch == 40


@pytest.mark.parametrize("share", [0.0, 0.5])
def test_cheap_validations_are_never_skipped(share):
    validated, _ = fit(Schedule(max_epochs=12, patience=50, eval_every=3, max_valid_share=share),
                       train_s=10.0, valid_s=1.0)
    assert validated == [3, 6, 9, 12]


def test_a_share_outside_zero_one_is_refused():
    with pytest.raises(ValueError):
        Schedule(max_epochs=2, patience=1, max_valid_share=1.0)
