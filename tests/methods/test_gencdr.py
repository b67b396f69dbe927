"""GenCDR: the VIB term, adapter isolation, domain tries, cached decoding, and a tiny fit."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genrec_bench.data.multidomain import merge_domains
from genrec_bench.data.split import leave_last_out
from genrec_bench.data.types import ItemText, SequenceDataset, Sequences
from genrec_bench.errors import ConfigError
from genrec_bench.evaluation import Evaluator, Validator
from genrec_bench.generative.beam_search import beam_search
from genrec_bench.generative.semantic_ids import SemanticIds
from genrec_bench.generative.tokenizers import RQVAEConfig
from genrec_bench.generative.tokenizers.rq_vae import RQVAE
from genrec_bench.recommender import HistoryBatch
from genrec_bench.registry import get_method
from methods import gencdr


def test_vib_kl_on_a_hand_case():
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    kl = gencdr.gaussian_kl(mu, logvar)
    # row 0: 0.5 * [(1 + 1 - 1 - 0) + (0 + 2 - 1 - log 2)] = 1 - 0.5 log 2; row 1: N(0, I) itself
    assert kl[0].item() == pytest.approx(1 - 0.5 * math.log(2.0))
    assert kl[1].item() == 0.0


def test_vib_router_is_deterministic_in_eval_and_gates_in_unit_interval():
    torch.manual_seed(0)
    router = gencdr.VIBRouter(6, 8, 3).eval()
    x = torch.randn(5, 6)
    gate, kl = router(x)
    assert torch.equal(gate, router(x)[0]) and ((gate > 0) & (gate < 1)).all()
    assert (kl >= 0).all() and kl.shape == (5,)


def _tokenizer(n_domains: int = 2):
    torch.manual_seed(0)
    rqvae = RQVAE(12, RQVAEConfig(hidden=(16,), latent_dim=4, levels=2, codebook_size=8))
    cfg = gencdr.GenCDRTokenizerConfig(lora_r=2, lora_alpha=4, lora_dropout=0.0, adapter_epochs=3,
                                       adapter_lr=1e-2, router_hidden=8, router_bottleneck=2)
    return gencdr.build_domain_tokenizer(rqvae, n_domains, cfg, 12), cfg


def test_training_one_domain_adapter_leaves_the_other_domain_unchanged():
    tok, cfg = _tokenizer()
    x = torch.randn(40, 12)
    item_domain = np.array([-1] + [0] * 40)          # every training item is in domain 0
    # make both adapters non-trivial first (LoRA B starts at zero)
    with torch.no_grad():
        for d in (0, 1):
            for p in gencdr.adapter_parameters(tok.encoder, gencdr.adapter_name(d)):
                p.normal_(0, 0.1)
    before_b, before_a = tok.specific(x, 1).detach().clone(), tok.specific(x, 0).detach().clone()
    universal = tok.universal(x).detach().clone()
    gencdr.train_domain_tokenizer(tok, x, item_domain, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(tok.specific(x, 1), before_b)            # domain B untouched
    assert not torch.allclose(tok.specific(x, 0), before_a)     # domain A trained
    assert torch.equal(tok.universal(x), universal)             # universal encoder frozen
    assert all(not p.requires_grad for p in tok.rqvae.decoder.parameters())


def _ids_and_domains():
    # 6 items with 2-level codes + dedup; items 1-3 domain 0, items 4-6 domain 1, sharing prefixes
    codes = np.array([[0, 0, 0], [0, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 1], [1, 1, 0]])
    ids = SemanticIds(codes=codes, level_sizes=(2, 2, 2))
    return ids, np.array([-1, 0, 0, 0, 1, 1, 1])


def test_domain_tries_never_return_another_domains_item():
    ids, item_domain = _ids_and_domains()
    tries = gencdr.domain_tries(ids, item_domain, 2)
    torch.manual_seed(0)
    V = ids.vocab_size
    for d in (0, 1):
        logits = torch.randn(3, V)  # a decoder that strongly prefers arbitrary tokens

        def step(tokens, parents, logits=logits):
            return torch.log_softmax(logits, -1).unsqueeze(1).expand(-1, tokens.shape[1], -1)

        result = beam_search(step, batch_size=3, level_offsets=torch.from_numpy(ids.level_offsets),
                             level_sizes=ids.level_sizes, beam_width=10, trie=tries[d])
        got = result.items[result.items > 0]
        assert got.numel() == 3 * 3                              # all 3 items of the domain, per user
        assert (torch.from_numpy(item_domain)[got] == d).all()


def _domain(name: str, n_users: int, n_items: int, seed: int) -> SequenceDataset:
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n_users):
        start, length = rng.integers(0, n_items), rng.integers(4, 9)
        seqs.append([(start + t) % n_items + 1 for t in range(length)])
    return SequenceDataset(
        name=name, sequences=Sequences.from_lists(seqs), user_ids=np.array([f"u{u}" for u in range(n_users)]),
        item_ids=np.array(["<pad>"] + [f"i{i}" for i in range(1, n_items + 1)]),
        item_text=ItemText({"title": [""] + [f"{name} {i}" for i in range(1, n_items + 1)]}, False, "synthetic"))


def fit_tiny(method: str, domains: tuple[tuple[str, int, int], ...], overrides: dict | None = None,
             validator=None):
    """``(model, splits, report)`` of ``method`` (smoke profile) fitted on synthetic domains
    ``(name, users, items)`` with random item embeddings (no text encoder in tests).
    ``validator(splits)`` makes the validator ``fit`` selects epochs with (default: none)."""
    dataset = merge_domains([_domain(name, users, items, seed) for seed, (name, users, items) in enumerate(domains)])
    splits = leave_last_out(dataset)
    spec = get_method(method)
    model = spec.recommender(spec.make_config("smoke", overrides), seed=0)
    emb = np.random.default_rng(5).normal(size=(dataset.n_items + 1, 16)).astype(np.float32)
    emb[0] = 0
    model.item_embeddings = lambda splits: (emb, {"synthetic": True})
    report = model.fit(splits, None if validator is None else validator(splits))
    return model, splits, report


@pytest.fixture(scope="module")
def fitted():
    return fit_tiny("gencdr", (("a", 60, 25), ("b", 40, 15)))


def test_fit_runs_every_stage_and_recommends_only_in_domain(fitted):
    model, splits, report = fitted
    stages = [e["stage"] for e in report.epochs]
    assert stages == ["base", "universal", "domain:a", "domain:b", "router"]
    assert report.stopped_by == "max_epochs"
    assert any("Qwen2.5-7B" in note for note in report.notes)         # the record says what the LM is
    assert model.ids.is_unique() and model.ids.length == 4
    alphas = model.ids.diagnostics["alpha_per_domain"]          # the item router's alpha, per domain
    assert sorted(alphas) == ["a", "b"] and alphas["a"]["items"] == 25 and alphas["b"]["items"] == 15
    assert all(0 < a["q05"] <= a["q50"] <= a["q95"] < 1 and a["std"] >= 0 for a in alphas.values())
    test = splits.test
    top = model.recommend(HistoryBatch(users=test.users, sequences=test.histories), 20)
    items = top.items.numpy()
    item_domain, user_domain = splits.dataset.item_domain, splits.dataset.user_domain
    of_user = user_domain[test.users]
    sizes = np.bincount(item_domain[1:])                         # 25 and 15 items
    assert ((items > 0).sum(1) == np.minimum(20, sizes[of_user])).all()   # every domain item, up to 20
    filled = items > 0
    assert (item_domain[items][filled] == np.broadcast_to(of_user[:, None], items.shape)[filled]).all()
    scores = top.scores.numpy()
    assert ((scores[:, 1:] <= scores[:, :-1] + 1e-6) | np.isneginf(scores[:, 1:])).all()
    assert np.isneginf(scores[~filled]).all() and np.isfinite(scores[filled]).all()


def test_a_stage_cut_by_its_time_budget_is_reported():
    _, _, report = fit_tiny("gencdr", (("a", 30, 12), ("b", 20, 10)),
                            {"time_budget_s": "1e-9", "generator.base_epochs": "2"})
    assert [e["epoch"] for e in report.epochs if e["stage"] == "base"] == [1]   # stopped after one epoch
    assert report.stopped_by == "time_budget"


def test_cached_decoding_scores_are_the_item_level_mixture_of_full_forwards(fitted):
    model, splits, _ = fitted
    model = copy.deepcopy(model)
    with torch.no_grad():        # make P_spec differ from P_uni so the two mixtures differ
        for d in (0, 1):
            for p in gencdr.adapter_parameters(model.lm, gencdr.adapter_name(d)):
                p.normal_(0, 0.3, generator=torch.Generator().manual_seed(d))
    test = splits.test
    rows = np.array([0, 1, 70])                                  # users of both domains
    for r in rows:
        d = int(splits.dataset.user_domain[test.users[r]])
        seq = test.histories.select(np.array([r]))
        result = model._decode(seq, d, 5)
        gamma = model.gamma(seq, d)[0]
        ids, mask = model._history_tokens(seq)
        codes = result.codes[0, 0]
        tokens = torch.from_numpy(model.ids.level_offsets) + codes
        full = torch.cat([ids, tokens[None]], 1)
        full_mask = torch.cat([mask, torch.ones(1, len(tokens), dtype=torch.bool)], 1)
        logps = []
        for active in (model.experts, [*model.experts, gencdr.adapter_name(d)]):
            gencdr.set_active(model.lm, active)
            with torch.no_grad():
                logits = gencdr.lm_logits(model.lm, full, full_mask)
            lp = torch.log_softmax(logits[0, -len(tokens) - 1:-1].float(), -1)
            logps.append(lp.gather(1, tokens[:, None]).squeeze(1))
        # paper 4.2.2.3 mixes item probabilities: P(item) = (1 - g) P_uni(item) + g P_spec(item),
        # each the product of the item's code-token probabilities (not a product of mixed tokens)
        mixed = torch.log((1 - gamma) * logps[0].sum().exp() + gamma * logps[1].sum().exp())
        per_token = torch.log((1 - gamma) * logps[0].exp() + gamma * logps[1].exp()).sum()
        assert abs(mixed - per_token) > 1e-3                         # the two readings differ here
        # the beam score masks nothing on this path (every code is a valid continuation of the
        # chosen prefix), so it equals the unmasked item-level mixture
        assert result.scores[0, 0].item() == pytest.approx(mixed.item(), abs=1e-4)


def test_paper_profile_holds_the_papers_explicit_tokenizer_values():
    # paper section 5.4: RQ-VAE batch 512 for 100 epochs; item adapters LoRA rank 64, alpha 32,
    # dropout 0.05 (the reference code's 8192 x 3000 and 8/16/0.1 are the documented alternative)
    tok = get_method("gencdr").make_config("paper").tokenizer
    assert (tok.rqvae.batch_size, tok.rqvae.epochs) == (512, 100)
    assert (tok.lora_r, tok.lora_alpha, tok.lora_dropout) == (64, 32, 0.05)
    assert tok.adapter_epochs == 50 and tok.router_hidden == 128


@dataclass
class SpyValidator(Validator):
    """A validator that logs ``(metric, value)`` of every call (the log is shared by its
    subsets, which ``dataclasses.replace`` copies it into)."""

    calls: list = field(default_factory=list)

    def __call__(self, model) -> float:
        value = super().__call__(model)
        self.calls.append((self.metric, value, len(self.split)))
        return value


def _spy(splits, metric: str = "recall@10") -> SpyValidator:
    ds = splits.dataset
    evaluator = Evaluator(n_items=splits.n_items, item_domain=ds.item_domain, user_domain=ds.user_domain)
    return SpyValidator(evaluator, splits.valid, metric=metric)


SELECTING = {"generator.base_epochs": "3", "generator.phase1_epochs": "2", "generator.phase2_epochs": "2",
             "generator.router_epochs": "2", "patience": "5", "validation_users": "60"}


def test_every_stage_selects_its_epoch_on_validation_recall_at_10():
    spies = []
    model, splits, report = fit_tiny("gencdr", (("a", 50, 60), ("b", 40, 40)), SELECTING,
                                     validator=lambda splits: spies.append(_spy(splits)) or spies[0])
    calls = spies[0].calls
    # every epoch of every stage was validated with the metric the record names, on the subset
    assert [e["stage"] for e in report.epochs] == ["base"] * 3 + ["universal"] * 2 + ["domain:a"] * 2 \
        + ["domain:b"] * 2 + ["router"] * 2
    assert {metric for metric, _, _ in calls} == {"recall@10"} == {model.config.selection_metric}
    assert [value for _, value, _ in calls] == [e["valid"] for e in report.epochs]
    subset = report.extra["validation_subset"]
    assert subset["n_users"] == 60 and subset["metric"] == "recall@10"
    stages = {st["stage"]: st for st in report.extra["stages"]}
    user_domain = splits.dataset.user_domain[np.array(subset["users"])]
    assert stages["domain:a"]["validation_users"] == int((user_domain == 0).sum())
    assert stages["domain:b"]["validation_users"] == int((user_domain == 1).sum())
    for name, st in stages.items():     # each stage keeps the first epoch of its best value
        values = [e["valid"] for e in report.epochs if e["stage"] == name]
        assert st["best_epoch"] == 1 + int(np.argmax(values)) and st["best_valid"] == max(values)
        assert report.extra["selected_epoch_per_stage"][name] == st["best_epoch"]
    # the final model is the router stage's selected epoch, validated on every subset user
    assert (report.best_epoch, report.best_valid) == (stages["router"]["best_epoch"], stages["router"]["best_valid"])
    assert spies[0].on_subset(60, 0)(model) == pytest.approx(report.best_valid)


def test_a_validator_on_another_metric_than_the_configs_is_refused():
    with pytest.raises(ConfigError, match="recall@10"):
        fit_tiny("gencdr", (("a", 20, 10), ("b", 20, 10)), validator=lambda splits: _spy(splits, "ndcg@10"))


@dataclass
class ScriptedValidator(Validator):
    """Returns ``script[i]`` at its i-th call (shared by its subsets)."""

    script: list = field(default_factory=list)
    calls: list = field(default_factory=list)

    def __call__(self, model) -> float:
        self.calls.append(None)
        return self.script[len(self.calls) - 1]


def test_the_base_lm_trains_until_validation_stops_improving_and_leaves_the_budget_to_later_stages():
    overrides = {**SELECTING, "generator.base_epochs": "20", "patience": "2", "time_budget_s": "1e6",
                 "base_budget_share": "0.6"}
    script = [0.1, 0.3, 0.2, 0.25] + [0.5] * 40        # base: best at epoch 2, no gain at 3 and 4
    model, _, report = fit_tiny("gencdr", (("a", 30, 12), ("b", 20, 10)), overrides,
                                validator=lambda splits: ScriptedValidator(_spy(splits).evaluator, splits.valid,
                                                                           metric="recall@10", script=script))
    stages = report.extra["stages"]
    base = stages[0]
    assert base["stage"] == "base" and base["stopped_by"] == "patience" and base["best_epoch"] == 2
    assert len([e for e in report.epochs if e["stage"] == "base"]) == 4 and base["budget_s"] == 0.6e6
    # every later stage: what is left, shared in proportion to planned work (epochs x users)
    planned = [st["max_epochs"] * st["training_users"] for st in stages]
    spent = base["spent_s"]
    for i, st in enumerate(stages[1:], start=1):
        assert st["budget_s"] == pytest.approx((1e6 - spent) * planned[i] / sum(planned[i:]))
        spent += st["spent_s"]


def test_stage_budget_shares_what_is_left_by_planned_work():
    assert gencdr.stage_budget(100.0, 40.0, [2.0, 1.0]) == pytest.approx(40.0)
    assert gencdr.stage_budget(100.0, 40.0, [1.0]) == pytest.approx(60.0)
    assert gencdr.stage_budget(100.0, 130.0, [1.0, 1.0]) == 1e-9     # overspent: one epoch still runs
    with pytest.raises(ValueError):
        gencdr.stage_budget(100.0, 0.0, [0.0, 1.0])


class _LatentLookup(nn.Module):
    """A stand-in RQ-VAE for the router test: quantising is the identity and decoding puts the
    latent back in the embedding's layout (``[id, marker, latent]``)."""

    def quantize(self, z):
        return z, None, z.new_zeros(()), None

    def decoder(self, z):
        return F.pad(z, (2, 0))


@dataclass
class _GivenLatents(gencdr.DomainTokenizer):
    """A domain tokenizer whose universal and domain-specific latents are given per item (row
    id in column 0 of the embedding): only the item router can learn."""

    z_uni: torch.Tensor = None
    z_spec: torch.Tensor = None

    def _rows(self, x):
        return (x[:, 0] * 1e4).round().long()

    def universal(self, x):
        return self.z_uni[self._rows(x)]

    def specific(self, x, domain):
        return self.z_spec[self._rows(x)]


def test_a_domain_specific_signal_moves_the_item_routers_alpha():
    # half the items carry a domain-specific signal (a marker the router reads): for them the
    # domain latent reconstructs the item, for the others the universal one does; the gain of
    # routing is small (4e-4 per item), as on real embeddings, where a KL at full weight made
    # alpha one constant (0.503 in both domains)
    n, k = 2000, 16
    g = torch.Generator().manual_seed(0)
    signal = torch.rand(n, generator=g) < 0.5
    z_uni = torch.randn(n, k, generator=g) * 0.1
    z_spec = z_uni + 0.02 * torch.nn.functional.normalize(torch.randn(n, k, generator=g), dim=1)
    target = torch.where(signal[:, None], z_spec, z_uni)
    x = torch.cat([torch.arange(n)[:, None] * 1e-4, 0.3 * signal[:, None].float(), target], 1)
    cfg = gencdr.GenCDRTokenizerConfig(adapter_epochs=150, adapter_batch_size=256)   # default VIB settings
    torch.manual_seed(0)
    tok = _GivenLatents(rqvae=_LatentLookup(), encoder=nn.Identity(), n_domains=1, z_uni=z_uni, z_spec=z_spec,
                        router=gencdr.VIBRouter(x.shape[1], cfg.router_hidden, cfg.router_bottleneck))
    history = gencdr.train_domain_tokenizer(tok, x, np.array([-1] + [0] * n), cfg, torch.Generator().manual_seed(0))
    with torch.no_grad():
        alpha, _ = tok.router(x)
    assert alpha[signal].mean() - alpha[~signal].mean() > 0.5
    spread = gencdr.alpha_distribution(alpha)
    assert spread["std"] > 0.2 and spread["q95"] - spread["q05"] > 0.6
    assert history[-1]["vib_kl"] > 0.1                          # the router holds information


def test_the_router_reads_its_input_whatever_its_scale():
    # sentence embeddings have coordinates of about 0.05: standardised, they route as well as
    # the same directions at unit scale
    torch.manual_seed(0)
    router = gencdr.VIBRouter(32, 16, 4).eval()
    x = torch.nn.functional.normalize(torch.randn(6, 32), dim=1)
    assert torch.allclose(router(x)[0], router(20.0 * x)[0], atol=1e-5)


def test_alpha_distribution_on_a_hand_case():
    stats = gencdr.alpha_distribution(torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert stats["items"] == 5 and stats["mean"] == pytest.approx(0.5) and stats["q50"] == pytest.approx(0.5)
    assert stats["std"] == pytest.approx(math.sqrt(0.125)) and stats["q25"] == pytest.approx(0.25)
    assert stats["q05"] == pytest.approx(0.05) and stats["q95"] == pytest.approx(0.95)


def test_vib_penalty_spares_the_free_nats():
    kl = torch.tensor([0.5, 1.0, 3.0])
    assert gencdr.vib_penalty(kl, 0.1, 1.0).item() == pytest.approx(0.1 * 2.0 / 3)
    assert gencdr.vib_penalty(kl, 0.1, 0.0).item() == pytest.approx(0.1 * 4.5 / 3)


def test_the_user_router_is_trained_on_the_item_level_mixture(fitted):
    model, splits, _ = fitted
    model = copy.deepcopy(model)
    with torch.no_grad():        # make P_spec differ from P_uni so the two mixtures differ
        for p in gencdr.adapter_parameters(model.lm, gencdr.adapter_name(0)):
            p.normal_(0, 0.3, generator=torch.Generator().manual_seed(0))
    model.user_router.eval()
    train = splits.train
    rows = np.arange(4)                                         # users of domain "a"
    ids, mask = gencdr.sequence_batch(model.tokens, train, rows, train.lengths[rows], 4)
    L = model.ids.length
    with torch.no_grad():
        loss = model._router_loss(ids, mask, 0).item()
        gencdr.set_active(model.lm, model.experts)
        uni, hidden = gencdr.lm_logits(model.lm, ids, mask, hidden=True)
        gencdr.set_active(model.lm, [*model.experts, gencdr.adapter_name(0)])
        spec = gencdr.lm_logits(model.lm, ids, mask)
    item_terms, token_terms, kls = [], [], []
    for b in range(ids.shape[0]):
        for j in range((ids.shape[1] - 1) // L):
            span = range(1 + j * L, 1 + (j + 1) * L)            # the tokens of item j
            if not mask[b, span[0]]:
                continue
            gamma, kl = model.user_router(hidden[b, j * L][None])   # read at the end of its history
            lp_u = torch.stack([torch.log_softmax(uni[b, t - 1], -1)[ids[b, t]] for t in span])
            lp_s = torch.stack([torch.log_softmax(spec[b, t - 1], -1)[ids[b, t]] for t in span])
            item_terms.append(torch.log((1 - gamma) * lp_u.sum().exp() + gamma * lp_s.sum().exp()))
            token_terms.append(torch.log((1 - gamma) * lp_u.exp() + gamma * lp_s.exp()).sum())
            kls.append(kl)
    vib = model.config.generator.vib_weight * torch.cat(kls).mean()
    expected = -torch.cat(item_terms).mean() + vib
    assert loss == pytest.approx(expected.item(), rel=1e-4)
    assert abs(loss - (-torch.stack(token_terms).mean() + vib).item()) > 1e-3
