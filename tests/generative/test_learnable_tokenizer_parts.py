"""Core parts of the learnable tokenizers: Sinkhorn assignment, RQ-VAE hooks, collaborative
item embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec_bench.evaluation import Evaluator, Validator
from genrec_bench.generative.collaborative import (
    CollaborativeEmbeddingConfig,
    collaborative_item_embeddings,
)
from genrec_bench.generative.sinkhorn import sinkhorn_assign, sinkhorn_plan
from genrec_bench.generative.tokenizers import RQVAE, RQVAEConfig, RQVAEHooks, fit_rq_vae


def test_sinkhorn_balances_an_assignment_that_nearest_codes_would_collapse():
    torch.manual_seed(0)
    distances = torch.rand(64, 8)
    distances[:, 0] -= 1.0                               # every item is nearest to code 0
    assert torch.bincount(distances.argmin(1), minlength=8).tolist() == [64] + [0] * 7
    counts = torch.bincount(sinkhorn_assign(distances, epsilon=0.003), minlength=8)
    assert counts.min() >= 6 and counts.max() <= 10     # about 64 / 8 each


def test_sinkhorn_plan_converges_to_uniform_marginals():
    torch.manual_seed(1)
    plan = sinkhorn_plan(torch.rand(32, 4), epsilon=0.1, iterations=200).exp()
    assert torch.allclose(plan.sum(1), torch.full((32,), 1 / 32, dtype=plan.dtype), atol=1e-9)
    assert torch.allclose(plan.sum(0), torch.full((4,), 1 / 4, dtype=plan.dtype), atol=1e-4)


def test_sinkhorn_plan_stays_finite_at_letters_tiny_epsilon():
    torch.manual_seed(1)
    plan = sinkhorn_plan(torch.rand(32, 4), epsilon=0.003, iterations=50).exp()
    assert torch.isfinite(plan).all()                    # float32 exp(-d / 0.003) would overflow
    assert torch.allclose(plan.sum(1), torch.full((32,), 1 / 32, dtype=plan.dtype), atol=1e-9)


def test_mean_reduction_divides_the_vq_loss_by_dimensions_and_levels():
    torch.manual_seed(0)
    config = RQVAEConfig(hidden=(8,), latent_dim=4, levels=3, codebook_size=5)
    model = RQVAE(6, config)
    z = torch.randn(10, 4)
    _, codes_sum, loss_sum, _ = model.quantize(z)
    _, codes_mean, loss_mean, _ = model.quantize(z, level_reduction="mean", dim_reduction="mean")
    assert torch.equal(codes_sum, codes_mean)
    assert torch.allclose(loss_mean, loss_sum / (4 * 3))


def test_level_distances_follow_the_residual_path_of_quantize():
    torch.manual_seed(0)
    model = RQVAE(6, RQVAEConfig(hidden=(8,), latent_dim=4, levels=3, codebook_size=5))
    z = torch.randn(7, 4)
    _, codes, _, _ = model.quantize(z)
    distances = model.level_distances(z)
    assert torch.equal(torch.stack([d.argmin(1) for d in distances], 1), codes)


def test_hooks_extra_loss_and_epoch_callback_are_called_and_logged():
    calls = {"epochs": [], "rows": 0}

    def extra(model, rows, z, z_q, codes):
        calls["rows"] += rows.numel()
        return z_q.pow(2).mean(), {"extra": 1.5}

    hooks = RQVAEHooks(extra_loss=extra, epoch_start=lambda model, epoch: calls["epochs"].append(epoch))
    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    _, info, _ = fit_rq_vae(x, RQVAEConfig(hidden=(8,), latent_dim=4, levels=2, codebook_size=4, epochs=3,
                                           batch_size=16), seed=0, hooks=hooks)
    assert calls["epochs"] == [0, 1, 2] and calls["rows"] == 3 * 40
    assert all(entry["extra"] == pytest.approx(1.5) for entry in info["training"])


def test_default_hooks_train_exactly_as_without_hooks():
    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    config = RQVAEConfig(hidden=(8,), latent_dim=4, levels=2, codebook_size=4, epochs=2, batch_size=16)
    codes_a, info_a, _ = fit_rq_vae(x, config, seed=3)
    codes_b, info_b, _ = fit_rq_vae(x, config, seed=3, hooks=RQVAEHooks())
    assert np.array_equal(codes_a, codes_b) and info_a == info_b


def test_collaborative_embeddings_are_selected_on_validation_and_cached(cyclic_splits, tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path))
    config = CollaborativeEmbeddingConfig(dim=8, n_layers=1, max_len=12, max_epochs=3, patience=2)
    validator = Validator(Evaluator(n_items=cyclic_splits.n_items), cyclic_splits.valid)
    first = collaborative_item_embeddings(cyclic_splits, config, seed=0, device=torch.device("cpu"),
                                          validator=validator)
    assert first.table.shape == (cyclic_splits.n_items + 1, 8)
    assert np.all(first.table[0] == 0) and np.abs(first.table[1:]).sum() > 0
    assert first.info["best_epoch"] in (1, 2, 3) and first.info["best_valid"] is not None
    files = sorted(p.name for p in tmp_path.iterdir())
    again = collaborative_item_embeddings(cyclic_splits, config, seed=0, device=torch.device("cpu"),
                                          validator=None)           # loaded: no training, no validator
    assert np.array_equal(first.table, again.table)
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    other = collaborative_item_embeddings(cyclic_splits, config, seed=1, device=torch.device("cpu"), validator=None)
    assert other.info["cache_file"] != first.info["cache_file"]


def test_semantic_ids_reload_with_a_config_holding_tuples(tmp_path):
    """A cached artifact whose config has tuples (RQ-VAE hidden sizes) must load again: JSON
    turns tuples into lists (this once made every cached RQ-VAE tokenizer unloadable)."""
    from genrec_bench.generative.semantic_ids import SemanticIds

    identity = {"tokenizer": "rqvae", "config": {"hidden": (512, 256, 128), "levels": 2}}
    ids = SemanticIds(codes=np.array([[0, 0], [0, 1], [1, 0]]), level_sizes=(2, 2), config=identity)
    ids.save(tmp_path / "ids")
    loaded = SemanticIds.load(tmp_path / "ids", expect_config=identity)
    assert np.array_equal(loaded.codes, ids.codes)
    from genrec_bench.errors import DataError
    with pytest.raises(DataError, match="another config"):
        SemanticIds.load(tmp_path / "ids", expect_config={**identity, "tokenizer": "rqkmeans"})
