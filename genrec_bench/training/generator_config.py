"""How a semantic-ID generator is trained, validated and decoded: one config for every method.

TIGER, LETTER, FlexCode and ETEGRec (stage 1) hold one :class:`GeneratorTrainingConfig` as
their ``training`` field, so a change to how generators train is made here once. Command
lines reach its fields with dots: ``--set training.lr=1e-3``, ``--set training.time_budget_s=600``.
"""

from __future__ import annotations

from dataclasses import dataclass

from genrec_bench import config_checks as checks
from genrec_bench.errors import ConfigError
from genrec_bench.evaluation.result import parse_metric
from genrec_bench.training.lr_schedule import check_schedule_fields

TRAINING_PREFIXES = ("all", "one-random", "all-shuffled", "random-window")
#: the strategies whose samples are every prefix, the same in every epoch
EVERY_PREFIX = ("all", "all-shuffled")


def selection_metric_of(config: object) -> str:
    """The validation metric a method's config selects epochs on: ``config.training``'s for
    semantic-ID methods, the config's own ``selection_metric`` otherwise (``ndcg@10`` if none)."""
    training = getattr(config, "training", None)
    if isinstance(training, GeneratorTrainingConfig):
        return training.selection_metric
    return getattr(config, "selection_metric", "ndcg@10")


@dataclass(frozen=True)
class GeneratorTrainingConfig:
    """Attributes:
    max_history: items of history the generator reads (TIGER: 20).
    training_prefixes: the samples of an epoch and how they are batched
        (``generative/samples.py``); every history is at most ``max_history`` items:

        * ``all``: every target position of every training sequence, every epoch, with the
          last ``max_history`` items before it (the references' sliding window: LETTER,
          ETEGRec, RecBole); batches grouped by history length (little padding);
        * ``all-shuffled``: the samples of ``all`` in uniformly shuffled batches, as a plain
          PyTorch ``DataLoader`` gives them (the references' batching; more padding);
        * ``one-random``: one random target position per user per epoch, with the last
          ``max_history`` items before it; batches grouped by history length;
        * ``random-window``: one random contiguous window per user per epoch (Botta, GRID):
          a random target position and a random history length in 1..min(``max_history``,
          position), so short contexts are trained too; batches grouped by history length.

        ``runners/sample_efficiency.py`` compares them under one time budget.
    lr: peak learning rate of AdamW.
    lr_schedule: ``constant`` or ``cosine`` (``training/lr_schedule.py``). The cosine decays
        over the stage's *progress*, the larger of the share of ``max_epochs`` done and the
        share of ``time_budget_s`` spent, so a budgeted run ends annealed.
    warmup_epochs: linear warm-up over this many epochs (0 = none).
    weight_decay: AdamW weight decay.
    batch_size: training samples per optimizer step.
    grad_clip: gradient-norm clipping (0 = none).
    max_epochs: hard cap on epochs.
    patience: validations without improvement before stopping.
    eval_every: validate every this many epochs, and the stage's last epoch (``training/loop.py``).
    time_budget_s: wall-clock budget of the stage, training and validation (0 = none).
    max_valid_share: cap on the share of the stage's time spent validating (0 = none): an
        ``eval_every`` epoch whose validation would exceed it is skipped (``training/loop.py``).
    validation_users: epochs are selected on a fixed, seeded subset of this many validation
        users (0 = all); the full validation and test splits are evaluated once at the end.
    beam_width: beams kept while decoding (>= the evaluator's top-K, 20).
    selection_metric: the validation metric that selects the epoch (e.g. ``ndcg@10``).
    """

    max_history: int = 20
    training_prefixes: str = "all"
    lr: float = 5e-4
    lr_schedule: str = "constant"
    warmup_epochs: int = 0
    weight_decay: float = 0.01
    batch_size: int = 256
    grad_clip: float = 1.0
    max_epochs: int = 200
    patience: int = 20
    eval_every: int = 1
    time_budget_s: float = 0.0
    max_valid_share: float = 0.0
    validation_users: int = 4096
    beam_width: int = 20
    selection_metric: str = "ndcg@10"

    def __post_init__(self) -> None:
        checks.one_of(self, "training_prefixes", TRAINING_PREFIXES)
        checks.positive_ints(self, "max_history", "batch_size", "max_epochs", "patience", "eval_every",
                             "beam_width")
        checks.in_range(self, "lr", 1e-12, 10.0)
        checks.in_range(self, "weight_decay", 0.0, float("inf"))
        checks.in_range(self, "grad_clip", 0.0, float("inf"))
        checks.in_range(self, "time_budget_s", 0.0, float("inf"))
        checks.in_range(self, "max_valid_share", 0.0, 1.0)      # [0, 1), as Schedule
        check_schedule_fields(self)            # lr_schedule, and warmup_epochs in [0, max_epochs)
        if not isinstance(self.validation_users, int) or isinstance(self.validation_users, bool) \
                or self.validation_users < 0:
            raise ConfigError(f"GeneratorTrainingConfig.validation_users must be an int >= 0, "
                              f"got {self.validation_users!r}")
        try:
            parse_metric(self.selection_metric)
        except (ValueError, KeyError) as error:
            raise ConfigError(f"GeneratorTrainingConfig.selection_metric: {error}") from None


#: the generator recipe of every semantic-ID method's ``cpu`` profile: one random prefix per
#: user per epoch, AdamW 1e-3 (weight decay 1e-4) with a cosine that ends with the 75-minute
#: budget (``max_epochs`` = 500 is only a cap: a TIGER-size epoch on Beauty takes about 10 s on
#: one thread, so the budget ends first), epochs selected every 8 epochs on 4,096 validation
#: users (about 6 s a validation) and skipped where they would take over 10 % of the stage,
#: patience 10 validations
CPU_GENERATOR_TRAINING = GeneratorTrainingConfig(
    training_prefixes="one-random", lr=1e-3, lr_schedule="cosine", weight_decay=1e-4, batch_size=256,
    max_epochs=500, patience=10, eval_every=8, time_budget_s=75 * 60, max_valid_share=0.10,
    validation_users=4096)
