"""The learning-rate factor as a function of progress, against values worked out by hand."""

import math

import pytest
import torch

from genrec_bench.training.lr_schedule import lr_factor, scale_lr, set_lr


def test_constant_is_one_after_warm_up_whatever_the_progress():
    assert [lr_factor(p, 5.0, schedule="constant") for p in (0.0, 0.5, 1.0)] == [1.0, 1.0, 1.0]


def test_warm_up_is_linear_in_epochs_done():
    assert [lr_factor(0.0, e, schedule="constant", warmup_epochs=4) for e in (1.0, 2.0, 4.0, 6.0)] == \
        [0.25, 0.5, 1.0, 1.0]


def test_cosine_follows_progress_down_to_the_floor():
    for p in (0.0, 0.25, 0.5, 0.75, 1.0):
        assert lr_factor(p, 10.0, schedule="cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * p)))
    assert lr_factor(1.0, 10.0, schedule="cosine", floor=0.1) == pytest.approx(0.1)
    assert lr_factor(7.0, 10.0, schedule="cosine") == pytest.approx(0.0)     # progress is clipped


def test_warm_up_and_cosine_multiply():
    assert lr_factor(0.5, 1.0, schedule="cosine", warmup_epochs=2) == pytest.approx(0.5 * 0.5)


@pytest.mark.parametrize("kwargs, message", [
    ({"progress": 0.1, "epochs_done": 1.0, "schedule": "linear"}, "expected one of"),
    ({"progress": float("nan"), "epochs_done": 1.0, "schedule": "cosine"}, "finite"),
    ({"progress": 0.1, "epochs_done": -1.0, "schedule": "cosine"}, "epochs_done"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lr_factor(**kwargs)


def test_set_lr_reaches_every_group():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([{"params": [a]}, {"params": [b], "lr": 5.0}], lr=1.0)
    set_lr(optimizer, 0.25)
    assert [g["lr"] for g in optimizer.param_groups] == [0.25, 0.25]


def test_scale_lr_keeps_each_groups_own_base_across_a_resume():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([{"params": [a]}, {"params": [b], "lr": 5.0}], lr=1.0)
    scale_lr(optimizer, 0.5)
    scale_lr(optimizer, 0.5)                      # scales the base, not the current rate
    assert [g["lr"] for g in optimizer.param_groups] == [0.5, 2.5]
    resumed = torch.optim.AdamW([{"params": [a]}, {"params": [b], "lr": 5.0}], lr=1.0)
    resumed.load_state_dict(optimizer.state_dict())
    scale_lr(resumed, 0.1)
    assert [g["lr"] for g in resumed.param_groups] == pytest.approx([0.1, 0.5])
