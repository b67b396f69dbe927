"""Validation for model selection: methods call it, the evaluator computes the numbers."""

from __future__ import annotations

from dataclasses import dataclass

from genrec_bench.data.split import EvalSplit
from genrec_bench.evaluation.evaluator import Evaluator
from genrec_bench.evaluation.result import EvalResult
from genrec_bench.recommender import Recommender


@dataclass
class Validator:
    """``validator(model)`` -> the selection metric on the validation split.

    Attributes:
        evaluator: the suite's evaluator.
        split: the validation targets (never the test split).
        metric: the selection metric key, default ``ndcg@10``.
        last_result: the per-user result of the latest call.
    """

    evaluator: Evaluator
    split: EvalSplit
    metric: str = "ndcg@10"
    last_result: EvalResult | None = None

    def __call__(self, model: Recommender) -> float:
        self.last_result = self.evaluator.evaluate(model, self.split)
        return self.last_result.mean(self.metric)
