"""Training the semantic-ID T5 on next-item targets: the stage TIGER, LETTER and FlexCode share.

Every epoch draws training samples (``GeneratorTrainingConfig.training_prefixes``: every
prefix, one random prefix or one random window per user), batches them (grouped by history
length, or uniformly shuffled for ``all-shuffled``), and minimises the token cross-entropy
of the target item's codes (logits divided by ``temperature``: 1 = TIGER; LETTER's
ranking-guided loss). The learning
rate is set before every step from the stage's progress (``training/budget.py``), so a run
ended by its time budget ends annealed. Epochs are selected on a fixed subset of validation
users (``GeneratorTrainingConfig.validation_users``). The shared epoch loop
(``training/loop.py``) validates, stops early, restores the best weights and checkpoints
every epoch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from genrec_bench.data.split import SequenceSplits
from genrec_bench.data.types import Sequences
from genrec_bench.evaluation import Validator
from genrec_bench.generative.samples import (
    TrainingSamples,
    all_prefixes,
    one_random_prefix,
    random_window,
)
from genrec_bench.generative.semantic_ids import SemanticIds
from genrec_bench.generative.seq2seq import SemanticIdSeq2Seq
from genrec_bench.generative.t5_generator import T5GeneratorConfig
from genrec_bench.recommender import FitReport, Recommender
from genrec_bench.training.batching import length_grouped_batches, shuffled_batches
from genrec_bench.training.budget import TrainingClock
from genrec_bench.training.distributed import shard
from genrec_bench.training.generator_config import GeneratorTrainingConfig
from genrec_bench.training.loop import Schedule, adam_step, run_epochs
from genrec_bench.training.lr_schedule import lr_factor, set_lr
from genrec_bench.training.seeding import seed_everything


def training_samples(train: Sequences, training: GeneratorTrainingConfig,
                     rng: np.random.Generator) -> TrainingSamples:
    """This epoch's samples by ``training.training_prefixes``: every prefix (``all``,
    ``all-shuffled``), one random prefix (``one-random``) or one random window
    (``random-window``) per user; histories of at most ``training.max_history`` items."""
    strategy = training.training_prefixes
    if strategy == "random-window":
        return TrainingSamples(*random_window(train, training.max_history, rng))
    rows, ends = one_random_prefix(train, rng) if strategy == "one-random" else all_prefixes(train)
    return TrainingSamples(rows, ends, np.minimum(ends, training.max_history))


def epoch_batches(widths: np.ndarray, training: GeneratorTrainingConfig,
                  rng: np.random.Generator) -> list[np.ndarray]:
    """This rank's sample-index batches of the epoch: uniformly shuffled for ``all-shuffled``
    (more padding, the references' batching), otherwise grouped by history length.

    Args:
        widths: int ``[S]`` each sample's history length (target positions will do: both
            are capped at ``training.max_history``).
    """
    if training.training_prefixes == "all-shuffled":
        return list(shard(shuffled_batches(widths.shape[0], training.batch_size, rng)))
    window = np.minimum(widths, training.max_history)
    return list(shard(length_grouped_batches(window, training.batch_size, rng)))


def scheduled_steps(batches: list[np.ndarray], epoch: int, training: GeneratorTrainingConfig,
                    clock: TrainingClock) -> Iterator[tuple[np.ndarray, float]]:
    """Yield ``(batch, lr multiplier)``: the rate of each step from the stage's progress."""
    n = max(len(batches), 1)
    for i, batch in enumerate(batches):
        fraction = (i + 1) / n
        yield batch, lr_factor(clock.progress(epoch, i / n), epoch - 1 + fraction,
                               schedule=training.lr_schedule, warmup_epochs=training.warmup_epochs)


def stage_schedule(training: GeneratorTrainingConfig) -> tuple[Schedule, TrainingClock]:
    """The epoch loop's schedule and the clock the learning rate reads, from one config."""
    schedule = Schedule(max_epochs=training.max_epochs, patience=training.patience,
                        eval_every=training.eval_every, time_budget_s=training.time_budget_s,
                        max_valid_share=training.max_valid_share)
    return schedule, TrainingClock(training.max_epochs, training.time_budget_s)


def selection_validator(validator: Validator | None, training: GeneratorTrainingConfig, seed: int,
                        report_extra: dict) -> Validator | None:
    """The validator restricted to ``training.validation_users`` users; records them."""
    if validator is None:
        return None
    subset = validator.on_subset(training.validation_users, seed)
    report_extra["validation_subset"] = {**subset.facts(), "of": len(validator.split), "seed": seed}
    return subset


def fit_seq2seq(recommender: Recommender, splits: SequenceSplits, ids: SemanticIds,
                training: GeneratorTrainingConfig, generator: T5GeneratorConfig,
                validator: Validator | None, rng: np.random.Generator, *,
                temperature: float = 1.0) -> FitReport:
    """Build the T5 for ``ids`` and train it; sets ``recommender.seq2seq`` and
    ``recommender.model`` (so the epoch loop checkpoints and restores them).

    Args:
        rng: the method's data-order generator (checkpointed with the run).
        temperature: divides the logits of the training loss.
    """
    seed_everything(recommender.seed)  # the generator's initialisation does not depend on the cache
    seq2seq = SemanticIdSeq2Seq(ids, generator, recommender.device)
    recommender.seq2seq = seq2seq
    recommender.model = seq2seq.model
    optimizer = seq2seq.optimizer(lr=training.lr, weight_decay=training.weight_decay)
    train = splits.train
    schedule, clock = stage_schedule(training)
    extra: dict = {}
    validator = selection_validator(validator, training, recommender.seed, extra)

    def train_epoch(epoch: int) -> dict:
        samples = training_samples(train, training, rng)
        total, steps, lr = 0.0, 0, training.lr
        for batch, factor in scheduled_steps(epoch_batches(samples.widths, training, rng), epoch, training, clock):
            lr = training.lr * factor
            set_lr(optimizer, lr)
            loss = seq2seq.loss(samples.history(train, batch), samples.targets(train, batch),
                                temperature=temperature)
            adam_step(optimizer, loss, seq2seq.model.parameters(), clip=training.grad_clip)
            total += loss.item()
            steps += 1
        return {"loss": total / max(steps, 1), "steps": steps, "samples": len(samples), "lr": lr,
                "progress": clock.progress(epoch, 1.0)}

    report = run_epochs(recommender, train_epoch, validator, schedule, optimizer=optimizer,
                        generators={"data_order": rng}, checkpoint_path=recommender.checkpoint_path, clock=clock)
    report.extra.update(extra)
    return report
