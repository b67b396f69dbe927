"""``modules.fast_dropout``: a Bernoulli keep mask with the stated probability in every one
of the four 16-bit lanes of a draw, inverted scaling, the gradient of dropout, seeded repeats."""

from __future__ import annotations

import pytest
import torch

from genrec_bench.modules.fast_dropout import dropout, dropout_keep_mask

torch.set_num_threads(1)

N = 4_000_000


@pytest.mark.parametrize("p", [0.1, 0.5, 0.03])
def test_every_lane_drops_with_probability_p(p):
    torch.manual_seed(0)
    mask = dropout_keep_mask((N,), p)
    assert mask.dtype == torch.bool and mask.shape == (N,)
    p_exact = round(p * 2 ** 15) / 2 ** 15
    sd = (p_exact * (1 - p_exact) / (N / 4)) ** 0.5
    dropped = 1.0 - mask.view(-1, 4).double().mean(dim=0)            # the lanes of one int64 draw
    assert (dropped - p_exact).abs().max().item() < 5 * sd, dropped.tolist()
    # neighbours are independent: the drop rate next to a dropped element is p as well
    pairs = ~mask[:-1] & ~mask[1:]
    assert pairs.double().mean().item() == pytest.approx(p_exact ** 2, rel=0.05)


def test_kept_elements_are_scaled_so_the_mean_is_unchanged_and_the_gradient_is_the_mask():
    torch.manual_seed(1)
    x = torch.full((1000, 1000), 2.0, requires_grad=True)
    out = dropout(x, 0.1)
    scale = 2 ** 15 / (2 ** 15 - round(0.1 * 2 ** 15))
    kept = out != 0
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 2.0 * scale))
    assert out.mean().item() == pytest.approx(2.0, rel=2e-3)
    out.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() * scale)


def test_odd_shapes_and_bf16_keep_shape_and_dtype():
    x = torch.randn(3, 5, 7, dtype=torch.bfloat16)
    out = dropout(x, 0.2)
    assert out.shape == x.shape and out.dtype == torch.bfloat16
    assert dropout_keep_mask((3, 5, 7), 0.2).shape == (3, 5, 7)


def test_identity_when_not_training_or_p_is_zero_and_bad_p_is_rejected():
    x = torch.randn(4, 4)
    assert dropout(x, 0.1, training=False) is x and dropout(x, 0.0) is x
    with pytest.raises(ValueError, match="probability"):
        dropout(x, 1.0)


def test_seeded_masks_repeat_and_unseeded_ones_differ():
    torch.manual_seed(5)
    a, b = dropout_keep_mask((10_000,), 0.1), dropout_keep_mask((10_000,), 0.1)
    torch.manual_seed(5)
    assert torch.equal(a, dropout_keep_mask((10_000,), 0.1)) and not torch.equal(a, b)
