"""Validation for model selection: methods call it, the evaluator computes the numbers."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from genrec_bench.data.split import EvalSplit
from genrec_bench.evaluation.evaluator import Evaluator
from genrec_bench.evaluation.result import EvalResult
from genrec_bench.recommender import Recommender

#: mixed into the run's seed, so the subset does not depend on any other random stream
SUBSET_SALT = 0x5E1EC7


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

    def facts(self) -> dict:
        """What a run record states about the users epochs were selected on."""
        return {"metric": self.metric, "n_users": len(self.split),
                "users": self.split.users.tolist()}

    def on_subset(self, n_users: int, seed: int) -> Validator:
        """A validator over a fixed subset of ``n_users`` of this split's users (all of them
        when ``n_users`` is 0 or at least the split's size).

        The subset depends on ``seed`` and the split alone (its own generator), so every
        epoch, every resumed process and every method run with the same seed on the same
        dataset select on the same users. Rows keep the split's order.
        """
        if n_users < 0:
            raise ValueError(f"n_users must be >= 0, got {n_users}")
        if n_users == 0 or n_users >= len(self.split):
            return replace(self, last_result=None)
        rng = np.random.default_rng([SUBSET_SALT, seed])
        rows = np.sort(rng.choice(len(self.split), size=n_users, replace=False))
        return replace(self, split=self.split.select(rows), last_result=None)
