"""``teacher_forced_logits``: the written-out training forward computes what the transformers
T5 computes, on the same weights and batches.

Tolerances: fp32 without dropout, logits within 1e-5 and every parameter's gradient within
1e-5 (absolute) + 1e-4 (relative) of the model's own forward: the same function up to float
summation order. Under bf16 autocast both paths round matrix products to 8-bit mantissas in
different places, so the loss agrees within 2e-2 relative (bf16's epsilon is 7.8e-3) and the
flattened gradient has cosine similarity > 0.99 with the fp32 reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level
from genrec_bench.generative.seq2seq import SemanticIdSeq2Seq
from genrec_bench.generative.t5_generator import T5GeneratorConfig, build_t5
from genrec_bench.generative.t5_training import teacher_forced_logits

torch.set_num_threads(1)

SMALL = dict(d_model=32, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=2, d_kv=16)
VOCAB = 50


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Encoder tokens with right padding of varying length, their mask, and 4 target tokens."""
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(2, VOCAB, (8, 12), generator=g)
    for row, length in enumerate([12, 12, 9, 8, 4, 4, 1, 6]):
        input_ids[row, length:] = 0
    labels = torch.randint(2, VOCAB, (8, 4), generator=g)
    return input_ids, (input_ids != 0).long(), labels


def _loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1))


def _model(feed_forward_proj: str = "relu", dropout: float = 0.0):
    torch.manual_seed(0)
    return build_t5(T5GeneratorConfig(**SMALL, dropout=dropout, feed_forward_proj=feed_forward_proj), VOCAB)


def _grads(model) -> dict[str, torch.Tensor]:
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return grads


@pytest.mark.parametrize("feed_forward_proj", ["relu", "gated-gelu"])
def test_fp32_logits_and_gradients_equal_the_models_own_forward(feed_forward_proj):
    model = _model(feed_forward_proj)
    input_ids, mask, labels = _batch()
    reference = model(input_ids=input_ids, attention_mask=mask, labels=labels).logits
    _loss(reference, labels).backward()
    reference_grads = _grads(model)
    logits = teacher_forced_logits(model, input_ids, mask, labels)
    _loss(logits, labels).backward()
    grads = _grads(model)
    torch.testing.assert_close(logits, reference, atol=1e-5, rtol=0)
    assert grads.keys() == reference_grads.keys()
    # every weight is reached, the relative position biases of both stacks included
    assert "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight" in grads
    assert "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight" in grads
    for name, grad in grads.items():
        torch.testing.assert_close(grad, reference_grads[name], atol=1e-5, rtol=1e-4, msg=name)


def test_padding_does_not_change_the_logits():
    model = _model()
    input_ids, mask, labels = _batch()
    padded = F.pad(input_ids, (0, 7))
    torch.testing.assert_close(teacher_forced_logits(model, padded, (padded != 0).long(), labels),
                               teacher_forced_logits(model, input_ids, mask, labels), atol=1e-5, rtol=0)


def test_bf16_autocast_loss_and_gradients_stay_within_bf16_tolerance_of_fp32():
    model = _model()
    input_ids, mask, labels = _batch()
    reference = _loss(model(input_ids=input_ids, attention_mask=mask, labels=labels).logits, labels)
    reference.backward()
    reference_grad = torch.cat([g.flatten() for g in _grads(model).values()])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = teacher_forced_logits(model, input_ids, mask, labels)
    assert logits.dtype == torch.bfloat16                                    # bf16 really ran
    loss = _loss(logits, labels)
    loss.backward()
    grad = torch.cat([g.flatten() for g in _grads(model).values()])
    assert loss.item() == pytest.approx(reference.item(), rel=2e-2)
    assert F.cosine_similarity(grad, reference_grad, dim=0).item() > 0.99


def test_dropout_is_active_in_training_mode_and_repeats_under_a_seed():
    model = _model(dropout=0.1)
    input_ids, mask, labels = _batch()
    model.eval()
    evaluated = teacher_forced_logits(model, input_ids, mask, labels)
    torch.testing.assert_close(evaluated, model(input_ids=input_ids, attention_mask=mask, labels=labels).logits,
                               atol=1e-5, rtol=0)
    model.train()
    torch.manual_seed(3)
    first = teacher_forced_logits(model, input_ids, mask, labels)
    second = teacher_forced_logits(model, input_ids, mask, labels)
    torch.manual_seed(3)
    again = teacher_forced_logits(model, input_ids, mask, labels)
    assert not torch.allclose(first, evaluated) and not torch.allclose(first, second)
    assert torch.equal(first, again)


def _seq2seq(precision: str) -> SemanticIdSeq2Seq:
    rng = np.random.default_rng(0)
    codes, dedup = add_dedup_level(rng.integers(0, 8, size=(40, 2)))
    ids = SemanticIds(codes=np.vstack([np.zeros((1, 3), dtype=np.int64), codes]), level_sizes=(8, 8, dedup))
    torch.manual_seed(0)
    config = T5GeneratorConfig(**SMALL, dropout=0.0, train_precision=precision)
    return SemanticIdSeq2Seq(ids, config, torch.device("cpu"))


@pytest.mark.parametrize(("precision", "rel"), [("fp32", 1e-6), ("bf16", 2e-2)])
def test_seq2seq_loss_equals_the_labels_path_it_replaced(precision, rel):
    """The loss the generator trains on, on one batch, against the former path
    (``model(..., labels=)`` logits in fp32, temperature 2)."""
    seq2seq = _seq2seq(precision)
    history = np.random.default_rng(1).integers(0, 41, size=(16, 5))
    targets = np.random.default_rng(2).integers(1, 41, size=16)
    input_ids, mask = seq2seq.encoder_inputs(history)
    labels = seq2seq.item_tokens[torch.from_numpy(targets)]
    before = _loss(seq2seq.model(input_ids=input_ids, attention_mask=mask, labels=labels).logits / 2.0, labels)
    after = seq2seq.loss(history, targets, temperature=2.0)
    assert after.item() == pytest.approx(before.item(), rel=rel)
