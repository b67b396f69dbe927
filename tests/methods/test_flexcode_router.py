"""FlexCode's router learns from generation: on a synthetic catalogue whose head items'
collaborative codes are predictable from the history and whose tail items' semantic codes
are, the trained router gives the head more collaborative tokens than the tail."""

from __future__ import annotations

import types

import numpy as np

import methods.flexcode as flexcode
from genrec_bench.data.split import SequenceSplits, leave_last_out
from genrec_bench.data.types import SequenceDataset, Sequences
from genrec_bench.registry import get_method

GROUP = 4                       # items per group; the next item is drawn uniformly from the next group
HEAD_GROUPS, TAIL_GROUPS = 4, 12
CODES = 8                       # codes per level of both codebooks


def _walks(rng: np.random.Generator, first_item: int, n_groups: int, n_users: int,
           lengths: tuple[int, int]) -> list[list[int]]:
    """Users walking groups ``g -> g + 1 (mod n_groups)``, a uniform item of each group."""
    seqs = []
    for _ in range(n_users):
        g = int(rng.integers(n_groups))
        seq = []
        for _ in range(int(rng.integers(*lengths))):
            seq.append(first_item + g * GROUP + int(rng.integers(GROUP)))
            g = (g + 1) % n_groups
        seqs.append(seq)
    return seqs


def popularity_split_catalogue(seed: int = 0) -> tuple[SequenceSplits, flexcode.DualCodes, np.ndarray]:
    """(splits, codes, head mask ``[n_items + 1]``). Head items (16, about 150 training
    interactions each) share collaborative codes within their group, ``(g, g)``, and have
    random semantic codes; tail items (48, about 12 each) share semantic codes within their
    group and have random collaborative codes. The next item's group follows from the last
    one, so a head target's collaborative codes and a tail target's semantic codes are
    predictable, and the other codebook's are a draw among the group's items."""
    rng = np.random.default_rng(seed)
    n_head, n_tail = HEAD_GROUPS * GROUP, TAIL_GROUPS * GROUP
    seqs = _walks(rng, 1, HEAD_GROUPS, 300, (7, 10)) + _walks(rng, 1 + n_head, TAIL_GROUPS, 100, (5, 8))
    n_items = n_head + n_tail
    dataset = SequenceDataset(name="popularity-split", sequences=Sequences.from_lists(seqs),
                              user_ids=np.array([f"u{u}" for u in range(len(seqs))]),
                              item_ids=np.array(["<pad>"] + [f"i{i}" for i in range(1, n_items + 1)]),
                              provenance={"source": "synthetic head/tail walks"})
    head_group = np.repeat(np.arange(HEAD_GROUPS), GROUP)
    tail_group = np.repeat(np.arange(TAIL_GROUPS), GROUP)
    cf = np.vstack([np.stack([head_group, head_group], axis=1), rng.integers(CODES, size=(n_tail, 2))])
    sem = np.vstack([rng.integers(CODES, size=(n_head, 2)),
                     np.stack([tail_group % CODES, tail_group // CODES], axis=1)])
    pad = np.zeros((1, 2), dtype=np.int64)
    codes = flexcode.DualCodes(collaborative=np.vstack([pad, cf]).astype(np.int64),
                               semantic=np.vstack([pad, sem]).astype(np.int64), diagnostics={})
    head = np.zeros(n_items + 1, dtype=bool)
    head[1:1 + n_head] = True
    return leave_last_out(dataset), codes, head


def fit_on_catalogue(monkeypatch, tmp_path, overrides: dict[str, str]):
    """A ``flexcode`` fit (smoke generator) on the catalogue, its codebooks replaced by its codes."""
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path))
    splits, codes, head = popularity_split_catalogue()
    n = splits.n_items
    table = np.random.default_rng(1).normal(size=(n + 1, 8))
    monkeypatch.setattr(flexcode, "dataset_text_embeddings", lambda *a, **k: (np.zeros((n + 1, 4)), {}))
    monkeypatch.setattr(flexcode, "collaborative_item_embeddings",
                        lambda *a, **k: types.SimpleNamespace(table=table, info={"cache_file": "stub"}))
    monkeypatch.setattr(flexcode, "build_dual_codes", lambda *a, **k: codes)
    spec = get_method("flexcode")
    config = spec.make_config("smoke", {"budget": "2", "codebook_size": str(CODES), "disambiguation_tokens": "64",
                                        "popularity_bins": "4", **overrides})
    model = spec.recommender(config, device="cpu", seed=0)
    report = model.fit(splits, None)
    return model, report, head


def test_router_gives_head_bins_more_collaborative_tokens_than_tail_bins(monkeypatch, tmp_path):
    model, report, head = fit_on_catalogue(monkeypatch, tmp_path, {
        "router_epochs": "12", "training.max_epochs": "12", "training.training_prefixes": "all",
        "training.lr": "3e-3"})
    n_cf = model.n_cf.cpu().numpy()
    head_tokens, tail_tokens = n_cf[head[1:]].mean(), n_cf[~head[1:]].mean()
    bins = report.extra["allocation"]                                 # least popular first
    assert bins[-1]["mean_collaborative_tokens"] - bins[0]["mean_collaborative_tokens"] >= 0.5
    assert head_tokens - tail_tokens >= 0.5
