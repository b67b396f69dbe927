"""Significance testing for per-user metric vectors, one test or correction per module.

Paired per-user tests (``a`` and ``b`` are ``[n]`` scores of the same users in the same
order): :func:`paired_t_test`, :func:`wilcoxon_test`, :func:`permutation_test`; the
bootstrap CI :func:`bootstrap_ci`; effect size :func:`cohens_dz`; :func:`win_tie_loss`.
Across training seeds: :func:`seed_test`. Multiple-comparison corrections: :func:`holm`
(step-down, the default) and :func:`benjamini_hochberg` (step-up). The suite's declared
family, the best method vs every other on one (dataset, metric), is :func:`compare_family`.
"""

from genrec_bench.stats.benjamini_hochberg import benjamini_hochberg
from genrec_bench.stats.bootstrap import BootstrapCI, bootstrap_ci
from genrec_bench.stats.comparison import (
    CORRECTIONS,
    TESTS,
    FamilyResult,
    PairedComparison,
    compare_family,
    pair_seed,
)
from genrec_bench.stats.effect_size import cohens_dz
from genrec_bench.stats.holm import CorrectionResult, holm
from genrec_bench.stats.paired_t import PairedTResult, paired_differences, paired_t_test
from genrec_bench.stats.permutation import PermutationResult, permutation_test
from genrec_bench.stats.seeds import SeedTestResult, seed_test
from genrec_bench.stats.wilcoxon import WilcoxonResult, wilcoxon_test
from genrec_bench.stats.win_tie_loss import WinTieLoss, win_tie_loss

__all__ = [
    "CORRECTIONS",
    "TESTS",
    "BootstrapCI",
    "CorrectionResult",
    "FamilyResult",
    "PairedComparison",
    "PairedTResult",
    "PermutationResult",
    "SeedTestResult",
    "WilcoxonResult",
    "WinTieLoss",
    "benjamini_hochberg",
    "bootstrap_ci",
    "cohens_dz",
    "compare_family",
    "holm",
    "pair_seed",
    "paired_differences",
    "paired_t_test",
    "permutation_test",
    "seed_test",
    "wilcoxon_test",
    "win_tie_loss",
]
