"""Sample efficiency (issue #18): which ``training.training_prefixes`` strategy learns most per minute.

    python -m runners.sample_efficiency --method tiger --dataset amazon2014-beauty --profile cpu --budget-min 20

One run per strategy (``genrec_bench.run``) with exactly two overrides,
``training.training_prefixes=<strategy>`` and ``training.time_budget_s=<budget>`` (the
generator stage's wall clock, training and validation), tagged ``study:sample-efficiency``
and ``strategy:<strategy>``, into a results folder of its own (default
``results/studies/sample-efficiency``, which no table reads). Every run is checked before the
first one trains; a finished run is read back, not repeated; an interrupted one resumes from
its checkpoint. The report, ``reports/<method>-<dataset>-<profile>-seed<N>-<M>min.md`` and
``.png`` in that folder, is rendered from the records alone:

* per strategy: samples seen, training samples/s, epochs and validations, the validation
  NDCG@10 of the selected epoch (on the validation users epochs are selected on), the
  full-validation NDCG@10 of the selected model, its test NDCG@10 (shown, never used for the
  choice), fit seconds, generator-stage seconds, the share of the fit spent validating, and
  the stage's seconds after its last validation (training the result does not contain);
* a figure of validation NDCG@10 against the generator stage's wall-clock seconds;
* the strategy that learned most per minute on VALIDATION: the highest full-validation
  NDCG@10 of the selected model within the common budget;
* whether that lead is real: the best strategy against each other one on the per-user
  full-validation NDCG@10 (paired two-sided t-test, Holm over the comparisons,
  ``stats.compare_family``), so a lead within noise is not read as a ranking. Test users
  play no part in the choice or in this test.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from genrec_bench.errors import ConfigError, GenRecError
from genrec_bench.evaluation.metrics import METRICS
from genrec_bench.evaluation.result import parse_metric
from genrec_bench.records.atomic import atomic_write_bytes
from genrec_bench.records.record import DamagedRecordError, load_per_user
from genrec_bench.results import load_records
from genrec_bench.stats import FamilyResult, compare_family
from genrec_bench.training.generator_config import TRAINING_PREFIXES

log = logging.getLogger(__name__)

STUDY_TAG = "study:sample-efficiency"
METRIC = "ndcg@10"
DEFAULT_RESULTS_DIR = Path("results/studies/sample-efficiency")
#: the strategies a study compares unless told otherwise: the cpu recipe's first
DEFAULT_STRATEGIES = ("one-random", "all", "all-shuffled", "random-window")
#: what each strategy trains on, in the words of the report
DESCRIPTIONS = {
    "one-random": "one random target position per user per epoch, the last `max_history` items before it",
    "all": "every target position every epoch, the last `max_history` items before it (the references' "
           "sliding window); batches grouped by history length",
    "all-shuffled": "the samples of `all` in uniformly shuffled batches (a plain DataLoader; more padding)",
    "random-window": "one random contiguous window per user per epoch: random target, random history length "
                     "1..min(`max_history`, position) (Botta, GRID)",
}
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
#: a run whose last validation ended more than this share of the budget before its stage did is flagged
LATE_SHARE = 0.1

RunFunction = Callable[..., Any]


@dataclass(frozen=True)
class StudySettings:
    """One study: ``strategies`` of ``method`` on ``dataset`` at ``profile``, each given
    ``budget_min`` minutes, seed ``seed``. ``run_options``: further keyword arguments of
    ``genrec_bench.run`` (``data_root``, ``threads``, ``device``)."""

    method: str
    dataset: str
    profile: str = "cpu"
    budget_min: float = 20.0
    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    seed: int = 0
    results_dir: Path = DEFAULT_RESULTS_DIR
    run_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "strategies", tuple(self.strategies))
        object.__setattr__(self, "results_dir", Path(self.results_dir))
        unknown = [s for s in self.strategies if s not in TRAINING_PREFIXES]
        if not self.strategies or unknown:
            raise ConfigError(f"strategies: expected some of {', '.join(TRAINING_PREFIXES)}, got "
                              f"{unknown[0] if unknown else 'none'!r}")
        if len(set(self.strategies)) < len(self.strategies):
            raise ConfigError(f"strategies: each at most once, got {' '.join(self.strategies)}")
        budget = self.budget_min
        if isinstance(budget, bool) or not isinstance(budget, int | float) or not math.isfinite(budget) \
                or round(budget * 60) < 1:
            raise ConfigError(f"budget_min: expected a positive number of minutes (at least a second), got {budget!r}")

    @property
    def budget_s(self) -> int:
        """The budget in whole seconds."""
        return round(self.budget_min * 60)

    def run_arguments(self, strategy: str) -> dict[str, Any]:
        """The keyword arguments of ``genrec_bench.run`` for ``strategy`` (besides method, dataset).
        The budget goes as text, as ``--set`` gives it, so it takes the type of the profile's
        value (the cpu recipe's ``75 * 60`` is an int, the default ``0.0`` a float)."""
        return {"profile": self.profile, "seed": self.seed,
                "overrides": {"training.training_prefixes": strategy, "training.time_budget_s": str(self.budget_s)},
                "results_dir": self.results_dir, "tags": (STUDY_TAG, f"strategy:{strategy}"), **self.run_options}

    def report_path(self, suffix: str) -> Path:
        """The report's file with ``suffix`` (``.md``, ``.png``)."""
        name = f"{self.method}-{self.dataset}-{self.profile}-seed{self.seed}-{self.budget_min:g}min{suffix}"
        return self.results_dir / "reports" / name

    def command(self, report_only: bool = False) -> str:
        options = [f"--method {self.method}", f"--dataset {self.dataset}", f"--profile {self.profile}",
                   f"--budget-min {self.budget_min:g}", f"--strategies {' '.join(self.strategies)}",
                   f"--seed {self.seed}", f"--results-dir {self.results_dir}"]
        return " ".join(["python -m runners.sample_efficiency", *options, *(["--report-only"] if report_only else [])])


@dataclass(frozen=True)
class StrategyResult:
    """What the report shows of one strategy's run record. ``curve``: (seconds of the
    generator stage when the validated epoch's training ended, validation NDCG@10) pairs."""

    strategy: str
    run_id: str
    samples_seen: int
    samples_per_s: float | None
    epochs: int
    validations: int
    selected_epoch: int | None
    selected_valid: float | None
    full_valid: float | None
    test: float | None
    fit_s: float | None
    stage_s: float
    valid_share: float | None
    after_last_validation_s: float | None
    stopped_by: str
    validation_users: int | None
    curve: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class StudyReport:
    """The written report: its files, one result per strategy with a record, the strategies
    without one, and the strategies that learned most (ties share the first place)."""

    markdown: Path
    png: Path
    results: tuple[StrategyResult, ...]
    missing: tuple[str, ...]
    best: tuple[str, ...]
    significance: FamilyResult | None = None
    """The best strategy against each other one on full validation; None when fewer than two
    strategies have per-user validation ranks."""


def run_study(settings: StudySettings, run: RunFunction | None = None) -> StudyReport:
    """Run every strategy of ``settings`` that has no record yet, then write the report.

    ``run`` defaults to ``genrec_bench.run``, with every strategy's run checked first
    (``genrec_bench.experiment.prepare``: names, overrides, the results folder) so a mistake
    stops the study before any training; it is called as ``run(method, dataset, **arguments)``
    with :meth:`StudySettings.run_arguments`."""
    if run is None:
        from genrec_bench.experiment import prepare, run

        for strategy in settings.strategies:
            prepare(settings.method, settings.dataset, **settings.run_arguments(strategy))
    for strategy in settings.strategies:
        log.info("sample efficiency: %s, %s minutes", strategy, f"{settings.budget_min:g}")
        run(settings.method, settings.dataset, **settings.run_arguments(strategy))
    return write_report(settings)


def study_records(settings: StudySettings) -> dict[str, dict]:
    """Strategy -> the newest record of this study's runs (tag, method, dataset, profile, seed,
    budget) under ``settings.results_dir``."""
    chosen: dict[str, dict] = {}
    for record in load_records(settings.results_dir, dataset=settings.dataset, method=settings.method,
                               profile=settings.profile):
        training = record.get("config", {}).get("training", {})
        strategy = training.get("training_prefixes")
        if STUDY_TAG not in record.get("tags", []) or record["seed"] != settings.seed \
                or training.get("time_budget_s") != settings.budget_s or strategy not in settings.strategies:
            continue
        if strategy not in chosen or record.get("finished_at", "") > chosen[strategy].get("finished_at", ""):
            chosen[strategy] = record
    return chosen


def strategy_result(record: dict) -> StrategyResult:
    """The report's view of one record."""
    training, timings = record.get("training", {}), record.get("timings", {})
    epochs = training.get("epochs") or []
    clock, curve, last_validation_end = 0.0, [], None
    for epoch in epochs:
        clock += float(epoch.get("train_seconds", 0.0))
        if epoch.get("valid") is not None:
            curve.append((clock, float(epoch["valid"])))
            last_validation_end = clock + float(epoch.get("valid_seconds", 0.0))
        clock += float(epoch.get("valid_seconds", 0.0))
    metrics = record.get("metrics", {})
    subset = training.get("validation_subset") or {}
    return StrategyResult(
        strategy=record["config"]["training"]["training_prefixes"], run_id=record["run_id"],
        samples_seen=sum(int(e.get("samples", 0)) for e in epochs),
        samples_per_s=record.get("efficiency", {}).get("train_samples_per_s"), epochs=len(epochs),
        validations=len(curve), selected_epoch=training.get("best_epoch"), selected_valid=training.get("best_valid"),
        full_valid=metrics.get("valid", {}).get(METRIC), test=metrics.get("test", {}).get(METRIC),
        fit_s=timings.get("fit_s"), stage_s=clock, valid_share=timings.get("valid_share_of_fit"),
        after_last_validation_s=None if last_validation_end is None else clock - last_validation_end,
        stopped_by=str(training.get("stopped_by", "?")), validation_users=subset.get("n_users"), curve=tuple(curve))


def most_learned(results: Sequence[StrategyResult]) -> tuple[str, ...]:
    """The strategies with the highest full-validation NDCG@10 (ties share it); none without one."""
    scored = [r for r in results if r.full_valid is not None and math.isfinite(r.full_valid)]
    if not scored:
        return ()
    top = max(r.full_valid for r in scored)
    return tuple(r.strategy for r in scored if r.full_valid == top)


def write_report(settings: StudySettings) -> StudyReport:
    """Render the Markdown and PNG from the study's records. GenRecError (nothing written)
    when no strategy has a record."""
    records = study_records(settings)
    if not records:
        raise GenRecError(f"no records of this study under {settings.results_dir / 'runs'} (method "
                          f"{settings.method}, dataset {settings.dataset}, profile {settings.profile}, seed "
                          f"{settings.seed}, budget {settings.budget_min:g} min, tag {STUDY_TAG}); run it "
                          "without --report-only first")
    results = tuple(strategy_result(records[s]) for s in settings.strategies if s in records)
    missing = tuple(s for s in settings.strategies if s not in records)
    best = most_learned(results)
    significance, unpaired = validation_family(settings, {s: records[s] for s in settings.strategies if s in records})
    png = atomic_write_bytes(settings.report_path(".png"), render_png(settings, results))
    text = report_markdown(settings, results, missing, best, significance, unpaired)
    markdown = atomic_write_bytes(settings.report_path(".md"), text.encode("utf-8"))
    return StudyReport(markdown, png, results, missing, best, significance)


def validation_family(settings: StudySettings, records: Mapping[str, dict]) -> tuple[FamilyResult | None, list[str]]:
    """The best strategy by full-validation NDCG@10 against each other one, paired per
    validation user (t-test, Holm; ``stats.compare_family``), and the strategies left out
    because their record has no readable per-user validation ranks (with the reason).
    Raises GenRecError when two records hold different validation users or targets."""
    name, k = parse_metric(METRIC)
    per_user, left_out, reference = {}, [], None
    for strategy, record in records.items():
        try:
            arrays = load_per_user(Path(record["_path"]), "valid")
        except (DamagedRecordError, KeyError) as error:
            left_out.append(f"{strategy} ({error})")
            continue
        order = np.argsort(arrays["users"], kind="stable")
        users, targets = arrays["users"][order], arrays["targets"][order]
        if reference is None:
            reference = (strategy, users, targets)
        elif not (np.array_equal(users, reference[1]) and np.array_equal(targets, reference[2])):
            raise GenRecError(f"the validation users or targets of {strategy} ({record['_path']}) differ from "
                              f"those of {reference[0]}: the runs cannot be paired")
        per_user[strategy] = METRICS[name](arrays["ranks"][order], k)
    if len(per_user) < 2:
        return None, left_out
    family = compare_family(per_user, metric=METRIC, dataset=settings.dataset, seed=settings.seed)
    return family, left_out


def report_markdown(settings: StudySettings, results: Sequence[StrategyResult], missing: Sequence[str],
                    best: Sequence[str], significance: FamilyResult | None = None,
                    unpaired: Sequence[str] = ()) -> str:
    """The report's Markdown: what was run, the figure, the table and the choice on validation."""
    budget = f"{settings.budget_min:g}"
    users = next((r.validation_users for r in results if r.validation_users), None)
    lines = [f"# Sample efficiency: {settings.method} on {settings.dataset}, profile {settings.profile}, "
             f"seed {settings.seed}, {budget}-minute budget", "",
             f"Generated by `{settings.command(report_only=True)}` from the run records under "
             f"`{settings.results_dir / 'runs'}` tagged `{STUDY_TAG}`; do not edit by hand.", "",
             "Each strategy is one run of `genrec_bench.run` with two overrides, "
             f"`training.training_prefixes=<strategy>` and `training.time_budget_s={settings.budget_s}` (the "
             "generator stage's wall clock, training and validation); everything else is the profile's.", ""]
    lines += [f"* `{s}`: {DESCRIPTIONS[s]}." for s in settings.strategies]
    lines += ["", f"![Validation NDCG@10 against the generator stage's seconds]({settings.report_path('.png').name})", "",
              "Figure: validation NDCG@10 at each validated epoch"
              + (f" (on the {users:,} validation users epochs are selected on)" if users else "")
              + ", against the generator stage's wall-clock seconds when that epoch's training ended (training "
              "and earlier validations counted, as the budget counts them; the semantic-ID stage before it is "
              "not). The dotted line is the budget.", ""]
    rows = [[r.strategy, r.run_id, f"{r.samples_seen:,}", _number(r.samples_per_s, ",.0f"), r.epochs, r.validations,
             _number(r.selected_valid, ".4f") + ("" if r.selected_epoch is None else f" (epoch {r.selected_epoch})"),
             _number(r.full_valid, ".4f"), _number(r.test, ".4f"), _number(r.fit_s, ",.0f"), f"{r.stage_s:,.0f}",
             _number(r.valid_share, ".1%"), _number(r.after_last_validation_s, ",.0f"), r.stopped_by]
            for r in results]
    headers = ["strategy", "run id", "samples seen", "train samples/s", "epochs", "validations",
               "valid N@10, selected epoch (subset)", "valid N@10 (full)", "test N@10 (NOT used for the choice)",
               "fit s", "generator s", "valid share of fit", "s after last validation", "stopped by"]
    lines += [tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True), ""]
    lines += ["`fit s` includes the semantic-ID stage, which the first run of a cache trains and later runs read "
              "back; `generator s` is the stage the budget limits. `s after last validation`: training time at the "
              "end of the stage that no validation saw, so the selected model cannot contain it (`eval_every` "
              "counts epochs, and an epoch of every prefix is several times longer than one of a random prefix).",
              ""]
    lines += _conclusion(settings, results, best)
    lines += _significance(significance, unpaired)
    if missing:
        lines += ["", f"Not run yet: {', '.join(missing)} (`{settings.command()}` runs them)."]
    return "\n".join(lines) + "\n"


def _conclusion(settings: StudySettings, results: Sequence[StrategyResult], best: Sequence[str]) -> list[str]:
    lines = ["## Learned most per minute (on validation)", ""]
    if not best:
        return lines + ["No run has a full-validation NDCG@10 yet."]
    value = next(r.full_valid for r in results if r.strategy == best[0])
    others = ", ".join(f"{r.strategy} {r.full_valid:.4f}" for r in results
                       if r.strategy not in best and r.full_valid is not None)
    lines.append(f"**{' and '.join(best)}**: the highest full-validation NDCG@10 of the selected model within the "
                 f"same {settings.budget_min:g}-minute budget, {value:.4f}" + (f" (others: {others})." if others else ".")
                 + " Chosen on the validation split only; test NDCG@10 is shown for the record and played no part.")
    lines += ["", f"One seed ({settings.seed}): a difference smaller than the spread between seeds is not a ranking."]
    if len(results) < len(settings.strategies):
        lines += ["", "Not every strategy has run: the choice is among those that have."]
    late = [r for r in results if r.after_last_validation_s is None
            or r.after_last_validation_s > LATE_SHARE * settings.budget_s]
    if late:
        lines += ["", "Caution: " + "; ".join(
            f"{r.strategy} " + ("was never validated" if r.after_last_validation_s is None else
                                f"trained {r.after_last_validation_s:,.0f} s after its last validation")
            for r in late) + f" (over {LATE_SHARE:.0%} of the budget), which its result does not contain."]
    over = [r for r in results if r.stage_s > (1 + LATE_SHARE) * settings.budget_s]
    if over:
        lines += ["", "Caution: " + "; ".join(f"{r.strategy} ran {r.stage_s - settings.budget_s:,.0f} s past the "
                                              "budget" for r in over)
                  + " (the budget is checked at the end of an epoch), time the others did not get."]
    return lines


def _significance(family: FamilyResult | None, unpaired: Sequence[str]) -> list[str]:
    lines = ["", "## Is the lead real? (full validation, paired per user)", ""]
    if family is None:
        return lines + ["No paired test: fewer than two strategies have per-user validation ranks"
                        + (f" ({'; '.join(unpaired)})." if unpaired else ".")]
    rows = [[f"{c.method_a} - {c.method_b}", f"{c.mean_diff:+.4f}", f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}]",
             f"{c.wins:,}/{c.ties:,}/{c.losses:,}", f"{c.p_value:.3g}", f"{c.p_adjusted:.3g}",
             "yes" if c.significant else "no"] for c in family]
    headers = ["difference", "mean NDCG@10 difference", f"{family.confidence:.0%} bootstrap CI",
               "users better/tied/worse", "p", "p (Holm)", f"significant at {family.alpha:g}"]
    lines += [f"Family: {family.family}; {family.comparisons[0].n_users:,} validation users.", "",
              tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True), ""]
    beaten = [c.method_b for c in family if c.significant]
    level = [c.method_b for c in family if not c.significant]
    if level:
        lines.append(f"{family.best_method}'s lead over {', '.join(level)} is not significant: the study does not "
                     f"show that {family.best_method} learns more per minute than {' or '.join(level)}.")
    if beaten:
        lines.append(f"{family.best_method} learned significantly more than {', '.join(beaten)}.")
    if unpaired:
        lines.append(f"Left out of the test (no per-user validation ranks): {'; '.join(unpaired)}.")
    return lines


def render_png(settings: StudySettings, results: Sequence[StrategyResult]) -> bytes:
    """The figure: one line per strategy, x = generator-stage seconds, y = validation NDCG@10."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for i, r in enumerate(results):
        if r.curve:
            xs, ys = zip(*r.curve, strict=True)
            ax.plot(xs, ys, color=COLOURS[i % len(COLOURS)], marker="o", markersize=3.5, linewidth=1.2,
                    label=f"{r.strategy} ({r.samples_seen:,} samples)")
    ax.axvline(settings.budget_s, color="black", linestyle=":", linewidth=1.0, label="budget")
    ax.set_xlabel("generator stage wall-clock seconds (training and validation)")
    ax.set_ylabel("validation NDCG@10 (selection subset)")
    ax.set_title(f"{settings.method} on {settings.dataset} ({settings.profile}, seed {settings.seed}): "
                 f"sample strategies under {settings.budget_min:g} minutes", fontsize=10)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _number(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)
