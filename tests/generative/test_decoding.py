"""The trie-constrained beam search against exhaustive enumeration and transformers' generate."""


import numpy as np
import pytest
import torch

from genrec_bench.generative.beam_search import beam_search
from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level
from genrec_bench.generative.t5_generator import SharedEncoderDecoder, T5GeneratorConfig, build_t5
from genrec_bench.generative.trie import PrefixTrie

LEVELS = (4, 3, 5)


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n_items = 25
    base = rng.integers(0, [4, 3], size=(n_items, 2))
    codes, dedup = add_dedup_level(base)
    ids = SemanticIds(codes=np.vstack([np.zeros((1, 3), dtype=np.int64), codes]), level_sizes=(4, 3, max(dedup, 1)))
    model = build_t5(T5GeneratorConfig(d_model=32, d_ff=64, num_layers=2, num_decoder_layers=2,
                                       num_heads=2, d_kv=16, dropout=0.0), ids.vocab_size).eval()
    inputs = torch.from_numpy(rng.integers(2, ids.vocab_size, size=(6, 9)))
    mask = torch.ones_like(inputs)
    mask[2, 6:] = 0
    inputs[2, 6:] = 0
    return ids, model, inputs, mask


def item_log_probs(model, ids, inputs, mask):
    """Exhaustive: teacher-forced log-probability of every item's token sequence. [B, n_items]"""
    tokens = torch.from_numpy(ids.tokens()[1:])                     # [n, L]
    b, n = inputs.shape[0], tokens.shape[0]
    labels = tokens.unsqueeze(0).expand(b, -1, -1).reshape(b * n, -1)
    with torch.no_grad():
        out = model(input_ids=inputs.repeat_interleave(n, 0), attention_mask=mask.repeat_interleave(n, 0),
                    labels=labels)
        lp = torch.log_softmax(out.logits, -1).gather(2, labels.unsqueeze(-1)).squeeze(-1).sum(-1)
    return lp.reshape(b, n)


def test_shared_encoder_step_matches_the_model_forward(setup):
    ids, model, inputs, mask = setup
    dec = SharedEncoderDecoder(model)
    dec.encode(inputs, mask)
    prefix = torch.tensor([[0, 5, 9], [0, 3, 7]]).unsqueeze(0).expand(6, -1, -1).contiguous()   # [B, W=2, T=3]
    # first call: one beam with the start token; then two beams that both continue beam 0,
    # then each continues itself (parents are reordered through the cache)
    dec.step(prefix[:, :1, 0], None)
    dec.step(prefix[:, :, 1], torch.zeros(6, 2, dtype=torch.long))
    got = dec.step(prefix[:, :, 2], torch.tensor([[0, 1]] * 6))
    with torch.no_grad():
        for w in range(2):
            logits = model(input_ids=inputs, attention_mask=mask, decoder_input_ids=prefix[:, w]).logits[:, -1]
            torch.testing.assert_close(got[:, w], torch.log_softmax(logits, -1), atol=1e-5, rtol=1e-5)


def test_trie_beam_search_equals_exhaustive_enumeration(setup):
    ids, model, inputs, mask = setup
    dec = SharedEncoderDecoder(model)
    dec.encode(inputs, mask)
    trie = PrefixTrie.build(ids.codes[1:], ids.level_sizes)
    k = 10
    result = beam_search(dec.step, batch_size=inputs.shape[0], level_offsets=torch.from_numpy(ids.level_offsets),
                         level_sizes=ids.level_sizes, beam_width=ids.n_items, trie=trie)
    exhaustive = item_log_probs(model, ids, inputs, mask)
    top_scores, top_items = torch.topk(exhaustive, k, dim=1)
    # with beam width = catalogue size the search is exact
    assert torch.equal(result.items[:, :k], top_items + 1)
    torch.testing.assert_close(result.scores[:, :k], top_scores, atol=1e-4, rtol=1e-5)


def test_trie_never_returns_an_invalid_id():
    torch.manual_seed(1)
    codes = np.array([[0, 1], [0, 2], [3, 0]])
    trie = PrefixTrie.build(codes, (4, 3))

    def uniform(tokens, parents):
        return torch.log_softmax(torch.randn(tokens.shape[0], tokens.shape[1], 2 + 7), -1)

    res = beam_search(uniform, batch_size=3, level_offsets=torch.tensor([2, 6]), level_sizes=(4, 3),
                      beam_width=5, trie=trie)
    valid = {(0, 1), (0, 2), (3, 0)}
    for b in range(3):
        finite = torch.isfinite(res.scores[b])
        assert int(finite.sum()) == 3     # only three items exist
        assert {tuple(c) for c in res.codes[b][finite].tolist()} == valid
        assert sorted(res.items[b][finite].tolist()) == [1, 2, 3]
        assert (res.items[b][~finite] == 0).all()


def test_duplicate_ids_are_refused_by_the_trie():
    with pytest.raises(ValueError, match="disambiguation"):
        PrefixTrie.build(np.array([[0, 1], [0, 1]]), (2, 2))


def test_matches_transformers_generate_with_prefix_allowed_tokens_fn(setup):
    ids, model, inputs, mask = setup
    tokens = ids.tokens()[1:]
    allowed = {}
    for row in tokens:
        for t in range(len(row)):
            allowed.setdefault((0,) + tuple(row[:t]), set()).add(int(row[t]))

    def prefix_allowed(batch_id, sent):
        return sorted(allowed.get(tuple(sent.tolist()), {1}))

    width = 8
    with torch.no_grad():
        gen = model.generate(input_ids=inputs, attention_mask=mask, num_beams=width, num_return_sequences=width,
                             max_new_tokens=3, min_new_tokens=3, prefix_allowed_tokens_fn=prefix_allowed,
                             output_scores=True, return_dict_in_generate=True, do_sample=False,
                             length_penalty=0.0, early_stopping=True)
    dec = SharedEncoderDecoder(model)
    dec.encode(inputs, mask)
    ours = beam_search(dec.step, batch_size=inputs.shape[0], level_offsets=torch.from_numpy(ids.level_offsets),
                       level_sizes=ids.level_sizes, beam_width=width, trie=PrefixTrie.build(ids.codes[1:], ids.level_sizes))
    hf_seqs = gen.sequences[:, 1:].reshape(inputs.shape[0], width, -1)
    hf_scores = gen.sequences_scores.reshape(inputs.shape[0], width)
    ours_tokens = ours.codes + torch.from_numpy(ids.level_offsets)
    assert torch.equal(ours_tokens, hf_seqs)
    torch.testing.assert_close(ours.scores, hf_scores, atol=1e-4, rtol=1e-5)


def test_dedup_level_makes_ids_unique():
    codes = np.array([[1, 2], [1, 2], [0, 0], [1, 2]])
    out, size = add_dedup_level(codes)
    assert out[:, 2].tolist() == [0, 1, 0, 2] and size == 3
    assert np.unique(out, axis=0).shape[0] == 4


def test_excluded_items_are_pruned_in_the_trie_and_the_beams_refilled(setup):
    ids, model, inputs, mask = setup
    dec = SharedEncoderDecoder(model)
    dec.encode(inputs, mask)
    trie = PrefixTrie.build(ids.codes[1:], ids.level_sizes)
    exhaustive = item_log_probs(model, ids, inputs, mask)            # [B, n_items]
    # each user may not receive their 8 best items, nor (user 0) a whole first-level branch
    exclude = torch.zeros(inputs.shape[0], ids.n_items + 1, dtype=torch.bool)
    exclude.scatter_(1, torch.topk(exhaustive, 8, dim=1).indices + 1, True)
    exclude[0, 1:] |= torch.from_numpy(ids.codes[1:, 0] == 0)
    k = 5
    result = beam_search(dec.step, batch_size=inputs.shape[0], level_offsets=torch.from_numpy(ids.level_offsets),
                         level_sizes=ids.level_sizes, beam_width=k, trie=trie, exclude=exclude)
    assert not exclude.gather(1, result.items).any()
    assert (result.items != 0).all()                                # k valid, allowed items: refilled
    # with beam width = catalogue size it is the exhaustive top-k of the allowed items
    wide = beam_search(dec.step, batch_size=inputs.shape[0], level_offsets=torch.from_numpy(ids.level_offsets),
                       level_sizes=ids.level_sizes, beam_width=ids.n_items, trie=trie, exclude=exclude)
    allowed = exhaustive.masked_fill(exclude[:, 1:], -torch.inf)
    assert torch.equal(wide.items[:, :k], torch.topk(allowed, k, dim=1).indices + 1)
    n_allowed = (~exclude[:, 1:]).sum(1)
    assert ((wide.items != 0).sum(1) == n_allowed).all()            # nothing else survives


def test_unconstrained_search_refuses_excluded_items_at_the_last_step(setup):
    ids, model, inputs, mask = setup
    dec = SharedEncoderDecoder(model)
    dec.encode(inputs, mask)
    trie = PrefixTrie.build(ids.codes[1:], ids.level_sizes)
    plain = beam_search(dec.step, batch_size=inputs.shape[0], level_offsets=torch.from_numpy(ids.level_offsets),
                        level_sizes=ids.level_sizes, beam_width=6, trie=None, code_to_item=trie.lookup)
    exclude = torch.zeros(inputs.shape[0], ids.n_items + 1, dtype=torch.bool)
    exclude.scatter_(1, plain.items, True)
    exclude[:, 0] = False
    again = beam_search(dec.step, batch_size=inputs.shape[0], level_offsets=torch.from_numpy(ids.level_offsets),
                        level_sizes=ids.level_sizes, beam_width=6, trie=None, code_to_item=trie.lookup,
                        exclude=exclude)
    assert not (exclude.gather(1, again.items) & (again.items != 0)).any()
    assert torch.isfinite(again.scores).all()                       # six beams still come back


def test_trie_parents_invert_the_children_tables():
    codes = np.array([[0, 1, 0], [0, 2, 1], [3, 0, 0], [3, 0, 2]])
    trie = PrefixTrie.build(codes, (4, 3, 3))
    for d, table in enumerate(trie.children):
        for parent, row in enumerate(table.tolist()):
            for child in row:
                if child >= 0:
                    assert int(trie.parents[d][child]) == parent
