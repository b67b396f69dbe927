"""``T5GeneratorConfig.train_precision``: bf16 autocast for training forward passes only;
``auto`` chooses per device; the optimizer is fused on CUDA; a compiled loss is the one run."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from genrec_bench.errors import ConfigError
from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level
from genrec_bench.generative.seq2seq import SemanticIdSeq2Seq
from genrec_bench.generative.t5_generator import T5GeneratorConfig
from genrec_bench.training import precision as precision_module
from genrec_bench.training.optimizers import adamw
from genrec_bench.training.precision import resolve_precision, training_autocast

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


def test_auto_precision_is_bf16_only_on_a_cpu_with_native_bf16(monkeypatch):
    for native, cpu_choice in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda native=native: native)
        assert resolve_precision("auto", "cpu") == cpu_choice
        assert resolve_precision("auto", "cuda") == "fp32"        # measured 2x slower under bf16 on an H200
        assert resolve_precision("auto", torch.device("cuda", 0)) == "fp32"
        assert resolve_precision("bf16", "cuda") == "bf16"        # an explicit choice is kept
        with training_autocast("cpu", "auto"):
            assert torch.nn.Linear(8, 4)(torch.randn(3, 8)).dtype == \
                (torch.bfloat16 if native else torch.float32)
    assert T5GeneratorConfig(train_precision="auto").train_precision == "auto"


def test_seq2seq_resolves_auto_for_its_device(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: True)
    assert _seq2seq("auto").precision == "bf16"
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: False)
    assert _seq2seq("auto").precision == "fp32"


def test_adamw_is_fused_on_cuda_only_and_fused_updates_match():
    params = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(3))]
    assert adamw(params, lr=1e-3, weight_decay=0.01, device="cpu").defaults["fused"] is None
    assert adamw(params, lr=1e-3, weight_decay=0.01, device=torch.device("cuda")).defaults["fused"] is True
    # the fused kernel (available on CPU too) makes the same update as the default one
    copies = [[torch.nn.Parameter(p.detach().clone()) for p in params] for _ in range(2)]
    optimizers = [torch.optim.AdamW(copies[0], lr=1e-2, weight_decay=0.01),
                  torch.optim.AdamW(copies[1], lr=1e-2, weight_decay=0.01, fused=True)]
    for _ in range(3):
        for group, optimizer in zip(copies, optimizers, strict=True):
            optimizer.zero_grad()
            sum((p ** 2).sum() for p in group).backward()
            optimizer.step()
    for a, b in zip(*copies, strict=True):
        torch.testing.assert_close(a, b)


def test_the_compiled_loss_is_the_one_training_runs():
    """``compile_loss`` replaces what ``loss`` calls; the graph traces whole (``fullgraph``)
    and gives the eager loss. The eager backend keeps the test quick: it checks the path and
    the tracing, not inductor's code."""
    torch._dynamo.reset()
    history = np.random.default_rng(1).integers(0, 41, size=(16, 5))
    targets = np.random.default_rng(2).integers(1, 41, size=16)
    seq2seq = _seq2seq("fp32")
    eager = seq2seq.loss(history, targets).item()
    calls = []
    def counting_backend(graph, example_inputs):
        calls.append(graph)
        return graph.forward
    seq2seq.compile_loss(backend=counting_backend, fullgraph=True)
    compiled = seq2seq.loss(history, targets)
    assert len(calls) == 1
    assert compiled.item() == pytest.approx(eager, rel=1e-5)
    compiled.backward()
    assert seq2seq.model.shared.weight.grad is not None                # gradients flow through the graph
    restored = pickle.loads(pickle.dumps(seq2seq))                 # the compiled function is not pickled
    assert restored.loss(history, targets).item() == pytest.approx(eager, rel=1e-5)
