"""ETEGRec: its losses on hand-checked cases, its ablation switches, its alternating schedule,
decoding consistent with training, and a tiny end-to-end fit on synthetic data."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from genrec_bench.errors import ConfigError
from genrec_bench.evaluation import Validator
from genrec_bench.evaluation.evaluator import Evaluator
from genrec_bench.generative.collaborative import CollaborativeEmbeddingConfig
from genrec_bench.generative.samples import history_windows, one_random_prefix, targets_of
from genrec_bench.generative.t5_generator import T5GeneratorConfig
from genrec_bench.generative.tokenizers import RQVAEConfig
from genrec_bench.recommender import HistoryBatch
from genrec_bench.training.generator_config import GeneratorTrainingConfig
from methods import etegrec as E

TAU = 0.07
TINY = E.ETEGRecConfig(
    collaborative=CollaborativeEmbeddingConfig(dim=8, n_layers=1, max_epochs=1, patience=1),
    rqvae=RQVAEConfig(hidden=(16,), latent_dim=4, levels=2, codebook_size=4, batch_size=64, epochs=5),
    dedup_codes=32,
    generator=T5GeneratorConfig(d_model=16, d_ff=32, num_layers=1, num_decoder_layers=1, num_heads=2, d_kv=8,
                                dropout=0.0),
    training=GeneratorTrainingConfig(max_history=8, training_prefixes="one-random", lr=1e-2,
                                     lr_schedule="constant", weight_decay=0.05, batch_size=64, max_epochs=4,
                                     patience=2, eval_every=2),
    warm_epochs=0, lr_tokenizer=1e-2, warmup_steps=0, stage2_epochs=1, stage2_patience=1)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path / "cache"))


# --------------------------------------------------------------------------- losses


def test_code_loss_of_uniform_logits_is_the_mean_log_codebook_size():
    logits = [torch.zeros(3, 4), torch.zeros(3, 8)]
    codes = torch.tensor([[0, 7], [1, 2], [3, 0]])
    assert E.code_loss(logits, codes).item() == pytest.approx((math.log(4) + math.log(8)) / 2)
    # a confident correct level-1 prediction removes that level's loss
    logits[0][torch.arange(3), codes[:, 0]] = 100.0
    assert E.code_loss(logits, codes).item() == pytest.approx(math.log(8) / 2, abs=1e-6)


def test_symmetric_kl_is_zero_for_identical_and_matches_the_closed_form():
    x = torch.randn(5, 7)
    assert E.symmetric_kl(x, x.clone()).item() == pytest.approx(0.0, abs=1e-6)
    p, q = torch.tensor([[0.5, 0.5]]), torch.tensor([[0.9, 0.1]])
    expected = float(((p - q) * (p / q).log()).sum())          # KL(p||q) + KL(q||p), 2 classes
    assert expected == pytest.approx(-0.4 * math.log(0.5 / 0.9) + 0.4 * math.log(0.5 / 0.1))
    assert E.symmetric_kl(p.log(), q.log()).item() == pytest.approx(expected, rel=1e-5)
    # rows are averaged
    both = E.symmetric_kl(torch.cat([p, p]).log(), torch.cat([q, p]).log())
    assert both.item() == pytest.approx(expected / 2, rel=1e-5)


def test_sia_averages_levels_of_the_softmax_of_the_distances_themselves():
    # level 1: softmax([0, ln 9]) = (0.1, 0.9) vs uniform; level 2: identical distributions
    seq = [torch.tensor([[0.0, math.log(9.0)]]), torch.tensor([[1.0, 3.0]])]
    item = [torch.tensor([[2.0, 2.0]]), torch.tensor([[1.0, 3.0]])]
    closed = 0.4 * math.log(0.9 / 0.5) + 0.4 * math.log(0.5 / 0.1)
    assert E.sia_loss(seq, item).item() == pytest.approx(closed / 2, rel=1e-5)
    # with 3 codes the sign matters: official vq.py returns logit = d (farther = likelier),
    # the paper's formula is exp(-d); a temperature divides either
    d_seq, d_item = torch.tensor([[0.0, 1.0, 4.0]]), torch.tensor([[0.0, 2.0, 2.0]])
    official = E.sia_loss([d_seq], [d_item]).item()
    assert official == pytest.approx(E.symmetric_kl(d_seq, d_item).item())
    paper = E.sia_loss([d_seq], [d_item], kind="negative-distance").item()
    assert paper == pytest.approx(E.symmetric_kl(-d_seq, -d_item).item())
    assert abs(official - paper) > 0.5
    assert E.sia_loss([d_seq], [d_item], temperature=4.0).item() == pytest.approx(
        E.symmetric_kl(d_seq / 4, d_item / 4).item())


def test_info_nce_and_psa_on_2x2_by_hand():
    eye = torch.eye(2, dtype=torch.float64)
    aligned = math.log(1 + math.exp(-1 / TAU))
    assert E.info_nce(eye, eye, TAU).item() == pytest.approx(aligned, rel=1e-5)
    assert E.psa_loss(eye, eye, TAU).item() == pytest.approx(2 * aligned, rel=1e-5)
    shuffled = E.psa_loss(eye, eye.flip(0), TAU).item()
    assert shuffled == pytest.approx(2 * math.log(1 + math.exp(1 / TAU)), rel=1e-5)
    assert shuffled > E.psa_loss(eye, eye, TAU).item()
    # cosine, not dot product: scaling a row changes nothing
    q = torch.tensor([[3.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    row0 = -math.log(math.exp(1 / TAU) / (math.exp(1 / TAU) + 1.0))
    row1 = math.log(2.0)                                       # (1,1)/sqrt 2 is equally close to both keys
    assert E.info_nce(q, eye, TAU).item() == pytest.approx((row0 + row1) / 2, rel=1e-5)


def test_vq_loss_is_mse_plus_weighted_quantisation():
    x = torch.randn(4, 6)
    assert E.vq_loss(x, x, torch.tensor(0.0)).item() == pytest.approx(0.0)
    assert E.vq_loss(x + 1.0, x, torch.tensor(0.5), alpha=2.0).item() == pytest.approx(2.0, rel=1e-5)


def test_scheduled_lr_follows_warmup_then_cosine_or_constant():
    assert E.scheduled_lr(1.0, 0, 10, 110, "cosine") == 0.0
    assert E.scheduled_lr(1.0, 5, 10, 110, "cosine") == pytest.approx(0.5)
    assert E.scheduled_lr(1.0, 10, 10, 110, "cosine") == pytest.approx(1.0)
    assert E.scheduled_lr(1.0, 60, 10, 110, "cosine") == pytest.approx(0.5)
    assert E.scheduled_lr(1.0, 110, 10, 110, "cosine") == pytest.approx(0.0, abs=1e-12)
    assert E.scheduled_lr(2.0, 500, 10, 110, "constant") == 2.0


# --------------------------------------------------------------------------- model


def built(config: E.ETEGRecConfig = TINY, n_items: int = 30) -> E.ETEGRec:
    rng = np.random.default_rng(0)
    table = np.vstack([np.zeros((1, 8)), rng.normal(size=(n_items, 8))]).astype(np.float32)
    model = E.ETEGRec(config, seed=0)
    model.build(table)
    return model


def a_batch(cyclic_splits, size: int = 32):
    train = cyclic_splits.train
    rows, ends = one_random_prefix(train, np.random.default_rng(1))
    rows, ends = rows[:size], ends[:size]
    return history_windows(train, rows, ends, 8), targets_of(train, rows, ends)


def snapshot(modules) -> list[torch.Tensor]:
    return [p.detach().clone() for m in modules for p in m.parameters()]


def same(before, modules) -> bool:
    return all(torch.equal(a, p) for a, p in zip(before, [p for m in modules for p in m.parameters()], strict=True))


@pytest.mark.parametrize(("switches", "phase", "expected"), [
    ({}, "generator", {"code", "sia", "psa"}),
    ({}, "tokenizer", {"vq", "sia", "psa"}),
    ({}, "joint", {"vq", "code", "sia", "psa"}),
    ({"use_sia": False}, "generator", {"code", "psa"}),
    ({"use_psa": False}, "tokenizer", {"vq", "sia"}),
    ({"use_sia": False, "use_psa": False}, "generator", {"code"}),
    ({"warm_epochs": 5}, "generator", {"code"}),            # before warm-up: no alignment
])
def test_each_switch_removes_the_loss_it_names(cyclic_splits, switches, phase, expected):
    model = built(replace(TINY, **switches))
    weights = model.loss_weights(0, phase)
    losses = model.batch_losses(*a_batch(cyclic_splits), phase, weights)
    assert set(losses) == expected
    assert all(torch.isfinite(v) and v.item() >= 0 for v in losses.values())
    assert (weights["sia"] > 0) == ("sia" in expected) and (weights["psa"] > 0) == ("psa" in expected)


def test_sia_gradients_reach_only_the_part_being_trained(cyclic_splits):
    model = built()
    batch = a_batch(cyclic_splits)
    weights = {"vq": 0.0, "code": 0.0, "sia": 1.0, "psa": 0.0}
    for phase, trained, frozen in (("generator", model.net.enc_adapter, model.net.tokenizer),
                                   ("tokenizer", model.net.tokenizer, model.net.enc_adapter)):
        model._set_trainable(phase)
        model.net.zero_grad(set_to_none=True)
        model.batch_losses(*batch, phase, weights)["sia"].backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trained.parameters())
        assert all(p.grad is None for p in frozen.parameters())


def test_alternating_epochs_train_one_part_and_refresh_the_ids(cyclic_splits):
    model = built()
    optimizer = model._optimizer(steps_per_epoch=5, stage=1)
    rng = np.random.default_rng(0)
    tok, gen = [model.net.tokenizer], model.net.generator_modules()
    assert (model.phase(0), model.phase(1), model.phase(2)) == ("tokenizer", "generator", "tokenizer")
    before_tok, before_gen = snapshot(tok), snapshot(gen)
    stats = model.train_one_epoch(0, cyclic_splits.train, rng, optimizer)
    assert stats["phase"] == "tokenizer" and stats["steps"] > 0
    assert same(before_gen, gen) and not same(before_tok, tok)
    # the IDs were recomputed from the updated tokenizer, and are unique
    expected = model.net.tokenize(model.semantic[1:])
    assert torch.equal(model.net.item_codes[1:, :-1], expected)
    assert torch.unique(model.net.item_codes[1:], dim=0).shape[0] == 30
    before_tok, before_gen, codes = snapshot(tok), snapshot(gen), model.net.item_codes.clone()
    stats = model.train_one_epoch(1, cyclic_splits.train, rng, optimizer)
    assert stats["phase"] == "generator"
    assert same(before_tok, tok) and not same(before_gen, gen) and torch.equal(codes, model.net.item_codes)


def test_joint_mode_updates_both_parts_in_one_epoch(cyclic_splits):
    model = built(replace(TINY, alternate=False))
    optimizer = model._optimizer(steps_per_epoch=5, stage=1)
    tok, gen = [model.net.tokenizer], model.net.generator_modules()
    before_tok, before_gen = snapshot(tok), snapshot(gen)
    stats = model.train_one_epoch(0, cyclic_splits.train, np.random.default_rng(0), optimizer)
    assert stats["phase"] == "joint" and {"vq_loss", "code_loss", "sia_loss", "psa_loss"} <= set(stats)
    assert not same(before_tok, tok) and not same(before_gen, gen)


def test_without_end_to_end_the_pretrained_tokenizer_stays_frozen(cyclic_splits):
    model = built(replace(TINY, end_to_end=False))
    optimizer = model._optimizer(steps_per_epoch=5, stage=1)
    tok, codes = snapshot([model.net.tokenizer]), model.net.item_codes.clone()
    for epoch in range(3):
        stats = model.train_one_epoch(epoch, cyclic_splits.train, np.random.default_rng(epoch), optimizer)
        assert stats["phase"] == "generator" and "code_loss" in stats
        assert "sia_loss" not in stats and "psa_loss" not in stats
    assert same(tok, [model.net.tokenizer]) and torch.equal(codes, model.net.item_codes)


def test_beam_scores_equal_teacher_forced_per_level_log_probabilities(cyclic_splits):
    model = built(replace(TINY, constrained=True))
    model.net.eval()
    histories = cyclic_splits.valid.histories.select(np.arange(4))
    top = model.recommend(HistoryBatch(users=np.arange(4), sequences=histories), k=5)
    # exhaustive: every item as the target, sum over levels of the per-level log-softmax
    history = torch.from_numpy(histories.padded(8, align="left"))
    items = torch.arange(1, 31)
    with torch.no_grad():
        out = model.net.generate_forward(history.repeat_interleave(30, 0), items.repeat(4))
        codes = model.net.item_codes[items.repeat(4)]
        lp = sum(torch.log_softmax(logits, -1).gather(1, codes[:, level:level + 1]).squeeze(1)
                 for level, logits in enumerate(out.level_logits)).reshape(4, 30)
    scores, best = torch.topk(lp, 5, dim=1)
    assert torch.equal(top.items, best + 1)
    torch.testing.assert_close(top.scores, scores, atol=1e-4, rtol=1e-5)


def test_bf16_training_forward_gives_fp32_outputs_close_to_fp32(cyclic_splits):
    history, targets = a_batch(cyclic_splits)
    history, targets = torch.from_numpy(history), torch.from_numpy(targets)
    full = built()
    half = built(dataclasses.replace(TINY, generator=dataclasses.replace(TINY.generator, train_precision="bf16")))
    a, b = full.net.generate_forward(history, targets), half.net.generate_forward(history, targets)
    for x, y in [(a.encoder_mean, b.encoder_mean), (a.decoder_first, b.decoder_first),
                 *zip(a.level_logits, b.level_logits, strict=True)]:
        assert y.dtype == torch.float32 and not torch.equal(x, y)            # bf16 really ran
        torch.testing.assert_close(y, x, rtol=0.1, atol=0.1)


def test_unconstrained_decoding_returns_items_or_zero_and_counts_invalid_ids(cyclic_splits):
    model = built()
    model.net.eval()
    histories = cyclic_splits.valid.histories.select(np.arange(6))
    top = model.recommend(HistoryBatch(users=np.arange(6), sequences=histories), k=20)
    assert top.items.shape == (6, 20) and ((top.items >= 0) & (top.items <= 30)).all()
    assert (top.scores[:, :-1] >= top.scores[:, 1:]).all()
    invalid, returned = model._decode_counts
    assert returned == int(torch.isfinite(top.scores).sum()) and invalid == int((top.items == 0).sum())
    valid = top.items[top.items > 0]
    assert valid.unique().numel() == valid.numel()         # distinct IDs -> distinct items


# --------------------------------------------------------------------------- end to end


def test_fit_then_recommend_on_synthetic_data(cyclic_splits, tmp_path):
    model = E.ETEGRec(TINY, seed=0)
    model.checkpoint_path = tmp_path / "ckpt" / "training.pt"
    validator = Validator(Evaluator(n_items=cyclic_splits.n_items), cyclic_splits.valid)
    report = model.fit(cyclic_splits, validator)
    assert [e["stage"] for e in report.epochs] == [1, 1, 1, 1, 2]
    assert [e["phase"] for e in report.epochs[:4]] == ["tokenizer", "generator", "tokenizer", "generator"]
    assert report.best_epoch == 1 and report.extra["selected"] == {"stage": 2, "epoch": 1}
    assert report.extra["semantic_ids"]["level_sizes"] == [4, 4, 32]
    assert 0.0 <= report.extra["invalid_id_rate"]["valid_at_selected_epoch"] <= 1.0
    assert not (tmp_path / "ckpt" / "training-stage1.pt").exists()   # stage 1's checkpoint is cleaned up
    top = model.recommend(HistoryBatch(users=cyclic_splits.test.users, sequences=cyclic_splits.test.histories), 10)
    assert top.items.shape == (len(cyclic_splits.test), 10)
    assert ((top.items >= 0) & (top.items <= cyclic_splits.n_items)).all() and (top.items[:, 0] > 0).any()


def test_variants_are_registered_with_their_switches():
    from genrec_bench.registry import get_method

    expected = {"etegrec": {}, "etegrec-no-sia": {"use_sia": False}, "etegrec-no-psa": {"use_psa": False},
                "etegrec-no-align": {"use_sia": False, "use_psa": False}, "etegrec-joint": {"alternate": False},
                "etegrec-no-ete": {"end_to_end": False}}
    for name, switches in expected.items():
        spec = get_method(name)
        assert spec.recommender.name == name and set(spec.profiles) == {"smoke", "cpu", "paper"}
        for profile, config in spec.profiles.items():
            assert config == replace(E.PROFILES[profile], **switches) or name == "etegrec-no-ete"
            for key, value in switches.items():
                assert getattr(config, key) == value
    paper = get_method("etegrec").make_config("paper")
    assert (paper.collaborative.dim, paper.rqvae.latent_dim, paper.rqvae.hidden, paper.generator.num_layers,
            paper.training.beam_width, paper.constrained) == (256, 128, (512, 256), 6, 20, False)


@pytest.mark.parametrize("bad", [{"cycle": 1}, {"warm_epochs": -1}, {"psa_temperature": 0.0}, {"use_sia": 1},
                                 {"stage2_epochs": 1.5},
                                 {"training": GeneratorTrainingConfig(max_epochs=4, warmup_epochs=1)}])
def test_invalid_configs_are_rejected(bad):
    with pytest.raises(ConfigError):
        replace(TINY, **bad)


def test_cpu_stage2_keeps_the_official_patience_in_epochs_with_half_the_validations():
    """Official stage 2 stops after 10 epochs without gain; the cpu profile validates every
    2 epochs (to keep validation under 10 % of the fit), so it waits 5 validations."""
    cpu = E.PROFILES["cpu"]
    assert cpu.stage2_eval_every == 2
    assert cpu.stage2_patience * cpu.stage2_eval_every == 10
