"""Hyper-parameter tuning: search spaces read from TOML and seeded, resumable Optuna studies
whose trials are ordinary run records (``python -m runners.tune``)."""

from genrec_bench.tuning.space import (
           CategoricalParam,
           FloatParam,
           IntParam,
           SearchSpace,
           read_space,
)
from genrec_bench.tuning.study import TuningResult, TuningSettings, config_toml, shipped_space, tune

__all__ = ["CategoricalParam", "FloatParam", "IntParam", "SearchSpace", "TuningResult", "TuningSettings",
           "config_toml", "read_space", "shipped_space", "tune"]
