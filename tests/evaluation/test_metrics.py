import numpy as np
import pytest

from genrec_bench.evaluation import NOT_RETRIEVED, parse_metric
from genrec_bench.evaluation.metrics import mrr_at_k, ndcg_at_k, recall_at_k

RANKS = np.array([1, 2, 5, 10, 11, NOT_RETRIEVED])


def test_recall_is_hit_at_k():
    assert recall_at_k(RANKS, 10).tolist() == [1, 1, 1, 1, 0, 0]
    assert recall_at_k(RANKS, 1).tolist() == [1, 0, 0, 0, 0, 0]


def test_ndcg_hand_computed():
    # 1/log2(r+1): r=1 -> 1, r=2 -> 1/log2(3), r=5 -> 1/log2(6), r=10 -> 1/log2(11)
    expected = [1.0, 1 / np.log2(3), 1 / np.log2(6), 1 / np.log2(11), 0.0, 0.0]
    np.testing.assert_allclose(ndcg_at_k(RANKS, 10), expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(ndcg_at_k(RANKS, 5), expected[:3] + [0, 0, 0])


def test_mrr_hand_computed():
    np.testing.assert_allclose(mrr_at_k(RANKS, 10), [1, 0.5, 0.2, 0.1, 0, 0])


def test_parse_metric_rejects_malformed_keys():
    assert parse_metric("ndcg@10") == ("ndcg", 10)
    for bad in ("ndcg", "ndcg@", "ndcg@0", "NDCG@x", "hit@10"):
        with pytest.raises(ValueError):
            parse_metric(bad)


def test_head_tail_breakdown():
    from genrec_bench.evaluation import EvalResult
    from genrec_bench.evaluation.breakdown import head_items, popularity_breakdown

    counts = np.array([0, 5, 1, 9, 1, 0, 2, 2, 1, 1, 3])   # 10 items; the top 20 % are items 3 and 1
    head = head_items(counts, 0.2)
    assert np.flatnonzero(head).tolist() == [1, 3]
    result = EvalResult(users=np.arange(4), targets=np.array([3, 1, 2, 7]), ranks=np.array([1, 11, 2, 30]),
                        tied=np.zeros(4, bool), ranking="full", cutoff=None)
    out = popularity_breakdown(result, head, ["recall@10"])
    assert out["head"] == {"users": 2, "recall@10": 0.5}
    assert out["tail"] == {"users": 2, "recall@10": 0.5}
