"""The T5 generator's config: paper defaults, validation of bad values (the error names the
field), and ``build_t5`` building a model with exactly the configured sizes and token ids."""

from __future__ import annotations

import pytest
import torch

from genrec_bench.errors import ConfigError
from genrec_bench.generative.t5_generator import T5GeneratorConfig, build_t5

torch.set_num_threads(1)


def test_defaults_are_tigers_backbone_as_used_by_letter():
    config = T5GeneratorConfig()
    assert (config.num_layers, config.num_decoder_layers) == (4, 4)
    assert (config.d_model, config.d_ff, config.num_heads, config.d_kv) == (128, 1024, 6, 64)
    assert config.dropout == 0.1 and config.relative_attention_num_buckets == 32
    assert config.feed_forward_proj == "relu"


def test_default_model_has_the_paper_sizes():
    model = build_t5(T5GeneratorConfig(), vocab_size=30)
    hf = model.config
    assert (hf.num_layers, hf.num_decoder_layers, hf.d_model, hf.d_ff, hf.num_heads, hf.d_kv) == \
        (4, 4, 128, 1024, 6, 64)
    assert len(model.encoder.block) == 4 and len(model.decoder.block) == 4
    attention = model.encoder.block[0].layer[0].SelfAttention
    assert attention.n_heads == 6 and attention.key_value_proj_dim == 64
    assert attention.q.weight.shape == (6 * 64, 128)                  # inner dim 384 != d_model: allowed in T5
    feed_forward = model.encoder.block[0].layer[1].DenseReluDense
    assert feed_forward.wi.weight.shape == (1024, 128) and isinstance(feed_forward.act, torch.nn.ReLU)
    assert model.shared.weight.shape == (30, 128) and model.lm_head.weight.shape == (30, 128)


def test_built_model_follows_a_non_default_config():
    config = T5GeneratorConfig(d_model=24, d_ff=40, num_layers=3, num_decoder_layers=1, num_heads=2, d_kv=8,
                               dropout=0.0, relative_attention_num_buckets=16, feed_forward_proj="gated-gelu")
    model = build_t5(config, vocab_size=17)
    hf = model.config
    assert (hf.vocab_size, hf.d_model, hf.d_ff, hf.num_layers, hf.num_decoder_layers, hf.num_heads, hf.d_kv) == \
        (17, 24, 40, 3, 1, 2, 8)
    assert hf.dropout_rate == 0.0 and hf.relative_attention_num_buckets == 16
    assert len(model.encoder.block) == 3 and len(model.decoder.block) == 1
    cross = model.decoder.block[0].layer[1].EncDecAttention
    assert cross.q.weight.shape == (2 * 8, 24)
    gated = model.encoder.block[0].layer[1].DenseReluDense
    assert gated.wi_0.weight.shape == (40, 24) and gated.wi_1.weight.shape == (40, 24)
    assert model.encoder.block[0].layer[0].SelfAttention.relative_attention_num_buckets == 16


def test_token_ids_match_the_semantic_id_layout_and_output_is_tied():
    model = build_t5(T5GeneratorConfig(d_model=16, d_ff=32, num_layers=1, num_decoder_layers=1, num_heads=2,
                                       d_kv=8), vocab_size=12)
    hf = model.config
    assert (hf.pad_token_id, hf.eos_token_id, hf.decoder_start_token_id) == (0, 1, 0)
    assert hf.tie_word_embeddings is True
    assert model.lm_head.weight.data_ptr() == model.shared.weight.data_ptr()
    inputs = torch.tensor([[3, 4, 5, 0]])
    logits = model(input_ids=inputs, attention_mask=(inputs > 0).long(),
                   decoder_input_ids=torch.tensor([[0, 7]])).logits
    assert logits.shape == (1, 2, 12)


@pytest.mark.parametrize(("field", "value"), [
    ("d_model", 0), ("d_ff", -4), ("num_layers", 1.5), ("num_decoder_layers", 0), ("num_heads", True),
    ("d_kv", 0), ("relative_attention_num_buckets", 0), ("dropout", 1.5), ("dropout", -0.1), ("dropout", 1.0),
    ("feed_forward_proj", "foo"),
])
def test_bad_values_raise_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"T5GeneratorConfig\.{field} "):
        T5GeneratorConfig(**{field: value})


@pytest.mark.parametrize("activation", ["relu", "gelu", "gated-gelu", "gated-silu"])
def test_every_accepted_activation_builds(activation):
    model = build_t5(T5GeneratorConfig(d_model=8, d_ff=16, num_layers=1, num_decoder_layers=1, num_heads=1,
                                       d_kv=8, feed_forward_proj=activation), vocab_size=5)
    assert model.config.feed_forward_proj == activation
