"""Every semantic-ID generator trains on the strategy ``training.training_prefixes`` names:
TIGER (the shared ``fit_seq2seq``, as LETTER) and FlexCode fitted one epoch on tiny data,
ETEGRec one epoch of its own loop."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from genrec_bench.generative.seq2seq import SemanticIdSeq2Seq
from genrec_bench.registry import get_method
from tests.conftest import cyclic_splits_with_titles

torch.set_num_threads(1)
STRATEGIES = ("all", "one-random", "all-shuffled", "random-window")


def expected_samples(train, strategy: str) -> int:
    lengths = train.lengths
    return int((lengths - 1).clip(min=0).sum()) if strategy.startswith("all") else int((lengths >= 2).sum())


def tiny_fit(method: str, strategy: str, tmp_path, monkeypatch, extra: dict | None = None):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path))
    splits = cyclic_splits_with_titles(n_users=60, n_items=24)
    spec = get_method(method)
    config = spec.make_config("smoke", {"training.training_prefixes": strategy, "training.max_epochs": "1",
                                        **(extra or {})})
    model = spec.recommender(config, device="cpu", seed=0)
    return model.fit(splits, None), splits, config


def tiger_epoch(strategy: str, tmp_path, monkeypatch):
    """TIGER's report, splits, config and the history tokens of each training batch."""
    tokens: list[int] = []
    loss = SemanticIdSeq2Seq.loss

    def spy(self, history, targets, temperature=1.0):
        tokens.append(int((history > 0).sum()))
        return loss(self, history, targets, temperature)

    with monkeypatch.context() as patch:
        patch.setattr(SemanticIdSeq2Seq, "loss", spy)
        report, splits, config = tiny_fit("tiger", strategy, tmp_path / strategy, monkeypatch)
    return report, splits, config, tokens


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_tiger_trains_one_epoch_of_the_strategys_samples(strategy, tmp_path, monkeypatch):
    report, splits, config, tokens = tiger_epoch(strategy, tmp_path, monkeypatch)
    n = expected_samples(splits.train, strategy)
    assert report.epochs[0]["samples"] == n
    assert report.epochs[0]["steps"] == len(tokens) == math.ceil(n / config.training.batch_size)


def test_tiger_random_windows_reach_the_loss_shorter_than_the_prefixes_they_are_cut_from(tmp_path, monkeypatch):
    """Same seed, same target positions: a random window is a suffix of the one random
    prefix's (capped) history, so the epoch trains on fewer history tokens; every prefix on more."""
    tokens = {s: sum(tiger_epoch(s, tmp_path, monkeypatch)[3]) for s in STRATEGIES}
    assert tokens["random-window"] < tokens["one-random"] < tokens["all"] == tokens["all-shuffled"]


@pytest.mark.parametrize("strategy", ["all-shuffled", "random-window"])
def test_flexcode_trains_one_epoch_of_the_strategys_samples(strategy, tmp_path, monkeypatch):
    report, splits, config = tiny_fit("flexcode-fix", strategy, tmp_path, monkeypatch,
                                      {"codebook_size": "4", "disambiguation_tokens": "64"})
    n = expected_samples(splits.train, strategy)
    assert report.epochs[0]["samples"] == n
    assert report.epochs[0]["steps"] == math.ceil(n / config.training.batch_size)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_etegrec_epochs_draw_the_strategys_samples(strategy, cyclic_splits, monkeypatch, tmp_path):
    from tests.methods.test_etegrec import TINY, built

    monkeypatch.setenv("GENREC_CACHE", str(tmp_path))
    config = replace(TINY, end_to_end=False, training=replace(TINY.training, training_prefixes=strategy))
    model = built(config)
    optimizer = model._optimizer(steps_per_epoch=5, stage=1)
    seen: list[np.ndarray] = []
    batch_losses = model.batch_losses

    def spy(history, targets, phase, weights):
        seen.append(history)
        return batch_losses(history, targets, phase, weights)

    monkeypatch.setattr(model, "batch_losses", spy)
    stats = model.train_one_epoch(0, cyclic_splits.train, np.random.default_rng(0), optimizer)
    assert stats["samples"] == expected_samples(cyclic_splits.train, strategy) == sum(h.shape[0] for h in seen)
