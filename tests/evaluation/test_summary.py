import numpy as np
import pytest

from genrec_bench.evaluation import EvalConfig, Evaluator
from genrec_bench.evaluation.summary import record_metrics
from tests.evaluation.test_evaluator import FixedScores


@pytest.mark.parametrize("exact", [True, False])
def test_record_metrics_block_has_top_k_list_shares_only_for_top_k_rankings(cyclic_splits, exact):
    n_users, n_items = len(cyclic_splits.test), cyclic_splits.n_items
    table = np.random.default_rng(0).normal(size=(n_users, n_items + 1)).astype(np.float32)
    evaluator = Evaluator(EvalConfig(), n_items=n_items)
    model = FixedScores(table, exact=exact)
    valid, test = evaluator.evaluate(model, cyclic_splits.valid), evaluator.evaluate(model, cyclic_splits.test)
    block = record_metrics(valid, test, cyclic_splits, ["ndcg@10"])
    assert block["test"] == {"ndcg@10": test.mean("ndcg@10")} and block["valid"] == {"ndcg@10": valid.mean("ndcg@10")}
    assert {"head", "tail"} <= set(block["test_by_popularity"])
    assert ("top_k_lists" in block) is not exact
    assert "test_by_domain" not in block
