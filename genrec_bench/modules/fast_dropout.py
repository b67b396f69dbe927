"""Dropout whose random mask costs a quarter of a random draw per element.

On the 2-core development CPU, ``F.dropout`` of one paper-size attention-probability tensor
(``[256, 6, 80, 80]`` floats) spends nearly all its time in the random-number generator
(``bernoulli_``, about 13 ns per element). Here one ``int64.random_()`` draw, uniform on
``[0, 2**63)``, is split into four 16-bit lanes: the three low lanes are uniform on the 65,536
``int16`` values, the top lane on ``[0, 2**15)``. Each lane is compared with a threshold that
gives every element the same drop probability ``p' = t / 2**15``, ``t = round(p * 2**15)``
(``|p' - p| <= 2**-16``; 0.10000610 for ``p = 0.1``), independently of the other elements;
kept elements are scaled by ``1 / (1 - p')``, so the output is unbiased. The draws come from
torch's default generator, so seeded runs repeat.
"""

from __future__ import annotations

import sys

import torch

_LEVELS = 2 ** 15   #: the top lane's range; the low lanes have twice as many values


def dropout_keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """A bool tensor of ``shape``: each element ``True`` (kept) with probability ``1 - p'``."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    threshold = round(p * _LEVELS)
    n = 1
    for size in shape:
        n *= size
    lanes = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_().view(torch.int16).view(-1, 4)
    # little-endian: lanes 0-2 uniform on [-2**15, 2**15), lane 3 (the sign-free top) on [0, 2**15);
    # one contiguous comparison for all lanes, then the top lane's own (a broadcast comparison is slower)
    top = 3 if sys.byteorder == "little" else 0
    keep = lanes >= -_LEVELS + 2 * threshold
    keep[:, top] = lanes[:, top] >= threshold
    return keep.view(-1)[:n].view(shape)


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Inverted dropout of ``x`` with drop probability ``p`` (identity when not training or ``p == 0``)."""
    if not training or p == 0.0:
        return x
    threshold = round(p * _LEVELS)
    keep = dropout_keep_mask(x.shape, p, x.device)
    return x * keep.to(x.dtype).mul_(_LEVELS / (_LEVELS - threshold))
