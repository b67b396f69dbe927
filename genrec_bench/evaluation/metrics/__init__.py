"""Top-K metrics, one per module; each maps 1-based target ranks to per-user values."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from genrec_bench.evaluation.metrics.mrr import mrr_at_k
from genrec_bench.evaluation.metrics.ndcg import ndcg_at_k
from genrec_bench.evaluation.metrics.recall import recall_at_k

MetricFn = Callable[[np.ndarray, int], np.ndarray]

#: metric name -> function(ranks, k) -> per-user values; keys are written ``name@k``
METRICS: dict[str, MetricFn] = {"recall": recall_at_k, "ndcg": ndcg_at_k, "mrr": mrr_at_k}

__all__ = ["METRICS", "MetricFn", "mrr_at_k", "ndcg_at_k", "recall_at_k"]
