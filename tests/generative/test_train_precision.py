"""``T5GeneratorConfig.train_precision``: bf16 autocast for training forward passes only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec_bench.errors import ConfigError
from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level
from genrec_bench.generative.seq2seq import SemanticIdSeq2Seq
from genrec_bench.generative.t5_generator import T5GeneratorConfig
from genrec_bench.training.precision import training_autocast

TINY = dict(d_model=32, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2, d_kv=16, dropout=0.0)


def test_bf16_autocast_runs_matrix_products_in_bfloat16_and_fp32_is_a_no_op():
    layer = torch.nn.Linear(8, 4)
    x = torch.randn(3, 8)
    with training_autocast("cpu", "bf16"):
        assert layer(x).dtype == torch.bfloat16
    with training_autocast("cpu", "fp32"):
        assert layer(x).dtype == torch.float32
    with pytest.raises(ValueError, match="fp16"):
        training_autocast("cpu", "fp16")


def test_config_rejects_an_unknown_precision_naming_the_field():
    with pytest.raises(ConfigError, match="train_precision"):
        T5GeneratorConfig(train_precision="fp16")


def _seq2seq(precision: str) -> SemanticIdSeq2Seq:
    rng = np.random.default_rng(0)
    codes, dedup = add_dedup_level(rng.integers(0, 8, size=(40, 2)))
    ids = SemanticIds(codes=np.vstack([np.zeros((1, 3), dtype=np.int64), codes]), level_sizes=(8, 8, dedup))
    torch.manual_seed(0)
    return SemanticIdSeq2Seq(ids, T5GeneratorConfig(**TINY, train_precision=precision), torch.device("cpu"))


def test_bf16_loss_is_fp32_close_to_the_fp32_loss_and_its_gradients_are_fp32():
    history = np.random.default_rng(1).integers(0, 41, size=(16, 5))
    targets = np.random.default_rng(2).integers(1, 41, size=16)
    full, half = _seq2seq("fp32"), _seq2seq("bf16")
    assert torch.equal(full.model.shared.weight, half.model.shared.weight)          # same initialisation
    loss_full, loss_half = full.loss(history, targets), half.loss(history, targets)
    assert loss_half.dtype == torch.float32
    assert loss_full.item() != loss_half.item()                                     # bf16 really ran
    assert loss_half.item() == pytest.approx(loss_full.item(), rel=2e-2)
    loss_half.backward()
    grads = [p.grad for p in half.model.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)
    assert all(p.dtype == torch.float32 for p in half.model.parameters())          # master weights stay fp32


def test_decoding_does_not_depend_on_the_training_precision():
    history = np.random.default_rng(1).integers(1, 41, size=(4, 5))
    full, half = _seq2seq("fp32"), _seq2seq("bf16")
    for m in (full, half):
        m.model.eval()
    a, b = full.decode(history, beam_width=5), half.decode(history, beam_width=5)
    assert torch.equal(a.items, b.items) and torch.equal(a.scores, b.scores)
