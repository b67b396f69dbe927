"""The seq2seq generator of TIGER/LETTER: a transformers T5 built from a config, and a
decoding path that shares each user's encoder output across all of that user's beams.

``SharedEncoderDecoder`` reuses the T5 weights but lays the computation out for beam search:
the encoder runs once per user; each decoder layer's cross-attention keys and values are
projected once per user; at every step the ``W`` beams of a user attend to them as one
query block (no copies of the encoder output per beam); self-attention keys and values are
cached and reordered by parent beam, so a step processes one new position per beam. Tests
check the step's log-probabilities against the model's own ``forward``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import T5Config, T5ForConditionalGeneration

from genrec_bench import config_checks as checks
from genrec_bench.training.precision import PRECISIONS

ENCODER_BLOCK = 64  #: users encoded together while decoding


@dataclass(frozen=True)
class T5GeneratorConfig:
    """T5 sizes. Defaults = TIGER as used by LETTER (``LETTER-TIGER/ckpt/TIGER/config.json``):
    4+4 layers, d_model 128, d_ff 1024, 6 heads of d_kv 64, dropout 0.1, 32 relative buckets."""

    d_model: int = 128
    d_ff: int = 1024
    num_layers: int = 4
    num_decoder_layers: int = 4
    num_heads: int = 6
    d_kv: int = 64
    dropout: float = 0.1
    relative_attention_num_buckets: int = 32
    feed_forward_proj: str = "relu"
    train_precision: str = "fp32"   # "bf16": training forward under autocast; "auto": per device (training/precision.py)

    def __post_init__(self) -> None:
        checks.positive_ints(self, "d_model", "d_ff", "num_layers", "num_decoder_layers", "num_heads",
                             "d_kv", "relative_attention_num_buckets")
        checks.in_range(self, "dropout", 0.0, 1.0)
        checks.one_of(self, "feed_forward_proj", ("relu", "gelu", "gated-gelu", "gated-silu"))
        checks.one_of(self, "train_precision", PRECISIONS)


def build_t5(config: T5GeneratorConfig, vocab_size: int) -> T5ForConditionalGeneration:
    """A randomly initialised T5 over a vocabulary of ``vocab_size`` tokens (0 = pad/start)."""
    hf_config = T5Config(
        vocab_size=vocab_size, d_model=config.d_model, d_ff=config.d_ff, d_kv=config.d_kv,
        num_layers=config.num_layers, num_decoder_layers=config.num_decoder_layers,
        num_heads=config.num_heads, dropout_rate=config.dropout,
        relative_attention_num_buckets=config.relative_attention_num_buckets,
        feed_forward_proj=config.feed_forward_proj, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0, tie_word_embeddings=True)
    return T5ForConditionalGeneration(hf_config)


class SharedEncoderDecoder:
    """Beam-search decoding for a (fixed) T5: ``encode`` once, then ``step`` per level.

    Args:
        model: a ``T5ForConditionalGeneration`` in eval mode.
    """

    def __init__(self, model: T5ForConditionalGeneration) -> None:
        self.model = model
        self.decoder = model.decoder
        # transformers 5 names it scale_decoder_outputs; 4.x scaled whenever embeddings were tied
        self.scale_output = bool(getattr(model.config, "scale_decoder_outputs",
                                         model.config.tie_word_embeddings))
        self.cross_kv: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.encoder_bias: torch.Tensor | None = None
        self.self_kv: list[tuple[torch.Tensor, torch.Tensor] | None] = []
        self._width = 1

    @torch.no_grad()
    def encode(self, input_ids: torch.Tensor | None, attention_mask: torch.Tensor, *,
               inputs_embeds: torch.Tensor | None = None) -> None:
        """Run the encoder on ``input_ids [B, S]`` (or ``inputs_embeds [B, S, d]``) and project
        every decoder layer's cross-attention keys ``[B, H, d_kv, S]`` and values
        ``[B, H, S, d_kv]`` once."""
        # in blocks of users: the feed-forward activations of a block stay in cache (measured on
        # 2 cores: 256 paper-size users encode in 0.84 s in blocks of 64, 1.29 s at once)
        hidden = torch.cat([
            self.model.encoder(input_ids=None if input_ids is None else input_ids[s:s + ENCODER_BLOCK],
                               inputs_embeds=None if inputs_embeds is None else inputs_embeds[s:s + ENCODER_BLOCK],
                               attention_mask=attention_mask[s:s + ENCODER_BLOCK]).last_hidden_state
            for s in range(0, attention_mask.shape[0], ENCODER_BLOCK)])
        self.cross_kv = []
        for block in self.decoder.block:
            attn = block.layer[1].EncDecAttention
            b, s, _ = hidden.shape
            # stored contiguous, keys already transposed: every step multiplies by them as they are
            # (a strided operand would be copied again at every step and layer)
            k = attn.k(hidden).view(b, s, attn.n_heads, attn.key_value_proj_dim).permute(0, 2, 3, 1)
            v = attn.v(hidden).view(b, s, attn.n_heads, attn.key_value_proj_dim).transpose(1, 2)
            self.cross_kv.append((k.contiguous(), v.contiguous()))                # [B,H,dk,S], [B,H,S,dk]
        # additive mask over encoder positions: [B, 1, 1, S]
        self.encoder_bias = torch.zeros(attention_mask.shape, dtype=hidden.dtype, device=hidden.device)
        self.encoder_bias = self.encoder_bias.masked_fill(attention_mask == 0, torch.finfo(hidden.dtype).min)
        self.encoder_bias = self.encoder_bias[:, None, None, :]

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, parents: torch.Tensor | None) -> torch.Tensor:
        """Next-token log-probabilities ``[B, W, V]`` after appending ``tokens [B, W]``.

        ``parents [B, W]`` says which beam of the previous call each beam continues
        (``None`` on the first call, which must pass the decoder start token). The
        self-attention keys/values of earlier positions are cached and reordered by
        ``parents``, so every call processes one new position per beam.
        """
        b, w = tokens.shape
        dec = self.decoder
        if parents is None:
            self.self_kv = [None] * len(dec.block)
        else:
            rows = (parents + torch.arange(b, device=parents.device).unsqueeze(1) * parents.new_tensor(self._width)).reshape(-1)
            self.self_kv = [(k[rows], v[rows]) for k, v in self.self_kv]
        self._width = w
        t = 1 if parents is None else self.self_kv[0][0].shape[2] + 1
        hidden = dec.embed_tokens(tokens.reshape(b * w, 1))                     # [BW, 1, d]
        first = dec.block[0].layer[0].SelfAttention
        self_bias = first.compute_bias(t, t, device=tokens.device)[:, :, -1:, :]  # [1, H, 1, t]
        for index, (block, (k_enc, v_enc)) in enumerate(zip(dec.block, self.cross_kv, strict=True)):
            self_layer, cross_layer, ff_layer = block.layer[0], block.layer[1], block.layer[2]
            # self-attention of the new position over this beam's cached positions
            attn = self_layer.SelfAttention
            x = self_layer.layer_norm(hidden)
            q, k, v = (_heads(proj(x), attn) for proj in (attn.q, attn.k, attn.v))   # [BW, H, 1, dk]
            if self.self_kv[index] is not None:
                k = torch.cat([self.self_kv[index][0], k], dim=2)
                v = torch.cat([self.self_kv[index][1], v], dim=2)
            self.self_kv[index] = (k, v)
            out = torch.softmax(q @ k.transpose(-1, -2) + self_bias, dim=-1) @ v
            hidden = hidden + attn.o(_merge(out))
            # cross-attention: the W beams of a user form one query block over its encoder output
            attn = cross_layer.EncDecAttention
            x = cross_layer.layer_norm(hidden).reshape(b, w, -1)
            q = _heads(attn.q(x), attn)                                          # [B, H, W, dk]
            out = torch.softmax(q @ k_enc + self.encoder_bias, dim=-1) @ v_enc
            hidden = hidden + attn.o(_merge(out)).reshape(b * w, 1, -1)
            hidden = hidden + ff_layer.DenseReluDense(ff_layer.layer_norm(hidden))
        last = dec.final_layer_norm(hidden[:, -1])                              # [BW, d]
        if self.scale_output:
            last = last * (self.model.model_dim ** -0.5)
        logits = self.model.lm_head(last)
        return F.log_softmax(logits.float(), dim=-1).reshape(b, w, -1)


def _heads(x: torch.Tensor, attn) -> torch.Tensor:
    """``[N, T, H*dk]`` -> ``[N, H, T, dk]``."""
    n, t, _ = x.shape
    return x.view(n, t, attn.n_heads, attn.key_value_proj_dim).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    """``[N, H, T, dk]`` -> ``[N, T, H*dk]``."""
    n, h, t, dk = x.shape
    return x.transpose(1, 2).reshape(n, t, h * dk)
