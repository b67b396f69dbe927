"""The evaluator: ranks, metrics (one per module), results and validation."""

from genrec_bench.evaluation.evaluator import (
    DEFAULT_METRICS,
    EvalConfig,
    EvaluationError,
    Evaluator,
)
from genrec_bench.evaluation.ranks import INVALID_SLOT_POLICIES, NOT_RETRIEVED, TIE_POLICIES
from genrec_bench.evaluation.result import EvalResult, parse_metric
from genrec_bench.evaluation.validator import Validator

__all__ = ["DEFAULT_METRICS", "INVALID_SLOT_POLICIES", "NOT_RETRIEVED", "TIE_POLICIES", "EvalConfig",
           "EvalResult", "EvaluationError", "Evaluator", "Validator", "parse_metric"]
