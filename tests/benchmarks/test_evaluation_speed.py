"""Speed benchmarks (``tox -e bench``): evaluation must be cheap enough to run every epoch.

Acceptance figure: evaluating all 22,363 Amazon Beauty test users for SASRec (full ranking
over 12,101 items) in under 10 s on 2 CPU cores. Weights do not change the cost, so an
untrained model of the cpu-profile size is timed.
"""

from __future__ import annotations

import pytest
import torch

from genrec_bench.data.catalog import load_dataset, resolve_data_root
from genrec_bench.data.split import leave_last_out
from genrec_bench.errors import DataError
from genrec_bench.evaluation import Evaluator
from genrec_bench.modules import SequenceTransformer
from genrec_bench.registry import get_method


@pytest.fixture(scope="module")
def beauty():
    try:
        return leave_last_out(load_dataset("amazon2014-beauty", resolve_data_root(None)))
    except DataError as error:
        pytest.skip(f"Beauty data not available: {error}")


def test_sasrec_full_ranking_of_all_beauty_test_users(benchmark, beauty):
    spec = get_method("sasrec")
    cfg = spec.make_config("cpu")
    model = spec.recommender(cfg, seed=0)
    torch.manual_seed(0)
    model.net = SequenceTransformer(n_tokens=beauty.n_items + 1, hidden_size=cfg.hidden_size,
                                    n_layers=cfg.n_layers, n_heads=cfg.n_heads,
                                    inner_size=cfg.inner_size, dropout=cfg.dropout,
                                    max_len=cfg.max_len, causal=True)
    evaluator = Evaluator(n_items=beauty.n_items)
    result = benchmark.pedantic(evaluator.evaluate, args=(model, beauty.test), rounds=3, warmup_rounds=1)
    assert len(result.ranks) == 22_363
    if benchmark.stats is not None:  # None when benchmarks are disabled (plain pytest)
        assert benchmark.stats.stats.median < 10.0
