"""A seeded, resumable Optuna study over one method's config, every trial a normal run.

Layout under ``<results_dir>/tuning/<study>/``:

* ``study.db``: the Optuna storage (SQLite). Re-running the same command resumes the study:
  finished trials are kept, and a trial whose process was killed is marked failed and its
  parameters are queued again, so the same run (same config, same run id) resumes from its
  checkpoint.
* ``runs/<dataset>/<method>/<run id>/``: one run record per trial, written by
  :func:`genrec_bench.experiment.run` with the tags ``tuning``, ``study:<name>`` and
  ``trial:<number>``. They live outside ``results/runs`` so that tables never mistake a
  trial for the method's current configuration.
* ``best.toml``: the best trial's parameters as a config file for ``--config`` / ``config=``,
  with a ``[genrec_bench.tuned]`` table naming the study, the trial and its validation value
  (runs made from it record that they used a tuned config).

Assumptions: the sampler is TPE (Optuna's default number of random start-up trials, 10),
made afresh for every trial and seeded by (study seed, number of finished trials): a trial's
parameters depend only on the seed and the finished history, so a resumed study samples
exactly what an uninterrupted one would (one sampler seeded once would restart its random
stream at a resume and propose the first trials' parameters again). Trials run one at a
time in this process (one process per study: a second process on the same storage would see
the first one's running trial as killed); each trial trains with the study seed; the
objective is the trial's full-validation metric (``record.metrics["valid"][metric]``) after
the run's own epoch selection on validation, so test users are never used to choose.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrec_bench.errors import ConfigError, GenRecError
from genrec_bench.tuning.space import CategoricalParam, FloatParam, IntParam, SearchSpace

log = logging.getLogger(__name__)

STUDY_FILE = "study.db"
BEST_FILE = "best.toml"


@dataclass(frozen=True)
class TuningSettings:
    """What to tune, where, and how many trials.

    Attributes:
        method, dataset, profile: the runs' identity; every trial starts from the profile.
        space: the parameters and the validation metric.
        trials: finished trials wanted in all (a resumed study runs only the rest).
        seed: seeds both the TPE sampler and every trial's training.
        results_dir: the suite's results folder; the study lives in ``tuning/<study_name>``.
        study_name: defaults to ``<method>-<dataset>-<profile>-seed<seed>``.
        run_options: further keyword arguments of :func:`genrec_bench.experiment.run`
            (``data_root``, ``device``, ``threads`` ...).
    """

    method: str
    dataset: str
    profile: str
    space: SearchSpace
    trials: int
    seed: int = 0
    results_dir: Path = Path("results")
    study_name: str = ""
    run_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ConfigError(f"trials must be at least 1, got {self.trials}")
        if not self.study_name:
            object.__setattr__(self, "study_name", f"{self.method}-{self.dataset}-{self.profile}-seed{self.seed}")
        if "/" in self.study_name or self.study_name.startswith("."):
            raise ConfigError(f"study name {self.study_name!r} must be a plain folder name")

    @property
    def study_dir(self) -> Path:
        return Path(self.results_dir) / "tuning" / self.study_name


@dataclass(frozen=True)
class TrialSummary:
    """One finished or failed trial: its number, state, parameters, value and run."""

    number: int
    state: str
    params: dict[str, Any]
    value: float | None
    run_id: str | None


@dataclass(frozen=True)
class TuningResult:
    """The study after :func:`tune`: every trial, the best one and its config file."""

    study_name: str
    metric: str
    trials: list[TrialSummary]
    best: TrialSummary
    best_config_path: Path
    best_config_text: str


RunFunction = Callable[..., Any]


def suggest(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """The overrides ``trial`` samples from ``space`` (dotted config keys -> values)."""
    values: dict[str, Any] = {}
    for p in space.params:
        if isinstance(p, CategoricalParam):
            values[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif isinstance(p, IntParam):
            values[p.name] = trial.suggest_int(p.name, p.low, p.high, step=p.step)
        elif isinstance(p, FloatParam):
            values[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
    return values


def check_space(settings: TuningSettings) -> None:
    """Apply every bound and choice of the space to the profile's config, one at a time,
    so a key or value the method refuses fails before anything trains."""
    from genrec_bench.registry import get_method

    spec = get_method(settings.method)
    where = settings.space.source or "search space"
    for overrides in settings.space.candidates():
        try:
            spec.make_config(settings.profile, overrides)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"cannot write the non-finite value {value!r} to TOML")
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        return json.dumps(value)
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) to TOML")


def config_toml(params: Mapping[str, Any], tuned: Mapping[str, Any], *, header: Sequence[str] = ()) -> str:
    """A TOML config file: ``params`` (dotted keys become nested tables) and the metadata
    table ``[genrec_bench.tuned]``, which ``--config`` records and does not apply."""
    top = {k: v for k, v in params.items() if "." not in k}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        if "." in key:
            table, _, leaf = key.rpartition(".")
            nested.setdefault(table, {})[leaf] = value
    lines = [f"# {line}" for line in header]
    lines += [f"{key} = {_toml_value(value)}" for key, value in top.items()]
    lines += ["", "[genrec_bench.tuned]"] + [f"{key} = {_toml_value(value)}" for key, value in tuned.items()]
    for table, values in nested.items():
        lines += ["", f"[{table}]"] + [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _summaries(study: Any) -> list[TrialSummary]:
    return [TrialSummary(t.number, t.state.name, dict(t.params), t.value, t.user_attrs.get("run_id"))
            for t in study.trials]


def trial_sampler(seed: int, finished: int) -> Any:
    """The TPE sampler that proposes the next trial's parameters once ``finished`` trials have
    finished: seeded by (``seed``, ``finished``), so the proposal is the same whether or not the
    study was interrupted before it."""
    import numpy as np
    import optuna

    return optuna.samplers.TPESampler(seed=int(np.random.SeedSequence([seed, finished]).generate_state(1)[0]))


def _requeue_killed_trials(study: Any) -> None:
    """Trials left RUNNING by a killed process: mark them failed and queue their parameters
    again (the same config resumes from its run's checkpoint)."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        log.info("trial %d was interrupted; queued again with the same parameters", trial.number)
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(dict(trial.params), user_attrs={"requeued_from": trial.number})


def tune(settings: TuningSettings, run: RunFunction | None = None) -> TuningResult:
    """Run (or resume) the study until ``settings.trials`` trials have finished.

    ``run`` defaults to :func:`genrec_bench.experiment.run`; it is called as
    ``run(method, dataset, profile=, seed=, overrides=, results_dir=, tags=, **run_options)``
    and must return a record with ``run_id`` and ``metrics["valid"][metric]``."""
    import optuna

    if run is None:
        from genrec_bench.experiment import run
    check_space(settings)
    settings.study_dir.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=settings.study_name, storage=f"sqlite:///{settings.study_dir / STUDY_FILE}",
        sampler=trial_sampler(settings.seed, 0), direction="maximize", load_if_exists=True)
    _check_same_study(study, settings)
    _requeue_killed_trials(study)
    metric = settings.space.metric

    def objective(trial: Any) -> float:
        overrides = suggest(trial, settings.space)
        log.info("trial %d: %s", trial.number, overrides)
        record = run(settings.method, settings.dataset, profile=settings.profile, seed=settings.seed,
                     overrides=overrides, results_dir=settings.study_dir,
                     tags=("tuning", f"study:{settings.study_name}", f"trial:{trial.number}"),
                     **dict(settings.run_options))
        trial.set_user_attr("run_id", record.run_id)
        value = record.metrics.get("valid", {}).get(metric)
        if value is None or not math.isfinite(value):
            raise GenRecError(f"trial {trial.number}: run {record.run_id} has no finite validation {metric}")
        return float(value)

    from optuna.trial import TrialState

    def finished() -> int:
        return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    while (done := finished()) < settings.trials:
        study.sampler = trial_sampler(settings.seed, done)
        trial = study.ask()
        try:
            value = objective(trial)
        except Exception:
            study.tell(trial, state=TrialState.FAIL)
            raise
        study.tell(trial, value)      # a KeyboardInterrupt leaves it RUNNING: the resume queues it again
    best = study.best_trial
    best_summary = TrialSummary(best.number, best.state.name, dict(best.params), best.value,
                                best.user_attrs.get("run_id"))
    tuned = {"study": settings.study_name, "trial": best.number, "objective": f"valid {metric}",
             "value": float(best.value), "method": settings.method, "dataset": settings.dataset,
             "profile": settings.profile, "seed": settings.seed}
    header = [f"Best of {len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))} finished "
              f"trials of study {settings.study_name} (TPE, seed {settings.seed}), chosen on validation {metric}.",
              f"Use: python -m runners.run --method {settings.method} --dataset {settings.dataset} "
              f"--profile {settings.profile} --config <this file>"]
    text = config_toml(best.params, tuned, header=header)
    from genrec_bench.records import atomic_write_bytes

    path = atomic_write_bytes(settings.study_dir / BEST_FILE, text.encode("utf-8"))
    return TuningResult(settings.study_name, metric, _summaries(study), best_summary, path, text)


def _check_same_study(study: Any, settings: TuningSettings) -> None:
    """A stored study resumed with another method, dataset, profile, seed or space is an
    error (its trials would not be comparable)."""
    identity = {"method": settings.method, "dataset": settings.dataset, "profile": settings.profile,
                "seed": settings.seed, "metric": settings.space.metric,
                "space": [repr(p) for p in settings.space.params]}
    stored = study.user_attrs.get("identity")
    if stored is None:
        study.set_user_attr("identity", identity)
    elif stored != identity:
        changed = sorted(k for k in identity if stored.get(k) != identity[k])
        raise ConfigError(f"{settings.study_dir / STUDY_FILE}: study {settings.study_name!r} was started with "
                          f"another {', '.join(changed)}; give a new --study name or delete the folder")


def shipped_space(method: str) -> Path:
    """The search space shipped beside a method's module: ``<package>/spaces/<method>.toml``;
    ConfigError when there is none (give ``--space``)."""
    import inspect

    from genrec_bench.registry import get_method

    module_file = Path(inspect.getfile(get_method(method).recommender))
    path = module_file.parent / "spaces" / f"{method}.toml"
    if not path.is_file():
        raise ConfigError(f"method {method!r} ships no search space ({path} does not exist); give --space FILE.toml")
    return path
