"""The evaluator: ranks, metrics (one per module), results and validation."""

from genrec_bench.evaluation.evaluator import DEFAULT_METRICS, EvalConfig, Evaluator
from genrec_bench.evaluation.ranks import NOT_RETRIEVED, TIE_POLICIES
from genrec_bench.evaluation.result import EvalResult, parse_metric
from genrec_bench.evaluation.validator import Validator

__all__ = ["DEFAULT_METRICS", "NOT_RETRIEVED", "TIE_POLICIES", "EvalConfig", "EvalResult",
           "Evaluator", "Validator", "parse_metric"]
