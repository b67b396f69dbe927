"""TIGER end to end on a tiny titled synthetic dataset (fit, then recommend: valid, unique
items with descending scores) and the semantic-ID cache (a second fit with the same config
trains no tokenizer; a change of seed or tokenizer config makes a new artifact)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import methods.tiger as tiger
from genrec_bench.evaluation import Evaluator, Validator
from genrec_bench.generative.semantic_ids import SemanticIds
from genrec_bench.generative.tokenizers import RQVAEConfig
from genrec_bench.recommender import HistoryBatch
from genrec_bench.registry import get_method
from tests.conftest import cyclic_splits_with_titles

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """TIGER's smoke profile (RQ-KMeans 2 x 16 + disambiguation, a 1+1-layer T5, 2 epochs) fitted
    on 60 users x 24 titled items, its cache in a fresh folder."""
    cache = tmp_path_factory.mktemp("tiger-cache")
    splits = cyclic_splits_with_titles(n_users=60, n_items=24)
    spec = get_method("tiger")
    config = spec.make_config("smoke")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENREC_CACHE", str(cache))
        model = spec.recommender(config, device="cpu", seed=0)
        report = model.fit(splits, Validator(Evaluator(n_items=splits.n_items), splits.valid))
    return model, report, splits, config, cache


def test_fit_makes_unique_semantic_ids_with_a_disambiguation_level(fitted):
    model, report, splits, config, _ = fitted
    ids = model.ids
    assert ids.n_items == splits.n_items and ids.is_unique() and ids.dedup_level
    assert ids.level_sizes[:2] == (16, 16) and len(ids.level_sizes) == 3
    assert np.all(ids.codes[0] == 0)
    extra = report.extra["semantic_ids"]
    assert extra["level_sizes"] == list(ids.level_sizes)
    assert extra["text_embeddings"]["is_proxy"] is False
    assert extra["text_embeddings"]["encoder"] == config.text.encoder
    assert 0.0 <= extra["diagnostics"]["collision_rate"] <= 1.0
    assert 1 <= report.best_epoch <= config.training.max_epochs


def test_recommend_returns_valid_unique_items_with_descending_scores(fitted):
    model, _, splits, _, _ = fitted
    users = np.arange(8)
    top = model.recommend(HistoryBatch(users=users, sequences=splits.test.histories.select(users)), 10)
    items, scores = top.items.numpy(), top.scores.numpy()
    assert items.shape == (8, 10) and scores.shape == (8, 10)
    # 24 items and 20 beams: ten real items for every user, no padding 0
    assert ((items >= 1) & (items <= splits.n_items)).all()
    assert all(len(set(row)) == 10 for row in items.tolist())
    assert np.isfinite(scores).all() and (scores <= 0).all()           # log-probabilities
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    result = Evaluator(n_items=splits.n_items).evaluate(model, splits.test)
    assert 0.0 <= result.mean("ndcg@10") <= 1.0


def test_second_fit_with_the_same_config_reuses_the_cached_semantic_ids(fitted, monkeypatch):
    model, _, splits, config, cache = fitted
    monkeypatch.setenv("GENREC_CACHE", str(cache))
    files = sorted(p.name for p in cache.iterdir())
    assert sum(name.startswith("semantic-ids-") for name in files) == 2     # one .json + one .npz

    def no_training(*args, **kwargs):
        raise AssertionError("the tokenizer was trained again")

    monkeypatch.setattr(tiger, "fit_rq_kmeans", no_training)
    monkeypatch.setattr(tiger, "fit_rq_vae", no_training)
    quick = dataclasses.replace(config, training=dataclasses.replace(config.training, max_epochs=1))       # the tokenizer's identity does not change
    again = get_method("tiger").recommender(quick, device="cpu", seed=0)
    report = again.fit(splits, None)
    assert np.array_equal(again.ids.codes, model.ids.codes)
    assert again.ids.level_sizes == model.ids.level_sizes
    assert report.extra["semantic_ids"]["text_embeddings"]["cached"] is True
    assert sorted(p.name for p in cache.iterdir()) == files


def test_rq_vae_semantic_ids_are_cached_per_seed_and_tokenizer_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path))
    rng = np.random.default_rng(0)
    embeddings = np.vstack([np.zeros((1, 8)), rng.normal(size=(25, 8))]).astype(np.float32)
    config = dataclasses.replace(tiger.PROFILES["smoke"], tokenizer="rqvae",
                                 rqvae=RQVAEConfig(hidden=(8,), latent_dim=4, levels=2, codebook_size=2,
                                                   epochs=2, batch_size=16))
    info = {"content_key": "text-0123456789abcdef.npy"}
    ids = tiger.build_semantic_ids(embeddings, config, 0, info, torch.device("cpu"))
    # 25 items on at most 2 x 2 code tuples: the disambiguation level must separate collisions
    base = ids.codes[1:, :2]
    _, group_sizes = np.unique(base, axis=0, return_counts=True)
    assert ids.level_sizes == (2, 2, int(group_sizes.max())) and group_sizes.max() >= 7
    assert ids.is_unique() and np.all(ids.codes[0] == 0)
    assert ids.diagnostics["collision_rate"] > 0 and "relative_reconstruction_error" in ids.diagnostics
    assert ids.config["tokenizer"] == "rqvae" and ids.config["seed"] == 0 and ids.config["n_items"] == 25
    assert len(list(tmp_path.glob("semantic-ids-*.npz"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("the tokenizer was trained again")

    with monkeypatch.context() as mp:
        mp.setattr(tiger, "fit_rq_vae", no_training)
        loaded = tiger.build_semantic_ids(embeddings, config, 0, info, torch.device("cpu"))
    assert np.array_equal(loaded.codes, ids.codes) and loaded.diagnostics == ids.diagnostics
    # another seed, another tokenizer config or other embeddings: a new artifact
    tiger.build_semantic_ids(embeddings, config, 1, info, torch.device("cpu"))
    tiger.build_semantic_ids(embeddings, dataclasses.replace(config, rqvae=dataclasses.replace(config.rqvae,
                                                                                              epochs=1)),
                             0, info, torch.device("cpu"))
    tiger.build_semantic_ids(embeddings, config, 0, {"content_key": "text-0123456789abcdef.npy+attributes-0a1b2c-w1"},
                             torch.device("cpu"))
    assert len(list(tmp_path.glob("semantic-ids-*.npz"))) == 4
    assert all(isinstance(SemanticIds.load(p.with_suffix("")), SemanticIds)
               for p in tmp_path.glob("semantic-ids-*.npz"))
