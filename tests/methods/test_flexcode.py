"""FlexCode: its losses on hand-checked cases (the load balance across popularity bins
included), the router's features, the token layout, the allocation's contract (rounding,
hysteresis, exact 0/1 masks in training as at inference with a straight-through gradient,
masked tokens out of attention), the IDs validation and test decode (the selected epoch's,
also after a resume), the variants, and a tiny fit + recommend."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from genrec_bench.evaluation import Evaluator, Validator
from genrec_bench.generative.semantic_ids import N_SPECIAL
from genrec_bench.recommender import HistoryBatch
from genrec_bench.registry import get_method
from methods.flexcode import (
    DualCodes,
    FlexVocabulary,
    PopularityRouter,
    cross_codebook_alignment,
    hard_allocation,
    local_smoothness,
    soft_token_masks,
    stratified_load_balance,
)
from tests.conftest import cyclic_splits_with_titles


def test_cross_codebook_alignment_hand_case():
    eye = torch.eye(2)
    # cosine logits / 0.5: positive 2, negative 0 -> -log(e^2 / (e^2 + 1))
    assert cross_codebook_alignment(eye, eye, 0.5).item() == pytest.approx(math.log(1 + math.exp(-2)))
    assert cross_codebook_alignment(eye, eye.flip(0), 0.5).item() == pytest.approx(math.log(1 + math.exp(2)))


def test_soft_masks_hand_case_and_limit():
    cf, sem = soft_token_masks(torch.tensor([0.5]), budget=2, sharpness=0.25)
    # alpha L = 1: t=1 -> sigmoid(0.5 / 0.25), t=2 -> sigmoid(-0.5 / 0.25); the same for semantic
    expected = torch.sigmoid(torch.tensor([2.0, -2.0]))
    assert torch.allclose(cf[0], expected) and torch.allclose(sem[0], expected)
    cf, sem = soft_token_masks(torch.tensor([1.0, 0.0]), budget=3, sharpness=0.01)
    assert torch.allclose(cf, torch.tensor([[1.0, 1, 1], [0, 0, 0]]), atol=1e-6)
    assert torch.allclose(sem, torch.tensor([[0.0, 0, 0], [1, 1, 1]]), atol=1e-6)


def test_hard_allocation_rounds_alpha_L_halves_up():
    alpha = torch.tensor([0.0, 0.16, 0.17, 0.5, 0.83, 0.84, 1.0])
    # alpha L = 0, 0.48, 0.51, 1.5, 2.49, 2.52, 3
    assert hard_allocation(alpha, 3).tolist() == [0, 0, 1, 2, 2, 3, 3]
    assert hard_allocation(torch.tensor([0.5]), 4).item() == 2
    for budget in (3, 4, 5, 6):
        n_cf = hard_allocation(torch.linspace(0, 1, 101), budget)
        assert n_cf.dtype == torch.int64 and n_cf.min() == 0 and n_cf.max() == budget
        assert torch.all(n_cf[1:] >= n_cf[:-1])                    # monotone in alpha


@pytest.mark.parametrize("budget", [3, 4])
def test_an_items_id_takes_n_cf_collaborative_and_budget_minus_n_cf_semantic_codes(budget):
    """Position codes below ``K`` are collaborative, the others semantic (``FlexVocabulary``)."""
    k = 5
    rng = np.random.default_rng(0)
    codes = DualCodes(collaborative=rng.integers(k, size=(7, budget)), semantic=rng.integers(k, size=(7, budget)),
                      diagnostics={})
    vocab = FlexVocabulary(budget=budget, codebook_size=k, disambiguation=8)
    for n in range(budget + 1):
        position = vocab.item_position_codes(codes, np.full(6, n))
        assert ((position < k).sum(1) == n).all()
        assert (position[:, :n] == codes.collaborative[1:, :n]).all()
        assert (position[:, n:] % k == codes.semantic[1:, :budget - n]).all()          # semantic levels 0..L-n-1


def test_router_gradient_reaches_alpha_through_the_soft_masks():
    torch.manual_seed(0)
    router = PopularityRouter(4, 8, 1.0)
    features = torch.randn(5, 4)
    alpha = router(features)[:, 0]
    cf, sem = soft_token_masks(alpha, budget=3, sharpness=0.25)
    token_embeddings = torch.randn(5, 6, 16)                        # an item's 2L token embeddings
    weighted = token_embeddings * torch.cat([cf, sem], dim=1).unsqueeze(-1)
    weighted.pow(2).sum().backward()                                # any loss downstream of the masks
    grads = [p.grad for p in router.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_load_balance_is_one_when_balanced_and_larger_when_collapsed():
    bins = torch.tensor([0, 0, 1, 1])
    balanced = torch.tensor([[0.9, 0.1], [0.1, 0.9], [0.8, 0.2], [0.2, 0.8]])
    assert stratified_load_balance(balanced, bins, 2).item() == pytest.approx(1.0)
    collapsed = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1]])
    assert stratified_load_balance(collapsed, bins, 2).item() == pytest.approx(2 * 0.9)


def _probs(alpha: torch.Tensor) -> torch.Tensor:
    return torch.stack([alpha, 1 - alpha], dim=1)


def test_load_balance_does_not_penalise_head_on_collaborative_and_tail_on_semantic():
    bins = torch.arange(5).repeat_interleave(20)                       # bin 0 = least popular
    paper_like = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9]).repeat_interleave(20)
    uniform = torch.full((100,), 0.5)
    assert stratified_load_balance(_probs(paper_like), bins, 5) <= stratified_load_balance(_probs(uniform), bins, 5) + 1e-6
    everything_collaborative = torch.full((100,), 0.9)                 # the global balance still binds
    assert stratified_load_balance(_probs(everything_collaborative), bins, 5).item() == pytest.approx(1.8)


def test_balance_and_smoothness_alone_keep_a_popularity_dependent_allocation():
    """From a paper-like allocation (alpha 0.1 in the tail up to 0.9 at the head), gradient
    descent on ``L_lb + L_smooth`` alone must not pull every bin to alpha = 1/2."""
    n, n_bins = 100, 5
    order = torch.arange(n)                                            # item i is the i-th least popular
    bins = order * n_bins // n
    logits = torch.linspace(-2.2, 2.2, n).requires_grad_()
    optimizer = torch.optim.SGD([logits], lr=1.0)
    for _ in range(500):
        alpha = torch.sigmoid(logits)
        loss = stratified_load_balance(_probs(alpha), bins, n_bins) + local_smoothness(alpha, order)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    alpha = torch.sigmoid(logits).detach()
    means = torch.stack([alpha[bins == b].mean() for b in range(n_bins)])
    assert means[-1] - means[0] > 0.5
    assert (means - 0.5).abs().max() > 0.25


def test_allocation_distribution_is_binomial_with_mean_alpha_L():
    from methods.flexcode import allocation_distribution
    alpha = torch.tensor([0.0, 0.25, 0.5, 1.0])
    p = allocation_distribution(alpha, 3)
    assert torch.allclose(p.sum(1), torch.ones(4))
    assert torch.allclose(p[1], torch.tensor([27, 27, 9, 1]) / 64.0)
    assert torch.allclose(p @ torch.arange(4.0), 3 * alpha)
    assert p[0].tolist() == [1, 0, 0, 0] and p[3].tolist() == [0, 0, 0, 1]


def test_hysteresis_keeps_an_id_near_the_rounding_boundary():
    from methods.flexcode import hysteresis_allocation
    previous = torch.tensor([1, 1, 1, 2])
    alpha = torch.tensor([0.55, 0.60, 0.30, 0.05]) / 1.0               # alpha L = 1.65, 1.8, 0.9, 0.15
    assert hysteresis_allocation(alpha, previous, 3, 0.25).tolist() == [1, 2, 1, 0]
    assert hysteresis_allocation(alpha, previous, 3, 0.0).tolist() == [2, 2, 1, 0]


def test_router_features_carry_distinct_information():
    """No feature is a linear function of another after standardisation (the old inverse
    density log(N / (1 + c)) was exactly minus the popularity)."""
    from genrec_bench.data.split import leave_last_out
    from genrec_bench.data.types import SequenceDataset, Sequences
    from methods.flexcode import ROUTER_FEATURES, item_features
    rng = np.random.default_rng(0)
    n_items = 40
    weights = 1.0 / np.arange(1, n_items + 1)
    seqs = [list(rng.choice(np.arange(1, n_items + 1), size=int(rng.integers(4, 12)), p=weights / weights.sum()))
            for _ in range(300)]
    dataset = SequenceDataset(name="zipf", sequences=Sequences.from_lists(seqs),
                              user_ids=np.array([f"u{u}" for u in range(300)]),
                              item_ids=np.array(["<pad>"] + [f"i{i}" for i in range(1, n_items + 1)]))
    splits = leave_last_out(dataset)
    features = item_features(splits, rng.normal(size=(n_items + 1, 8)))
    assert features.shape == (n_items + 1, len(ROUTER_FEATURES)) and not features[0].any()
    corr = np.corrcoef(features[1:].T)
    assert np.abs(corr[~np.eye(len(ROUTER_FEATURES), dtype=bool)]).max() < 0.95


def test_local_smoothness_hand_case():
    alpha = torch.tensor([0.0, 1.0, 0.5])
    order = torch.tensor([0, 2, 1])                                  # popularity order: 0, 2, 1
    assert local_smoothness(alpha, order).item() == pytest.approx((0.25 + 0.25) / 2)


def test_vocabulary_layout_hand_case():
    vocab = FlexVocabulary(budget=3, codebook_size=4, disambiguation=5)
    assert vocab.level_sizes == (8, 12, 16, 5)
    assert vocab.vocab_size == N_SPECIAL + 2 * 3 * 4 + 5
    codes = DualCodes(collaborative=np.array([[0, 0, 0], [1, 2, 3]]), semantic=np.array([[0, 0, 0], [0, 1, 2]]),
                      diagnostics={})
    # n_cf = 1: CF level 0 code 1, then SEM level 0 code 0, SEM level 1 code 1
    assert vocab.item_position_codes(codes, np.array([1])).tolist() == [[1, 4 * 1 + 0, 4 * 2 + 1]]
    assert vocab.item_position_codes(codes, np.array([3])).tolist() == [[1, 2, 3]]
    assert vocab.item_position_codes(codes, np.array([0])).tolist() == [[4, 9, 14]]
    tokens = vocab.position_tokens()
    assert tokens[1][4].item() == vocab.sem_token(0, 0) and tokens[2][9].item() == vocab.sem_token(1, 1)
    assert tokens[0][1].item() == vocab.cf_token(0, 1)
    every = torch.cat([tokens[p] for p in range(3)]).unique()
    assert every.min() >= N_SPECIAL and every.max() < N_SPECIAL + 2 * 3 * 4   # codes never hit the dedup range


def test_variants_differ_from_flexcode_only_in_their_switch():
    for profile in ("smoke", "cpu", "paper"):
        full = get_method("flexcode").make_config(profile)
        assert full.allocation == "learned"
        for name, changes in (("flexcode-sid-only", {"allocation": "semantic-only"}),
                              ("flexcode-cf-only", {"allocation": "collaborative-only"}),
                              ("flexcode-fix", {"allocation": "fixed"}),
                              ("flexcode-no-align", {"lambda_align": 0.0})):
            assert get_method(name).make_config(profile) == dataclasses.replace(full, **changes)


@pytest.mark.parametrize("method,precision,schedule", [("flexcode", "fp32", "constant"),
                                                       ("flexcode-sid-only", "fp32", "constant"),
                                                       ("flexcode", "bf16", "cosine")])
def test_tiny_flexcode_fits_with_unique_ids_and_recommends_valid_items(method, precision, schedule, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path))
    splits = cyclic_splits_with_titles()
    spec = get_method(method)
    model = spec.recommender(spec.make_config("smoke", {"codebook_size": "4", "disambiguation_tokens": "64",
                                                        "generator.train_precision": precision,
                                                        "training.lr_schedule": schedule, "training.patience": "2"}),
                             device="cpu", seed=0)
    report = model.fit(splits, Validator(Evaluator(n_items=splits.n_items), splits.valid))
    lrs = [e["lr"] for e in report.epochs]                    # smoke: 2 epochs at base 1e-3
    assert lrs == pytest.approx([1e-3, 5e-4] if schedule == "cosine" else [1e-3, 1e-3])
    assert np.unique(model.position_codes, axis=0).shape[0] == splits.n_items           # unique IDs
    n_cf = model.n_cf
    assert n_cf.dtype == torch.int64 and int(n_cf.min()) >= 0 and int(n_cf.max()) <= model.config.budget
    if method == "flexcode-sid-only":
        assert int(n_cf.max()) == 0
    bins = report.extra["allocation"]
    assert sum(b["items"] for b in bins) == splits.n_items
    assert all(sum(b["collaborative_tokens_histogram"]) == b["items"] for b in bins)
    top = model.recommend(HistoryBatch(users=np.arange(4), sequences=splits.test.histories.select(np.arange(4))), 10)
    assert ((top.items >= 1) & (top.items <= splits.n_items)).all()
    assert np.isfinite(Evaluator(n_items=splits.n_items).evaluate(model, splits.test).mean("ndcg@10"))


def test_dual_codebooks_restart_dead_codes_except_after_the_last_epoch():
    """10 items for 16 codes per level leave codes dead at every epoch: they are re-seeded after
    each epoch but the last, so the final codes use codewords the decoders trained with."""
    from methods.flexcode import FlexCodeConfig, train_dual_codebooks
    rng = np.random.default_rng(0)
    config = FlexCodeConfig(budget=2, codebook_size=16, latent_dim=4, rq_hidden=(8,), tokenizer_epochs=3,
                            tokenizer_batch_size=32, projection_dim=4)
    _, _, info = train_dual_codebooks(rng.normal(size=(10, 6)), rng.normal(size=(10, 5)), config, seed=0,
                                      device=torch.device("cpu"))
    restarts = [entry["restarted_codes"] for entry in info["training"]]
    assert len(restarts) == 3 and restarts[0] > 0 and restarts[-1] == 0


def _tiny_fit(method: str, tmp_path, monkeypatch, overrides: dict[str, str] | None = None, validator: bool = False):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path))
    splits = cyclic_splits_with_titles()
    spec = get_method(method)
    config = spec.make_config("smoke", {"codebook_size": "4", "disambiguation_tokens": "64", **(overrides or {})})
    model = spec.recommender(config, device="cpu", seed=0)
    report = model.fit(splits, Validator(Evaluator(n_items=splits.n_items), splits.valid) if validator else None)
    return model, report, splits


def _history_weights(model, splits, alpha: torch.Tensor, hard: bool = False):
    """Per history token (``[B, H, 2L]``, CF levels then SEM levels of each item) its weight
    (the embedding's scale, read off with unit embeddings) and its attention mask."""
    history = torch.from_numpy(splits.valid.histories.padded(10, align="left")[:8])
    embedding = model.model.get_input_embeddings()
    saved = embedding.weight.data.clone()
    embedding.weight.data.fill_(1.0)
    try:
        embeds, mask = model.encoder_inputs(history, alpha, hard=hard)
    finally:
        embedding.weight.data.copy_(saved)
    shape = (history.shape[0], history.shape[1], 2 * model.config.budget)
    return embeds[..., 0].reshape(shape), mask.reshape(shape), history


@pytest.mark.parametrize("method,cf_weights,sem_weights", [("flexcode-cf-only", [1, 1, 1], [0, 0, 0]),
                                                            ("flexcode-sid-only", [0, 0, 0], [1, 1, 1]),
                                                            ("flexcode-fix", [1, 1, 0], [1, 0, 0])])
def test_constant_variants_train_on_exact_hard_masks_and_attend_only_to_kept_tokens(method, cf_weights, sem_weights,
                                                                                  tmp_path, monkeypatch):
    model, _, splits = _tiny_fit(method, tmp_path, monkeypatch, {"training.max_epochs": "1"})
    model.model.train()
    weights, mask, history = _history_weights(model, splits, model.item_probabilities()[:, 0])
    real = history > 0
    expected = torch.tensor(cf_weights + sem_weights, dtype=weights.dtype)
    assert torch.equal(weights[real], expected.expand(int(real.sum()), -1))        # exactly 0 or 1, no leak
    assert torch.equal(mask[real], expected.long().expand(int(real.sum()), -1))    # dropped tokens never attend
    assert not mask[~real].any()


def test_learned_router_trains_on_the_masks_inference_uses_with_a_gradient(tmp_path, monkeypatch):
    model, _, splits = _tiny_fit("flexcode", tmp_path, monkeypatch)
    model.model.train()
    model.router_active = True                                     # the router's epochs
    alpha = model.item_probabilities()[:, 0]
    train_weights, train_mask, _ = _history_weights(model, splits, alpha)
    infer_weights, infer_mask, _ = _history_weights(model, splits, model.alpha, hard=True)
    assert torch.equal(train_weights.detach(), infer_weights) and torch.equal(train_mask, infer_mask)
    train_weights.sum().backward()                                 # straight-through: a gradient for the router
    assert sum(float(p.grad.abs().sum()) for p in model.router.parameters()) > 0


def test_validation_and_test_decode_the_ids_of_the_selected_training_epoch(tmp_path, monkeypatch):
    """Spy on the T5's training passes and on every validation: each validation decodes the
    IDs of the epoch it scores, and after ``fit`` the IDs are the selected epoch's."""
    from transformers import T5ForConditionalGeneration

    import methods.flexcode as flexcode
    trained: list[np.ndarray] = []                                 # the IDs at each training pass
    validated: list[tuple[int, np.ndarray]] = []                   # (training passes so far, the IDs)
    holder = {}
    forward = T5ForConditionalGeneration.forward

    def spy_forward(self, *args, **kwargs):
        if self.training and "model" in holder:
            trained.append(holder["model"].position_codes.copy())
        return forward(self, *args, **kwargs)

    real_selection = flexcode.selection_validator

    def spy_selection(validator, training, seed, extra):
        inner = real_selection(validator, training, seed, extra)

        def call(model):
            validated.append((len(trained), model.position_codes.copy()))
            return inner(model)
        return call

    monkeypatch.setattr(T5ForConditionalGeneration, "forward", spy_forward)
    monkeypatch.setattr(flexcode, "selection_validator", spy_selection)
    real_init = flexcode.FlexCode.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        holder["model"] = self
    monkeypatch.setattr(flexcode.FlexCode, "__init__", init)
    # a fast router so that allocations change between epochs
    model, report, _ = _tiny_fit("flexcode", tmp_path, monkeypatch, {
        "training.max_epochs": "4", "training.patience": "4", "router_epochs": "4", "router_lr": "0.5",
        "allocation_hysteresis": "0.0"}, validator=True)
    assert len(validated) == 4 and report.best_epoch is not None
    assert any(not np.array_equal(validated[0][1], ids) for _, ids in validated[1:])   # the IDs did move
    for passes, ids in validated:
        assert np.array_equal(ids, trained[passes - 1])            # the IDs of the epoch's last training pass
    assert np.array_equal(model.position_codes, validated[report.best_epoch - 1][1])
    changes = [e.get("allocation_changed") for e in report.epochs]
    assert all(0.0 <= c <= 1.0 for c in changes[1:]) and any(c > 0 for c in changes[1:])


def test_the_frozen_allocation_is_the_one_the_trained_router_gives(tmp_path, monkeypatch):
    """After the router's epochs (smoke: 1 of 2) the IDs follow the trained router, not the
    allocation its first epoch started from."""
    model, report, _ = _tiny_fit("flexcode", tmp_path, monkeypatch, {"router_lr": "0.5",
                                                                     "allocation_hysteresis": "0.0"})
    assert [e["router_active"] for e in report.epochs] == [True, False]
    assert report.epochs[1]["allocation_changed"] > 0                 # the router moved in epoch 1
    assert torch.equal(model.n_cf, hard_allocation(model.router_alpha, model.config.budget))


def test_a_resumed_fit_continues_on_the_checkpointed_allocation(tmp_path, monkeypatch):
    """Resuming after the router's epochs (smoke: 1) rebuilds the IDs from the checkpoint's
    allocation and ends where an uninterrupted fit ends."""
    import methods.flexcode as flexcode
    overrides = {"router_lr": "0.5", "training.max_epochs": "3"}
    uninterrupted, _, splits = _tiny_fit("flexcode", tmp_path / "a", monkeypatch, overrides)
    real_steps = flexcode.scheduled_steps

    def stop_in_epoch_3(batches, epoch, training, clock):
        if epoch == 3:
            raise KeyboardInterrupt
        return real_steps(batches, epoch, training, clock)
    monkeypatch.setattr(flexcode, "scheduled_steps", stop_in_epoch_3)
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path / "b"))
    spec = get_method("flexcode")
    config = spec.make_config("smoke", {"codebook_size": "4", "disambiguation_tokens": "64", **overrides})
    interrupted = spec.recommender(config, device="cpu", seed=0)
    interrupted.checkpoint_path = tmp_path / "checkpoint.pt"
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(splits, None)                               # checkpointed after epoch 2
    monkeypatch.setattr(flexcode, "scheduled_steps", real_steps)
    resumed = spec.recommender(config, device="cpu", seed=0)
    resumed.checkpoint_path = tmp_path / "checkpoint.pt"
    report = resumed.fit(splits, None)                              # epoch 3 only
    assert [e["epoch"] for e in report.epochs] == [1, 2, 3]
    assert np.array_equal(resumed.position_codes, uninterrupted.position_codes)
