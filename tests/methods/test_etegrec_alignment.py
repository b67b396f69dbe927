"""ETEGRec's tokenizer and alignment losses against an independent transcription of the
official formulas (BishopLiu/ETEGRec@58d9736: ``vq.py`` ResidualVectorQuantizer and
VectorQuantizer, ``trainer.py`` compute_discrete_contrastive_loss_kl and
compute_contrastive_loss), in value and in gradient, on the same inputs; the weighted terms
in the epoch statistics; and the size of the alignment gradients on a small setup."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from methods import etegrec as E
from tests.methods.test_etegrec import TINY, a_batch, built

OFFICIAL_WEIGHTS = {"sia": 1e-4, "psa": 3e-4}  # config/scientific.yaml: {id,rec}_kl_loss, {id,rec}_dec_cl_loss


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_CACHE", str(tmp_path / "cache"))


# --------------------------------------------------------------------------- the official formulas


def official_rq(codebooks, latent: torch.Tensor, beta: float):
    """vq.py: per level, ``d = |r|^2 + |e|^2 - 2 r.e`` is both the argmin key and the returned
    logit; loss = MSE(e, sg r) + beta MSE(sg e, r); the residual loses the straight-through
    output ``r + sg(e - r)``. Returns (x_q, mean level loss, logits [N, L, K])."""
    residual, x_q, losses, logits = latent, 0, [], []
    for book in codebooks:
        d = torch.sum(residual ** 2, dim=1, keepdim=True) + torch.sum(book ** 2, dim=1, keepdim=True).t() \
            - 2 * torch.matmul(residual, book.t())
        e = book[torch.argmin(d, dim=-1)]
        losses.append(F.mse_loss(e, residual.detach()) + beta * F.mse_loss(e.detach(), residual))
        x_res = residual + (e - residual).detach()
        residual = residual - x_res
        x_q = x_q + x_res
        logits.append(d)
    return x_q, torch.stack(losses).mean(), torch.stack(logits, dim=1)


def official_kl(x_logits: torch.Tensor, y_logits: torch.Tensor) -> torch.Tensor:
    k = x_logits.size(-1)
    return F.kl_div(F.log_softmax(x_logits.reshape(-1, k), -1), F.log_softmax(y_logits.reshape(-1, k), -1),
                    reduction="batchmean", log_target=True)


def official_cl(query: torch.Tensor, semantic: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    sims = F.normalize(query, dim=-1) @ F.normalize(semantic, dim=-1).t() / temperature
    return F.cross_entropy(sims, torch.arange(query.size(0)))


def official_losses(model: E.ETEGRec, history: np.ndarray, targets: np.ndarray, phase: str) -> dict:
    """The official vq / kl / dec_cl losses of one batch (unique targets, first occurrence)."""
    net = model.net
    _, first = np.unique(targets, return_index=True)
    unique = torch.from_numpy(first)
    history_t, targets_t = torch.from_numpy(history), torch.from_numpy(targets)
    with torch.set_grad_enabled(phase == "generator"):
        generated = net.generate_forward(history_t, targets_t)
    x = model.semantic[targets_t[unique]]
    tok = net.tokenizer
    x_q, rq_loss, item_logits = official_rq(list(tok.codebooks), tok.encoder(x), tok.config.beta)
    recon = tok.decoder(x_q)
    _, _, seq_logits = official_rq(list(tok.codebooks), net.enc_adapter(generated.encoder_mean[unique]),
                                   tok.config.beta)
    dec = net.dec_adapter(generated.decoder_first[unique])
    return {"vq": F.mse_loss(recon, x) + 1.0 * rq_loss,
            "sia": official_kl(seq_logits, item_logits) + official_kl(item_logits, seq_logits),
            "psa": official_cl(recon, dec) + official_cl(dec, recon)}


def gradients(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> list[torch.Tensor]:
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params, strict=True)]


def grad_norm(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> float:
    return float(torch.sqrt(sum((g ** 2).sum() for g in gradients(loss, params))))


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("phase", ["tokenizer", "generator"])
def test_losses_equal_the_official_formulas_in_value_and_gradient(cyclic_splits, phase):
    model = built()
    model._set_trainable(phase)
    history, targets = a_batch(cyclic_splits)
    weights = {"vq": 1.0 if phase == "tokenizer" else 0.0, "code": 1.0 if phase == "generator" else 0.0,
               **OFFICIAL_WEIGHTS}
    ours = model.batch_losses(history, targets, phase, weights)
    reference = official_losses(model, history, targets, phase)
    params = (list(model.net.tokenizer.parameters()) if phase == "tokenizer"
              else model.net.generator_parameters())
    for name in (["vq"] if phase == "tokenizer" else []) + ["sia", "psa"]:
        torch.testing.assert_close(ours[name], reference[name], rtol=1e-4, atol=1e-7, msg=name)
        for got, expected in zip(gradients(ours[name], params), gradients(reference[name], params), strict=True):
            torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-7, msg=f"d {name}")


def test_later_levels_train_only_their_own_codebook_as_the_official_residual_path():
    torch.manual_seed(0)
    model = built()
    tok = model.net.tokenizer
    latents = torch.randn(6, tok.config.latent_dim, requires_grad=True)
    out = E.quantize(tok, latents)
    to_latents, to_book0, to_book1 = gradients(out.distances[1].sum(), [latents, tok.codebooks[0], tok.codebooks[1]])
    assert not to_latents.any() and not to_book0.any() and to_book1.abs().sum() > 0
    assert gradients(out.distances[0].sum(), [latents])[0].abs().sum() > 0
    torch.testing.assert_close(out.quantized, sum(book[out.codes[:, level]]
                                                  for level, book in enumerate(tok.codebooks)))
    torch.testing.assert_close(out.codes, tok.quantize(latents)[1])  # same IDs as the shared tokenizer


@pytest.mark.parametrize("epoch_index", [0, 1])
def test_epoch_statistics_record_each_weighted_term(cyclic_splits, epoch_index):
    model = built()
    optimizer = model._optimizer(steps_per_epoch=5, stage=1)
    stats = model.train_one_epoch(epoch_index, cyclic_splits.train, np.random.default_rng(0), optimizer)
    terms = ("vq", "sia", "psa") if stats["phase"] == "tokenizer" else ("code", "sia", "psa")
    for name in terms:
        assert stats[f"{name}_weighted"] == pytest.approx(stats[f"w_{name}"] * stats[f"{name}_loss"])
    assert stats["sia_weighted"] > 0 and stats["psa_weighted"] > 0
    assert sum(stats[f"{name}_weighted"] for name in terms) == pytest.approx(stats["loss"], rel=1e-5)


def test_alignment_gradient_sizes_under_the_official_weights(cyclic_splits):
    """With the official weights (1e-4, 3e-4) on this unit-variance synthetic table, measured:
    weighted PSA / code-loss gradient on the T5 about 7e-3, weighted SIA / code about 7e-6,
    weighted PSA / vq gradient on the tokenizer about 5e-3. SIA's value and gradient grow
    with the square of the spread of the code distances (so with the 4th power of the
    embedding scale): on Beauty's SASRec table (mean square 1e-3 to 5e-3) SIA is about 1e-3
    and its weighted gradient 1e-5 of the code loss's, in the official formula as in ours.
    The bands below are two decades wide around these values; the adapters learn from the
    alignment alone, and a smaller ``sia_temperature`` scales SIA up."""
    model = built()
    history, targets = a_batch(cyclic_splits)
    model._set_trainable("generator")
    t5 = list(model.net.t5.parameters())
    losses = model.batch_losses(history, targets, "generator", {"vq": 0.0, "code": 1.0, **OFFICIAL_WEIGHTS})
    code = grad_norm(losses["code"], t5)
    assert 1e-3 < OFFICIAL_WEIGHTS["psa"] * grad_norm(losses["psa"], t5) / code < 1e-1
    assert 1e-7 < OFFICIAL_WEIGHTS["sia"] * grad_norm(losses["sia"], t5) / code < 1e-4
    for adapter, term in ((model.net.enc_adapter, "sia"), (model.net.dec_adapter, "psa")):
        assert grad_norm(losses[term], list(adapter.parameters())) > 0
    model._set_trainable("tokenizer")
    tok = list(model.net.tokenizer.parameters())
    losses = model.batch_losses(history, targets, "tokenizer", {"vq": 1.0, "code": 0.0, **OFFICIAL_WEIGHTS})
    assert 5e-4 < OFFICIAL_WEIGHTS["psa"] * grad_norm(losses["psa"], tok) / grad_norm(losses["vq"], tok) < 5e-2
    # a temperature on the distances: SIA at temperature 0.1 is far larger than at 1
    weights = {"vq": 0.0, "code": 1.0, **OFFICIAL_WEIGHTS}
    cooled = E.ETEGRec(dataclasses.replace(TINY, sia_temperature=0.1), seed=0)
    cooled.build(model.semantic.numpy())
    model._set_trainable("generator")
    cold = cooled.batch_losses(history, targets, "generator", weights)["sia"].item()
    assert cold > 10 * model.batch_losses(history, targets, "generator", weights)["sia"].item()
