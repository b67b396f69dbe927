"""Every generative method's ``recommend`` honours the evaluator's ``exclude`` mask: no excluded
item comes back, and the lists are refilled (as many items as without the mask)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from genrec_bench.data.split import EvalSplit
from genrec_bench.data.types import Sequences
from genrec_bench.evaluation import EvalConfig, Evaluator
from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level
from genrec_bench.generative.seq2seq import SemanticIdSeq2Seq
from genrec_bench.generative.t5_generator import T5GeneratorConfig
from genrec_bench.recommender import HistoryBatch, accepts_exclude
from genrec_bench.registry import get_method
from tests.conftest import cyclic_splits_with_titles
from tests.methods.test_etegrec import TINY, built
from tests.methods.test_gencdr import fit_tiny

torch.set_num_threads(1)


def history_mask(batch: HistoryBatch, n_items: int, extra: torch.Tensor | None = None) -> torch.Tensor:
    """bool ``[B, n_items + 1]``: each user's history items (and ``extra``)."""
    mask = torch.zeros(len(batch), n_items + 1, dtype=torch.bool)
    rows = torch.from_numpy(np.repeat(np.arange(len(batch)), batch.sequences.lengths))
    mask[rows, torch.from_numpy(batch.sequences.items)] = True
    return mask if extra is None else mask | extra


def check_excluded_and_refilled(model, batch: HistoryBatch, n_items: int, k: int) -> None:
    assert accepts_exclude(model)
    plain = model.recommend(batch, k)
    # forbid each user's history and every item of the plain list: a filter would leave nothing
    extra = torch.zeros(len(batch), n_items + 1, dtype=torch.bool).scatter_(1, plain.items, True)
    extra[:, 0] = False
    exclude = history_mask(batch, n_items, extra)
    top = model.recommend(batch, k, exclude=exclude)
    assert not (exclude.gather(1, top.items) & (top.items != 0)).any()
    allowed = (~exclude[:, 1:]).sum(1)
    returned = torch.isfinite(top.scores).sum(1)
    assert (returned == torch.minimum(allowed, torch.full_like(allowed, k))).all()


def seq2seq(n_items: int = 40) -> SemanticIdSeq2Seq:
    rng = np.random.default_rng(0)
    codes, dedup = add_dedup_level(rng.integers(0, 4, size=(n_items, 2)))
    ids = SemanticIds(codes=np.vstack([np.zeros((1, 3), dtype=np.int64), codes]), level_sizes=(4, 4, max(dedup, 1)))
    torch.manual_seed(0)
    model = SemanticIdSeq2Seq(ids, T5GeneratorConfig(d_model=16, d_ff=32, num_layers=1, num_decoder_layers=1,
                                                     num_heads=2, d_kv=8, dropout=0.0), torch.device("cpu"))
    model.model.eval()
    return model


def a_batch(n_users: int, n_items: int, seed: int = 0) -> HistoryBatch:
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(1, n_items + 1, size=rng.integers(2, 7)).tolist() for _ in range(n_users)]
    return HistoryBatch(users=np.arange(n_users), sequences=Sequences.from_lists(seqs))


@pytest.mark.parametrize("method", ["tiger", "letter"])
def test_seq2seq_methods_prune_excluded_items_in_the_trie(method):
    spec = get_method(method)
    model = spec.recommender(spec.make_config("smoke"), seed=0)
    model.seq2seq = seq2seq(40)
    check_excluded_and_refilled(model, a_batch(6, 40), 40, k=10)


@pytest.mark.parametrize("constrained", [True, False])
def test_etegrec_prunes_in_the_trie_or_refuses_excluded_items_at_the_last_code(constrained):
    model = built(replace(TINY, constrained=constrained))
    model.net.eval()
    check_excluded_and_refilled(model, a_batch(6, 30), 30, k=8)


def test_the_evaluator_passes_the_history_mask_so_no_slot_is_left_empty():
    model = built(replace(TINY, constrained=True))
    batch = a_batch(20, 30, seed=1)
    split = EvalSplit(batch.users, batch.sequences, np.random.default_rng(2).integers(1, 31, 20))
    result = Evaluator(EvalConfig(mask_history=True), n_items=30).evaluate(model, split)
    assert result.empty_slots.sum() == 0
    in_history = history_mask(batch, 30).numpy()[np.arange(20)[:, None], result.lists]
    own_target = result.lists == split.targets[:, None]
    assert not (in_history & ~own_target).any()


def test_gencdr_prunes_excluded_items_in_each_domain_trie():
    model, splits, _ = fit_tiny("gencdr", (("a", 30, 25), ("b", 20, 15)))
    test = splits.test
    batch = HistoryBatch(users=test.users[:10], sequences=test.histories.select(np.arange(10)))
    check_excluded_and_refilled(model, batch, splits.n_items, k=5)


def test_flexcode_prunes_excluded_items_in_the_trie(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path))
    splits = cyclic_splits_with_titles()
    spec = get_method("flexcode")
    model = spec.recommender(spec.make_config("smoke", {"codebook_size": "4", "disambiguation_tokens": "64",
                                                        "training.max_epochs": "1"}), seed=0)
    model.fit(splits)
    batch = HistoryBatch(users=np.arange(6), sequences=splits.test.histories.select(np.arange(6)))
    check_excluded_and_refilled(model, batch, splits.n_items, k=5)
