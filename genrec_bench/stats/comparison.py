"""The suite's declared comparison family: on one (dataset, metric), the best method by mean
against every other method, each with a paired test, a bootstrap CI, d_z and win/tie/loss,
and the p-values corrected over that family."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from genrec_bench.stats.benjamini_hochberg import benjamini_hochberg
from genrec_bench.stats.bootstrap import bootstrap_ci
from genrec_bench.stats.effect_size import cohens_dz
from genrec_bench.stats.holm import holm
from genrec_bench.stats.paired_t import paired_t_test
from genrec_bench.stats.permutation import permutation_test
from genrec_bench.stats.wilcoxon import ZeroMethod, wilcoxon_test
from genrec_bench.stats.win_tie_loss import win_tie_loss

TestName = Literal["t-test", "wilcoxon", "permutation"]
CorrectionName = Literal["holm", "bh", "none"]

#: test key -> how it is named in results and captions
TESTS: dict[str, str] = {
    "t-test": "paired t-test (two-sided)",
    "wilcoxon": "Wilcoxon signed-rank test (two-sided)",
    "permutation": "paired sign-flip randomization test (two-sided)",
}

#: correction key -> how it is named in results and captions
CORRECTIONS: dict[str, str] = {
    "holm": "Holm step-down (family-wise error)",
    "bh": "Benjamini-Hochberg step-up (false discovery rate)",
    "none": "no correction",
}


@dataclass(frozen=True)
class PairedComparison:
    """One comparison of the family: ``method_a`` (the best by mean) vs ``method_b``.

    Differences are ``a - b``, so ``mean_diff >= 0``. ``significant`` is
    ``p_adjusted <= alpha`` (two-sided, after the family's correction); the direction is
    the sign of ``mean_diff``.
    """

    method_a: str
    method_b: str
    metric: str
    n_users: int
    mean_a: float
    mean_b: float
    mean_diff: float
    p_value: float
    """Raw p-value of ``test``."""
    test: str
    """Key of the test: ``"t-test"``, ``"wilcoxon"`` or ``"permutation"`` (see ``TESTS``)."""
    ci_low: float
    """Paired bootstrap percentile CI of ``mean_diff``; NaN (both ends) when the family was
    computed with ``intervals=False``."""
    ci_high: float
    effect_size: float
    """Cohen's d_z."""
    wins: int
    """Users with ``a > b``."""
    ties: int
    losses: int
    p_adjusted: float
    significant: bool


@dataclass(frozen=True)
class FamilyResult:
    """The comparisons of one family and the family stated in words.

    Iterating, ``len`` and indexing go over ``comparisons``.
    """

    comparisons: tuple[PairedComparison, ...]
    family: str
    """E.g. ``"dataset 'beauty', metric 'ndcg@10': best method by mean 'tiger' vs each of
    the other 3 methods (3 comparisons); paired t-test (two-sided); Holm step-down
    (family-wise error) over these 3 p-values at alpha = 0.05"``."""
    best_method: str
    metric: str
    dataset: str | None
    test: str
    """Key of the test (see ``TESTS`` for its name in words)."""
    correction: str
    """Key of the correction: ``"holm"``, ``"bh"`` or ``"none"`` (see ``CORRECTIONS``)."""
    alpha: float
    confidence: float
    n_resamples: int
    seed: int

    def __iter__(self) -> Iterator[PairedComparison]:
        return iter(self.comparisons)

    def __len__(self) -> int:
        return len(self.comparisons)

    def __getitem__(self, i: int) -> PairedComparison:
        return self.comparisons[i]


def pair_seed(seed: int, method_a: str, method_b: str) -> int:
    """The seed of one comparison, derived from the family seed and the two method names,
    so that adding or removing another method does not change this comparison's resamples.

    >>> pair_seed(0, "a", "b") == pair_seed(0, "a", "b") != pair_seed(0, "a", "c")
    True
    """
    key = zlib.crc32(f"{method_a}\x00{method_b}".encode())
    return int(np.random.SeedSequence([seed, key]).generate_state(1)[0])


def _check_family(per_user: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    if len(per_user) < 2:
        raise ValueError(f"a comparison family needs at least 2 methods; got "
                         f"{sorted(per_user)}")
    vectors: dict[str, np.ndarray] = {}
    for name, v in per_user.items():
        v = np.asarray(v, dtype=np.float64)
        if v.ndim != 1:
            raise ValueError(f"per-user scores of {name!r} must be 1-D; got shape {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"per-user scores of {name!r} hold a NaN or infinite value")
        vectors[name] = v
    names = list(vectors)
    first = names[0]
    for name in names[1:]:
        if vectors[name].shape[0] != vectors[first].shape[0]:
            raise ValueError(
                f"per-user scores of {first!r} ({vectors[first].shape[0]} users) and "
                f"{name!r} ({vectors[name].shape[0]} users) differ in length; paired tests "
                f"need the same users in the same order")
    if vectors[first].shape[0] < 2:
        raise ValueError(f"paired tests need at least 2 users; got {vectors[first].shape[0]}")
    return vectors


def compare_family(per_user: Mapping[str, np.ndarray], *, metric: str,
                   test: TestName = "t-test", correction: CorrectionName = "holm",
                   alpha: float = 0.05, seed: int = 0, dataset: str | None = None,
                   n_resamples: int = 10_000, confidence: float = 0.95,
                   zero_method: ZeroMethod = "wilcox", intervals: bool = True) -> FamilyResult:
    """Compare the best method by mean with every other method, on one (dataset, metric).

    The family is the ``len(per_user) - 1`` comparisons "best vs other" of this call, and
    the correction runs over exactly those p-values; call once per (dataset, metric). The
    best method is the one with the highest mean; a tie for the highest mean goes to the
    name that sorts first. Comparisons are ordered by the other method's mean, highest
    first (then by name).

    Each comparison gets a paired two-sided test (``"t-test"``: :func:`paired_t_test`,
    ``"wilcoxon"``: :func:`wilcoxon_test` with ``zero_method``,
    ``"permutation"``: :func:`permutation_test`), a paired bootstrap CI of the mean
    difference (:func:`bootstrap_ci`), Cohen's d_z and win/tie/loss counts. Resampling
    uses :func:`pair_seed` ``(seed, best, other)``, so results are reproducible and do not
    depend on the order of ``per_user``.

    Args:
        per_user: method name -> ``[n]`` per-user scores; every vector holds the same
            ``n`` users in the same order.
        metric: the metric's name, e.g. ``"ndcg@10"`` (a label only).
        test: ``"t-test"``, ``"wilcoxon"`` or ``"permutation"``.
        correction: ``"holm"`` (default), ``"bh"`` or ``"none"``.
        alpha: significance level after correction.
        seed: seed of the permutation test and the bootstrap.
        dataset: the dataset's name, a label for the family description.
        n_resamples: resamples of the permutation test and of the bootstrap.
        confidence: coverage of the bootstrap CI.
        zero_method: treatment of zero differences by the Wilcoxon test (see
            :func:`wilcoxon_test`); ignored by the other tests.
        intervals: compute the bootstrap CIs (the costly part: ``n_resamples`` means of
            ``n`` users per comparison); ``False`` leaves ``ci_low``/``ci_high`` NaN, for
            callers that do not show them. Nothing else changes.
    Returns:
        :class:`FamilyResult` with one :class:`PairedComparison` per other method.
    Raises:
        ValueError: fewer than 2 methods or 2 users, vectors of different lengths (naming
            both methods), non-finite scores, or an unknown test or correction.

    >>> res = compare_family({"a": np.array([0.5, 0.75, 1.0, 0.75]),
    ...                       "b": np.array([0.25, 0.5, 0.5, 0.25]),
    ...                       "c": np.array([0.5, 0.75, 1.0, 0.5])}, metric="ndcg@10")
    >>> res.best_method, [(c.method_b, c.wins, c.ties, c.losses) for c in res]
    ('a', [('c', 1, 3, 0), ('b', 4, 0, 0)])
    """
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; valid tests: {', '.join(TESTS)}")
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; valid corrections: "
                         f"{', '.join(CORRECTIONS)}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha!r}")
    vectors = _check_family(per_user)
    means = {name: float(v.mean()) for name, v in vectors.items()}
    best = min(vectors, key=lambda name: (-means[name], name))
    others = sorted((name for name in vectors if name != best),
                    key=lambda name: (-means[name], name))

    raw: list[dict] = []
    for other in others:
        a, b = vectors[best], vectors[other]
        pseed = pair_seed(seed, best, other)
        if test == "t-test":
            p = paired_t_test(a, b).p_value
        elif test == "wilcoxon":
            p = wilcoxon_test(a, b, zero_method=zero_method).p_value
        else:
            p = permutation_test(a, b, n_resamples=n_resamples, seed=pseed).p_value
        if intervals:
            ci = bootstrap_ci(a, b, n_resamples=n_resamples, confidence=confidence, seed=pseed)
            mean_diff, low, high = ci.mean_diff, ci.low, ci.high
        else:
            mean_diff, low, high = float((a - b).mean()), float("nan"), float("nan")
        wtl = win_tie_loss(a, b)
        raw.append(dict(
            method_a=best, method_b=other, metric=metric, n_users=int(a.shape[0]),
            mean_a=means[best], mean_b=means[other], mean_diff=mean_diff, p_value=p,
            test=test, ci_low=low, ci_high=high, effect_size=cohens_dz(a, b),
            wins=wtl.wins, ties=wtl.ties, losses=wtl.losses))

    p_values = np.array([r["p_value"] for r in raw], dtype=np.float64)
    if correction == "holm":
        p_adjusted = holm(p_values, alpha=alpha).p_adjusted
    elif correction == "bh":
        p_adjusted = benjamini_hochberg(p_values, alpha=alpha).p_adjusted
    else:
        p_adjusted = p_values
    comparisons = tuple(
        PairedComparison(**r, p_adjusted=float(q), significant=bool(q <= alpha))
        for r, q in zip(raw, p_adjusted, strict=True))

    m = len(comparisons)
    test_words = TESTS[test]
    if test == "wilcoxon":
        test_words += f", zero_method {zero_method!r}"
    where = f"metric {metric!r}" if dataset is None else f"dataset {dataset!r}, metric {metric!r}"
    plural = "s" if m != 1 else ""
    over = (f"{CORRECTIONS[correction]} over these {m} p-value{plural}"
            if correction != "none" else "no correction for multiple comparisons")
    family = (f"{where}: best method by mean {best!r} vs each of the other {m} method{plural} "
              f"({m} comparison{plural}); {test_words}; {over} at alpha = {alpha:g}")
    return FamilyResult(comparisons=comparisons, family=family, best_method=best,
                        metric=metric, dataset=dataset, test=test,
                        correction=correction, alpha=float(alpha),
                        confidence=float(confidence), n_resamples=int(n_resamples),
                        seed=int(seed))
