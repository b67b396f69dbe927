import numpy as np
import pytest

from genrec_bench.stats.win_tie_loss import WinTieLoss, win_tie_loss


def test_hand_case():
    a = np.array([1.0, 0.5, 0.0, 0.2, 0.0, 0.3])
    b = np.array([0.0, 0.5, 1.0, 0.1, 0.0, 0.4])
    assert win_tie_loss(a, b) == WinTieLoss(wins=2, ties=2, losses=2)
    assert win_tie_loss(b, a) == WinTieLoss(wins=2, ties=2, losses=2)
    assert win_tie_loss(a[:4], b[:4]) == (2, 1, 1)


def test_tolerance_turns_near_equal_into_ties():
    a = np.array([0.3, 0.1 + 0.2, 0.5])
    b = np.array([0.3, 0.3, 0.4])
    assert win_tie_loss(a, b) == (2, 1, 0)  # 0.1 + 0.2 > 0.3 in floats
    assert win_tie_loss(a, b, atol=1e-12) == (1, 2, 0)


def test_counts_sum_to_n():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 3, 100) / 2, rng.integers(0, 3, 100) / 2
    w, t, loss = win_tie_loss(a, b)
    assert w + t + loss == 100
    assert (w, t, loss) == (int((a > b).sum()), int((a == b).sum()), int((a < b).sum()))


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="atol"):
        win_tie_loss(np.ones(2), np.ones(2), atol=-1.0)
    with pytest.raises(ValueError, match="lengths 2 and 3"):
        win_tie_loss(np.ones(2), np.ones(3))
