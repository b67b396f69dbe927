"""The ``metrics`` block of a run record, from the validation and test results."""

from __future__ import annotations

from genrec_bench.data.split import SequenceSplits
from genrec_bench.evaluation.breakdown import domain_breakdown, head_items, popularity_breakdown
from genrec_bench.evaluation.result import EvalResult


def record_metrics(valid: EvalResult, test: EvalResult, splits: SequenceSplits, metric_names: list[str]) -> dict:
    """``valid`` and ``test`` means, test by target popularity, for top-k rankings the share
    of empty list slots (``top_k_lists``), and for multi-domain datasets both splits by domain:
    what ``runners.run`` records and ``runners.rescore`` recomputes."""
    dataset = splits.dataset
    metrics = {"valid": valid.metrics(metric_names), "test": test.metrics(metric_names),
               "test_by_popularity": popularity_breakdown(test, head_items(splits.train_item_counts()), metric_names)}
    if test.list_summary() is not None:
        metrics["top_k_lists"] = {"valid": valid.list_summary(), "test": test.list_summary()}
    if dataset.is_multi_domain:
        metrics["valid_by_domain"] = domain_breakdown(valid, dataset.user_domain, dataset.domains, metric_names)
        metrics["test_by_domain"] = domain_breakdown(test, dataset.user_domain, dataset.domains, metric_names)
    return metrics
