import numpy as np
import pytest
import torch

from genrec_bench.evaluation import NOT_RETRIEVED
from genrec_bench.evaluation.ranks import ranks_from_scores, ranks_from_top_k


def brute_force_rank(scores: np.ndarray, target: int, pessimistic: bool) -> int:
    """Rank by sorting: position of the target among items 1..N (column 0 excluded)."""
    s = scores[1:]
    t = scores[target]
    better = int((s > t).sum())
    ties = int((s == t).sum()) - 1
    return better + 1 + (ties if pessimistic else 0)


def test_ranks_match_brute_force_on_random_inputs():
    rng = np.random.default_rng(0)
    for _ in range(20):
        b, n = rng.integers(1, 30), rng.integers(2, 60)
        # few distinct values so that ties happen often
        scores = rng.integers(0, 5, size=(b, n + 1)).astype(np.float32)
        targets = rng.integers(1, n + 1, size=b)
        for policy in ("pessimistic", "optimistic"):
            ranks, tied = ranks_from_scores(torch.from_numpy(scores), torch.from_numpy(targets), tie_policy=policy)
            expected = [brute_force_rank(scores[i], targets[i], policy == "pessimistic") for i in range(b)]
            assert ranks.tolist() == expected


def test_padding_column_is_never_ranked():
    scores = torch.tensor([[100.0, 1.0, 2.0, 3.0]])
    ranks, _ = ranks_from_scores(scores, torch.tensor([3]))
    assert ranks.tolist() == [1]


def test_constant_scorer_ranks_last_when_pessimistic():
    scores = torch.zeros(1, 11)
    assert ranks_from_scores(scores, torch.tensor([4]))[0].item() == 10
    assert ranks_from_scores(scores, torch.tensor([4]), tie_policy="optimistic")[0].item() == 1


def test_history_exclusion_never_removes_the_target():
    scores = torch.tensor([[0.0, 5.0, 4.0, 3.0, 2.0]])
    exclude = torch.tensor([[False, True, False, True, False]])
    ranks, _ = ranks_from_scores(scores, torch.tensor([3]), exclude=exclude)
    assert ranks.item() == 2  # item 1 removed, item 2 still above


def test_top_k_ranks_and_missing_targets():
    items = torch.tensor([[5, 3, 9], [1, 2, 0]])
    scores = torch.tensor([[0.9, 0.5, 0.1], [0.3, 0.3, -float("inf")]])
    ranks, tied = ranks_from_top_k(items, scores, torch.tensor([3, 7]))
    assert ranks.tolist() == [2, NOT_RETRIEVED]
    ranks, tied = ranks_from_top_k(items, scores, torch.tensor([9, 1]))
    assert ranks.tolist() == [3, 2] and tied.tolist() == [False, True]


def test_unknown_tie_policy():
    with pytest.raises(ValueError, match="tie_policy"):
        ranks_from_scores(torch.zeros(1, 3), torch.tensor([1]), tie_policy="random")


def test_invalid_slots_count_as_misses_in_their_place_by_default():
    # an unconstrained decoder wasted slot 2 on an ID that is no item (0, with its beam score)
    items = torch.tensor([[5, 0, 9, 4]])
    scores = torch.tensor([[-1.0, -2.0, -3.0, -4.0]])
    ranks, _ = ranks_from_top_k(items, scores, torch.tensor([9]))
    assert ranks.tolist() == [3]                       # as ETEGRec's official evaluation counts it
    skipped, _ = ranks_from_top_k(items, scores, torch.tensor([9]), invalid_slots="skip")
    assert skipped.tolist() == [2]                     # the named option moves item 9 up
    # empty slots after the target change nothing; a target at slot 1 is rank 1 either way
    ranks, _ = ranks_from_top_k(items, scores, torch.tensor([5]))
    assert ranks.tolist() == [1]
    with pytest.raises(ValueError, match="invalid_slots"):
        ranks_from_top_k(items, scores, torch.tensor([9]), invalid_slots="drop")


def test_invalid_slots_and_ties_combine():
    items = torch.tensor([[0, 3, 7, 8]])
    scores = torch.tensor([[-1.0, -2.0, -2.0, -5.0]])
    assert ranks_from_top_k(items, scores, torch.tensor([3]))[0].tolist() == [3]   # 1 hole + 1 tie + 1
    assert ranks_from_top_k(items, scores, torch.tensor([3]), tie_policy="optimistic")[0].tolist() == [2]
