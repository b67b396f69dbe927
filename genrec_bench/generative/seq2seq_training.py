"""Training the semantic-ID T5 on next-item targets: the stage TIGER, LETTER and FlexCode share.

Every epoch draws training samples (every prefix, or one random prefix per user), groups
them by history length, and minimises the token cross-entropy of the target item's codes
(logits divided by ``temperature``: 1 = TIGER; LETTER's ranking-guided loss). The shared
epoch loop (``training/loop.py``) validates, stops early, restores the best weights and
checkpoints every epoch.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from genrec_bench.data.split import SequenceSplits
from genrec_bench.evaluation import Validator
from genrec_bench.generative.samples import (
    all_prefixes,
    history_windows,
    one_random_prefix,
    targets_of,
)
from genrec_bench.generative.semantic_ids import SemanticIds
from genrec_bench.generative.seq2seq import SemanticIdSeq2Seq
from genrec_bench.generative.t5_generator import T5GeneratorConfig
from genrec_bench.recommender import FitReport, Recommender
from genrec_bench.training.batching import length_grouped_batches
from genrec_bench.training.distributed import shard
from genrec_bench.training.loop import Schedule, adam_step, run_epochs
from genrec_bench.training.lr_schedule import epoch_lr, set_lr
from genrec_bench.training.seeding import seed_everything


class Seq2SeqTrainingSettings(Protocol):
    """The config fields this stage reads (TIGERConfig, LETTERConfig, ... provide them)."""

    generator: T5GeneratorConfig
    max_history: int
    training_prefixes: str        # "all" or "one-random"
    lr: float
    lr_schedule: str              # "constant" or "cosine" (training/lr_schedule.py)
    warmup_epochs: int
    weight_decay: float
    batch_size: int
    grad_clip: float
    max_epochs: int
    patience: int
    eval_every: int
    time_budget_s: float


def fit_seq2seq(recommender: Recommender, splits: SequenceSplits, ids: SemanticIds,
                settings: Seq2SeqTrainingSettings, validator: Validator | None, rng: np.random.Generator,
                *, temperature: float = 1.0) -> FitReport:
    """Build the T5 for ``ids`` and train it; sets ``recommender.seq2seq`` and
    ``recommender.model`` (so the epoch loop checkpoints and restores them).

    Args:
        rng: the method's data-order generator (checkpointed with the run).
        temperature: divides the logits of the training loss.
    """
    seed_everything(recommender.seed)  # the generator's initialisation does not depend on the cache
    seq2seq = SemanticIdSeq2Seq(ids, settings.generator, recommender.device)
    recommender.seq2seq = seq2seq
    recommender.model = seq2seq.model
    optimizer = seq2seq.optimizer(lr=settings.lr, weight_decay=settings.weight_decay)
    train = splits.train
    fixed = all_prefixes(train) if settings.training_prefixes == "all" else None

    def train_epoch(epoch: int) -> dict:
        lr = epoch_lr(settings.lr, epoch, schedule=settings.lr_schedule, max_epochs=settings.max_epochs,
                      warmup_epochs=settings.warmup_epochs)
        set_lr(optimizer, lr)
        rows, ends = fixed if fixed is not None else one_random_prefix(train, rng)
        window = np.minimum(ends, settings.max_history)
        total, steps = 0.0, 0
        for batch in shard(length_grouped_batches(window, settings.batch_size, rng)):
            history = history_windows(train, rows[batch], ends[batch], settings.max_history)
            loss = seq2seq.loss(history, targets_of(train, rows[batch], ends[batch]), temperature=temperature)
            adam_step(optimizer, loss, seq2seq.model.parameters(), clip=settings.grad_clip)
            total += loss.item()
            steps += 1
        return {"loss": total / max(steps, 1), "steps": steps, "samples": int(rows.shape[0]), "lr": lr}

    schedule = Schedule(max_epochs=settings.max_epochs, patience=settings.patience, eval_every=settings.eval_every,
                        time_budget_s=settings.time_budget_s)
    return run_epochs(recommender, train_epoch, validator, schedule, optimizer=optimizer,
                      generators={"data_order": rng}, checkpoint_path=recommender.checkpoint_path)
