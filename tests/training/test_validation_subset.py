"""Cheap validation: epochs are selected on a fixed, seeded subset of validation users, the
same at every epoch and in every process of a run, and never on test targets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from genrec_bench.evaluation import Evaluator, Validator
from genrec_bench.registry import get_method
from tests.conftest import cyclic_splits_with_titles

torch.set_num_threads(1)


class RecordingEvaluator(Evaluator):
    """The suite's evaluator, remembering the (users, targets) of every split it ranked."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def evaluate(self, model, split):
        self.calls.append((split.users.copy(), split.targets.copy()))
        return super().evaluate(model, split)


def test_the_subset_is_seeded_sorted_and_drawn_from_the_validation_users(cyclic_splits):
    validator = Validator(Evaluator(n_items=cyclic_splits.n_items), cyclic_splits.valid)
    a, b = validator.on_subset(50, seed=3), validator.on_subset(50, seed=3)
    assert np.array_equal(a.split.users, b.split.users)             # a new process draws the same
    assert len(a.split) == 50 and np.all(np.diff(a.split.users) > 0)
    assert set(a.split.users) <= set(cyclic_splits.valid.users)
    rows = np.searchsorted(cyclic_splits.valid.users, a.split.users)
    assert np.array_equal(a.split.targets, cyclic_splits.valid.targets[rows])
    assert not np.array_equal(validator.on_subset(50, seed=4).split.users, a.split.users)
    assert len(validator.on_subset(0, seed=3).split) == len(cyclic_splits.valid)
    assert len(validator.on_subset(10**6, seed=3).split) == len(cyclic_splits.valid)
    with pytest.raises(ValueError, match="n_users"):
        validator.on_subset(-1, seed=3)


def test_fit_selects_every_epoch_on_the_same_subset_and_never_on_test(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path))
    splits = cyclic_splits_with_titles(n_users=60, n_items=24)
    spec = get_method("tiger")
    smoke = spec.make_config("smoke")
    config = dataclasses.replace(smoke, training=dataclasses.replace(smoke.training, validation_users=20,
                                                                     max_epochs=3, patience=3))
    evaluator = RecordingEvaluator(n_items=splits.n_items)
    report = spec.recommender(config, device="cpu", seed=0).fit(splits, Validator(evaluator, splits.valid))
    assert len(evaluator.calls) == 3                                  # one validation per epoch
    first_users, first_targets = evaluator.calls[0]
    assert len(first_users) == 20
    for users, targets in evaluator.calls:
        assert np.array_equal(users, first_users) and np.array_equal(targets, first_targets)
    rows = np.searchsorted(splits.valid.users, first_users)
    assert np.array_equal(first_targets, splits.valid.targets[rows])   # validation targets
    assert not np.array_equal(first_targets, splits.test.targets[np.searchsorted(splits.test.users, first_users)])
    recorded = report.extra["validation_subset"]
    assert recorded["users"] == first_users.tolist() and recorded["n_users"] == 20
    assert recorded["of"] == len(splits.valid) and recorded["seed"] == 0
