"""Decoding speed at TIGER's paper size (``tox -e bench``): the suite's beam search against
transformers' ``generate`` with ``prefix_allowed_tokens_fn``, same model, same users.

The model is a paper-size T5 (4+4 layers, d_model 128, d_ff 1024, 6 heads x 64) over a
Beauty-sized catalogue (12,101 items, 3 x 256 codes + a disambiguation code); weights are
random (speed does not depend on them). Beam 20, top-20, histories of 20 items.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level
from genrec_bench.generative.seq2seq import SemanticIdSeq2Seq
from genrec_bench.generative.t5_generator import T5GeneratorConfig

N_ITEMS, USERS, BEAM = 12_101, 256, 20


@pytest.fixture(scope="module")
def paper_size():
    rng = np.random.default_rng(0)
    codes, dedup = add_dedup_level(rng.integers(0, 256, size=(N_ITEMS, 3)))
    ids = SemanticIds(codes=np.vstack([np.zeros((1, 4), dtype=np.int64), codes]), level_sizes=(256, 256, 256, dedup))
    torch.manual_seed(0)
    model = SemanticIdSeq2Seq(ids, T5GeneratorConfig(), torch.device("cpu"))
    model.model.eval()
    history = rng.integers(1, N_ITEMS + 1, size=(USERS, 20))
    return ids, model, history


def generate_baseline(ids, seq2seq, history):
    tokens = ids.tokens()[1:]
    allowed: dict[tuple, list[int]] = {}
    for t in range(tokens.shape[1]):
        prefixes, nxt = tokens[:, :t], tokens[:, t]
        for p, n in zip(map(tuple, prefixes), nxt, strict=True):
            allowed.setdefault((0, *p), set()).add(int(n))
    allowed = {k: sorted(v) for k, v in allowed.items()}
    input_ids, mask = seq2seq.encoder_inputs(history)
    with torch.no_grad():
        return seq2seq.model.generate(
            input_ids=input_ids, attention_mask=mask, num_beams=BEAM, num_return_sequences=BEAM,
            max_new_tokens=4, min_new_tokens=4, do_sample=False, length_penalty=0.0,
            prefix_allowed_tokens_fn=lambda b, sent: allowed.get(tuple(sent.tolist()), [1]))


def test_beam_search_is_10x_faster_than_generate(paper_size, benchmark):
    ids, seq2seq, history = paper_size
    if benchmark.disabled:
        pytest.skip("a timing comparison: run with tox -e bench (--benchmark-enable)")
    seq2seq.decode(history[:8], BEAM)                       # warm-up
    t0 = time.perf_counter()
    ours = seq2seq.decode(history, BEAM)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = generate_baseline(ids, seq2seq, history)
    t_generate = time.perf_counter() - t0
    same = (ours.codes + torch.from_numpy(ids.level_offsets)).reshape(USERS * BEAM, -1)
    agree = float((same == theirs[:, 1:]).all(dim=1).float().mean())
    benchmark.extra_info.update(ours_s=t_ours, generate_s=t_generate, speedup=t_generate / t_ours,
                                identical_beams=agree)
    benchmark.pedantic(lambda: None, rounds=1)
    print(f"\nours {t_ours:.2f} s, generate {t_generate:.2f} s, speed-up {t_generate / t_ours:.1f}x, "
          f"identical beams {agree:.3f}")
    assert agree > 0.99
    assert t_generate / t_ours >= 10


def test_all_beauty_test_users_at_paper_size(benchmark, real_data_root):
    """Evaluate all 22,363 Beauty test users with a paper-size TIGER (random weights, RQ-KMeans
    IDs of random vectors: decoding cost does not depend on either). Target: under 3 minutes."""
    if benchmark.disabled:
        pytest.skip("a timing measurement: run with tox -e bench (--benchmark-enable)")
    from genrec_bench.data import load_dataset
    from genrec_bench.data.split import leave_last_out
    from genrec_bench.evaluation import Evaluator
    from genrec_bench.recommender import Recommender, TopK

    splits = leave_last_out(load_dataset("amazon2014-beauty", real_data_root))
    rng = np.random.default_rng(0)
    codes, dedup = add_dedup_level(rng.integers(0, 256, size=(splits.n_items, 3)))
    ids = SemanticIds(codes=np.vstack([np.zeros((1, 4), dtype=np.int64), codes]), level_sizes=(256, 256, 256, dedup))
    torch.manual_seed(0)
    seq2seq = SemanticIdSeq2Seq(ids, T5GeneratorConfig(), torch.device("cpu"))

    class PaperSizeTiger(Recommender):
        name = "tiger-paper-size"

        def fit(self, splits, validator=None):
            raise NotImplementedError

        def recommend(self, histories, k):
            result = seq2seq.decode(histories.padded(20).numpy(), BEAM)
            return TopK(items=result.items[:, :k], scores=result.scores[:, :k])

    model = PaperSizeTiger(None)
    model.model = seq2seq.model
    t0 = time.perf_counter()
    result = Evaluator(n_items=splits.n_items).evaluate(model, splits.test)
    seconds = time.perf_counter() - t0
    benchmark.extra_info.update(seconds=seconds, users=len(result.ranks))
    benchmark.pedantic(lambda: None, rounds=1)
    print(f"\nall {len(result.ranks)} Beauty test users at paper size: {seconds:.1f} s")
    assert seconds < 180
