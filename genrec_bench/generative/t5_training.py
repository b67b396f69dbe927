"""The teacher-forced training forward of a transformers T5, written out over its own weights.

``teacher_forced_logits(model, ...)`` computes what ``model(input_ids, attention_mask,
decoder_input_ids=shift_right(labels)).logits`` computes (same weights, same layers, same
dropout sites and rates) with less work per step. Measured on the 2-core development CPU
(``tests/benchmarks/test_training_speed.py``), a training step's time went to the random
numbers of dropout (``bernoulli_``), autocast's casts of activations, and the attention mask
being rebuilt per layer, more than to matrix products. Here:

* dropout draws its masks from 16-bit integers (``modules/fast_dropout.py``);
* the query, key and value projections of a self-attention run as one matrix product (one
  cast of its input under bf16 instead of three);
* the relative position bias and the padding/causal mask are added once per stack into one
  additive bias, and each layer adds it inside the score product (``baddbmm``); under bf16
  autocast the scores and their softmax stay bf16 (no fp32 copies of the score matrices);
* T5's RMS layer norm runs as ``F.rms_norm``;
* the caller computes the loss from these logits (no discarded loss inside the model).

It does not use a cache and is for training only; decoding uses ``SharedEncoderDecoder``.
``tests/generative/test_t5_training.py`` checks logits and gradients against the model's own
forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import T5ForConditionalGeneration

from genrec_bench.modules.fast_dropout import dropout


def teacher_forced_logits(model: T5ForConditionalGeneration, input_ids: torch.Tensor,
                          attention_mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Decoder logits ``[B, T, V]`` for encoder tokens ``input_ids [B, S]`` (mask ``[B, S]``,
    1 = real token) and target tokens ``labels [B, T]`` fed shifted right after the decoder
    start token. Dropout is active when ``model.training``. Runs under any autocast context
    the caller opened (matrix products and attention softmax in its dtype; norms and the
    residual stream in fp32)."""
    p = model.config.dropout_rate if model.training else 0.0
    dtype = _matmul_dtype(input_ids.device)
    encoder, decoder = model.encoder, model.decoder
    heads = encoder.block[0].layer[0].SelfAttention.n_heads
    key_bias = _padding_bias(attention_mask, dtype)                                   # [B, 1, 1, S]
    b, s = input_ids.shape
    enc_bias = _per_head(encoder.block[0].layer[0].SelfAttention.compute_bias(s, s, device=input_ids.device)
                         .to(dtype) + key_bias, b, heads)
    hidden = dropout(encoder.embed_tokens(input_ids), p)
    for block in encoder.block:
        hidden = _self_attention(block.layer[0], hidden, enc_bias, p)
        hidden = _feed_forward(block.layer[-1], hidden, p)
    memory = dropout(_rms_norm(encoder.final_layer_norm, hidden), p)

    decoder_input_ids = model._shift_right(labels)
    t = decoder_input_ids.shape[1]
    causal = torch.full((t, t), torch.finfo(dtype).min, dtype=dtype, device=labels.device).triu(1)
    dec_bias = _per_head(decoder.block[0].layer[0].SelfAttention.compute_bias(t, t, device=labels.device)
                         .to(dtype) + causal, b, heads)
    cross_bias = _per_head(key_bias.expand(b, 1, t, s), b, heads)
    hidden = dropout(decoder.embed_tokens(decoder_input_ids), p)
    for block in decoder.block:
        hidden = _self_attention(block.layer[0], hidden, dec_bias, p)
        hidden = _cross_attention(block.layer[1], hidden, memory, cross_bias, p)
        hidden = _feed_forward(block.layer[-1], hidden, p)
    hidden = dropout(_rms_norm(decoder.final_layer_norm, hidden), p)
    # transformers 5 names it scale_decoder_outputs; 4.x scaled whenever embeddings were tied
    if getattr(model.config, "scale_decoder_outputs", model.config.tie_word_embeddings):
        hidden = hidden * (model.model_dim ** -0.5)
    return model.lm_head(hidden)


def _matmul_dtype(device: torch.device) -> torch.dtype:
    """The dtype matrix products run in: autocast's when it is on, else fp32."""
    return torch.get_autocast_dtype(device.type) if torch.is_autocast_enabled(device.type) else torch.float32


def _padding_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``[B, S]`` 1/0 mask -> additive bias ``[B, 1, 1, S]`` (0, or the minimum of ``dtype``)."""
    bias = torch.zeros(attention_mask.shape, dtype=dtype, device=attention_mask.device)
    return bias.masked_fill_(attention_mask == 0, torch.finfo(dtype).min)[:, None, None, :]


def _per_head(bias: torch.Tensor, batch: int, heads: int) -> torch.Tensor:
    """An additive attention bias broadcastable to ``[B, H, T, S]``, laid out as ``[B*H, T, S]``
    (what ``baddbmm`` adds inside the score product); built once per stack."""
    t, s = bias.shape[-2:]
    return bias.expand(batch, heads, t, s).reshape(batch * heads, t, s)


def _rms_norm(norm: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """T5's layer norm (no mean, no bias) in fp32."""
    return F.rms_norm(x.float(), (x.shape[-1],), norm.weight, norm.variance_epsilon)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, p: float) -> torch.Tensor:
    """``softmax(q k^T + bias) v`` per head (T5 does not scale by 1/sqrt(dk)), with dropout
    on the attention probabilities. ``q [B, H, T, dk]``, ``k, v [B, H, S, dk]``, ``bias
    [B*H, T, S]`` in the matrix-product dtype; returns ``[B, T, H*dk]``. The bias is added
    inside the score product and the softmax runs in that dtype: on the development CPU this
    attention is about 1.3x faster in bf16 than with fp32 scores and softmax (which cost two
    extra casts of every score matrix); the scores are rounded to bf16 either way."""
    b, h, t, dk = q.shape
    s = k.shape[2]
    scores = torch.baddbmm(bias, q.reshape(b * h, t, dk), k.reshape(b * h, s, dk).transpose(1, 2))
    probs = dropout(torch.softmax(scores, dim=-1), p)
    out = torch.bmm(probs.to(v.dtype), v.reshape(b * h, s, dk))
    return out.view(b, h, t, dk).transpose(1, 2).reshape(b, t, h * dk)


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``[B, T, H*dk]`` -> ``[B, H, T, dk]``."""
    b, t, _ = x.shape
    return x.view(b, t, heads, -1).transpose(1, 2)


def _self_attention(layer: torch.nn.Module, hidden: torch.Tensor, bias: torch.Tensor, p: float) -> torch.Tensor:
    attn = layer.SelfAttention
    x = _rms_norm(layer.layer_norm, hidden)
    qkv = F.linear(x, torch.cat([attn.q.weight, attn.k.weight, attn.v.weight]))
    q, k, v = (_split_heads(part, attn.n_heads) for part in qkv.chunk(3, dim=-1))
    return hidden + dropout(attn.o(_attend(q, k, v, bias, p)), p)


def _cross_attention(layer: torch.nn.Module, hidden: torch.Tensor, memory: torch.Tensor, key_bias: torch.Tensor,
                     p: float) -> torch.Tensor:
    attn = layer.EncDecAttention
    q = _split_heads(attn.q(_rms_norm(layer.layer_norm, hidden)), attn.n_heads)
    kv = F.linear(memory, torch.cat([attn.k.weight, attn.v.weight]))
    k, v = (_split_heads(part, attn.n_heads) for part in kv.chunk(2, dim=-1))
    return hidden + dropout(attn.o(_attend(q, k, v, key_bias, p)), p)


def _feed_forward(layer: torch.nn.Module, hidden: torch.Tensor, p: float) -> torch.Tensor:
    """T5's feed-forward sublayer; the inner dropout too (``DenseReluDense`` or a gated variant)."""
    ff = layer.DenseReluDense
    x = _rms_norm(layer.layer_norm, hidden)
    if hasattr(ff, "wi"):                                     # T5DenseActDense
        inner = ff.wi(x)
        inner = inner.relu_() if isinstance(ff.act, torch.nn.ReLU) else ff.act(inner)
    else:                                                     # T5DenseGatedActDense
        inner = ff.act(ff.wi_0(x)) * ff.wi_1(x)
    return hidden + dropout(ff.wo(dropout(inner, p)), p)
