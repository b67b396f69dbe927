"""The epoch learning-rate schedules, against values worked out by hand."""

import math

import pytest
import torch

from genrec_bench.training.lr_schedule import epoch_lr, scale_lr, set_lr


def test_constant_is_the_base_every_epoch():
    assert [epoch_lr(1e-3, e, schedule="constant", max_epochs=5) for e in range(1, 6)] == [1e-3] * 5


def test_cosine_warms_up_linearly_then_decays_to_the_floor():
    lrs = [epoch_lr(1.0, e, schedule="cosine", max_epochs=6, warmup_epochs=2) for e in range(1, 7)]
    # warm-up 1/2, 2/2; then the cosine over 4 epochs at progress 0, 1/4, 2/4, 3/4
    expected = [0.5, 1.0] + [0.5 * (1 + math.cos(math.pi * p)) for p in (0, 0.25, 0.5, 0.75)]
    assert lrs == pytest.approx(expected)
    assert lrs[2] == pytest.approx(1.0) and lrs[4] == pytest.approx(0.5)


def test_cosine_floor_keeps_a_fraction_of_the_base():
    last = epoch_lr(2.0, 101, schedule="cosine", max_epochs=101, floor=0.1)
    assert last == pytest.approx(2.0 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 100 / 101))))
    assert last > 0.2


def test_decreasing_after_warmup():
    lrs = [epoch_lr(1e-3, e, schedule="cosine", max_epochs=50, warmup_epochs=3) for e in range(4, 51)]
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))


@pytest.mark.parametrize("kwargs, message", [
    ({"schedule": "linear", "max_epochs": 5}, "expected one of"),
    ({"schedule": "cosine", "max_epochs": 5, "epoch": 6}, "outside 1..5"),
    ({"schedule": "cosine", "max_epochs": 5, "epoch": 0}, "outside 1..5"),
])
def test_bad_arguments_are_named(kwargs, message):
    epoch = kwargs.pop("epoch", 1)
    with pytest.raises(ValueError, match=message):
        epoch_lr(1e-3, epoch, **kwargs)


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
