"""RQ-VAE tokenizer: k-means codebook initialisation, residual quantisation, the
straight-through estimator, the commitment weight beta, dead-code restarts and ``fit_rq_vae``
(determinism, diagnostics)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec_bench.errors import ConfigError
from genrec_bench.generative.tokenizers.rq_vae import (
    RQVAE,
    RQVAEConfig,
    fit_rq_vae,
    init_codebooks_with_kmeans,
    restart_dead_codes,
)

torch.set_num_threads(1)

N_CLUSTERS, PER_CLUSTER, DIM = 4, 25, 8


def clustered(seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """``N_CLUSTERS`` tight, well-separated Gaussian blobs: (x [n, DIM], cluster label [n])."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(N_CLUSTERS, DIM)) * 5
    labels = np.repeat(np.arange(N_CLUSTERS), PER_CLUSTER)
    x = centres[labels] + rng.normal(size=(labels.size, DIM)) * 0.05
    return torch.tensor(x, dtype=torch.float32), labels


def small_model(levels: int = 3, codebook_size: int = N_CLUSTERS, seed: int = 0) -> RQVAE:
    torch.manual_seed(seed)
    return RQVAE(DIM, RQVAEConfig(hidden=(16,), latent_dim=6, levels=levels, codebook_size=codebook_size))


def test_kmeans_init_puts_each_level0_codeword_on_one_latent_cluster_mean():
    x, labels = clustered()
    model = small_model()
    init_codebooks_with_kmeans(model, x, torch.Generator().manual_seed(0))
    with torch.no_grad():
        z = model.encoder(x)
        means = torch.stack([z[torch.from_numpy(labels == c)].mean(0) for c in range(N_CLUSTERS)])
        distances = torch.cdist(model.codebooks[0], means)          # [K, clusters]
    nearest = distances.argmin(1)
    assert sorted(nearest.tolist()) == list(range(N_CLUSTERS))     # one codeword per cluster
    assert distances.min(1).values.max() < 1e-3                     # and it sits on the cluster mean
    # the separation between clusters is much larger than that
    assert torch.cdist(means, means).add(torch.eye(N_CLUSTERS) * 1e9).min() > 0.5


def test_kmeans_init_gives_every_well_separated_cluster_its_own_level0_code():
    x, labels = clustered()
    model = small_model()
    init_codebooks_with_kmeans(model, x, torch.Generator().manual_seed(0))
    with torch.no_grad():
        _, codes, _, _ = model.quantize(model.encoder(x))
    level0 = codes[:, 0].numpy()
    per_cluster = [set(level0[labels == c].tolist()) for c in range(N_CLUSTERS)]
    assert all(len(s) == 1 for s in per_cluster)                    # a cluster shares one code
    assert len(set.union(*per_cluster)) == N_CLUSTERS               # and no two clusters share it


def test_residual_energy_does_not_increase_from_level_to_level():
    x, _ = clustered()
    model = small_model(levels=3)
    init_codebooks_with_kmeans(model, x, torch.Generator().manual_seed(0))
    with torch.no_grad():
        z = model.encoder(x)
        z_q, codes, _, residuals = model.quantize(z)
        energy = [float(r.pow(2).sum()) for r in residuals]         # r_0 = z, r_1, r_2
        final = float((z - z_q).pow(2).sum())                       # r_3
        # quantised by each level, the residuals are exactly r_l - e_l
        for level in range(2):
            step = residuals[level] - model.codebooks[level][codes[:, level]]
            torch.testing.assert_close(step, residuals[level + 1])
    chain = energy + [final]
    assert all(later <= earlier + 1e-4 for earlier, later in zip(chain, chain[1:], strict=False))
    assert chain[1] < 0.01 * chain[0]                               # the first level takes the clusters out


def test_two_levels_quantise_the_latent_no_worse_than_one_level():
    x, _ = clustered()
    two = small_model(levels=2)
    init_codebooks_with_kmeans(two, x, torch.Generator().manual_seed(0))
    one = small_model(levels=1)
    one.encoder.load_state_dict(two.encoder.state_dict())
    with torch.no_grad():
        one.codebooks[0].copy_(two.codebooks[0])
        z = two.encoder(x)
        error_one = float((z - one.quantize(z)[0]).pow(2).sum())
        error_two = float((z - two.quantize(z)[0]).pow(2).sum())
    assert error_two <= error_one


def test_straight_through_estimator_passes_the_reconstruction_gradient_to_the_encoder():
    x, _ = clustered()
    model = small_model(levels=2)
    init_codebooks_with_kmeans(model, x, torch.Generator().manual_seed(0))
    z = model.encoder(x)
    z.retain_grad()
    z_q, _, _, _ = model.quantize(z)
    z_q.retain_grad()
    reconstruction = ((model.decoder(z_q) - x) ** 2).sum(1).mean()   # reconstruction only, no VQ loss
    reconstruction.backward()
    # argmin is not differentiable: the gradient w.r.t. z_q is copied unchanged onto z
    assert z_q.grad.abs().sum() > 0
    torch.testing.assert_close(z.grad, z_q.grad)
    first_layer = model.encoder[0].weight.grad
    assert first_layer is not None and first_layer.abs().sum() > 0
    # and the reconstruction alone does not move the codebooks (only the VQ loss does)
    assert all(book.grad is None or book.grad.abs().sum() == 0 for book in model.codebooks)


@pytest.mark.parametrize("beta", [0.0, 0.25, 1.0])
def test_commitment_weight_beta_hand_checked_on_one_level(beta):
    torch.manual_seed(0)
    model = RQVAE(DIM, RQVAEConfig(hidden=(16,), latent_dim=3, levels=1, codebook_size=5, beta=beta))
    z = torch.randn(7, 3, requires_grad=True)
    _, codes, vq_loss, _ = model.quantize(z)
    chosen = model.codebooks[0][codes[:, 0]].detach()
    diff = z.detach() - chosen                                       # [B, D]
    b = z.shape[0]
    # ||sg(r) - e||^2 + beta ||r - sg(e)||^2, summed over dimensions, averaged over the batch
    assert vq_loss.item() == pytest.approx((1 + beta) * float(diff.pow(2).sum(1).mean()), rel=1e-5)
    vq_loss.backward()
    torch.testing.assert_close(z.grad, 2 * beta * diff / b)         # only the commitment term reaches z
    expected_book = torch.zeros(5, 3).index_add_(0, codes[:, 0], -2 * diff / b)
    torch.testing.assert_close(model.codebooks[0].grad, expected_book)


def test_restart_dead_codes_moves_unused_codewords_onto_residuals_so_more_codes_are_used():
    x, _ = clustered()
    model = small_model(levels=2, codebook_size=8)
    with torch.no_grad():
        for book in model.codebooks:                  # code 0 at the origin, every other code far away
            book.fill_(1e3)
            book[0] = 0.0
        z = model.encoder(x)
        _, codes, _, residuals = model.quantize(z)
    assert (codes == 0).all()                         # collapsed: every item on code 0 at both levels
    used = [torch.bincount(codes[:, level], minlength=8) > 0 for level in range(2)]
    before = [book.detach().clone() for book in model.codebooks]
    restarted = restart_dead_codes(model, used, residuals, torch.Generator().manual_seed(0))
    assert restarted == 2 * 7
    for level, book in enumerate(model.codebooks):
        assert torch.equal(book[0], before[level][0])                # the used code is left alone
        for code in range(1, 8):                                     # each dead code is now a residual
            assert (residuals[level] == book[code]).all(1).any()
    with torch.no_grad():
        _, new_codes, _, _ = model.quantize(z)
    assert torch.unique(new_codes[:, 0]).numel() > 1
    # nothing dead: nothing moves
    all_used = [torch.ones(8, dtype=torch.bool)] * 2
    snapshot = [book.detach().clone() for book in model.codebooks]
    assert restart_dead_codes(model, all_used, residuals, torch.Generator().manual_seed(0)) == 0
    assert all(torch.equal(a, b) for a, b in zip(snapshot, model.codebooks, strict=True))


def test_fit_is_deterministic_for_a_seed_and_returns_codes_with_diagnostics():
    x, labels = clustered()
    config = RQVAEConfig(hidden=(16,), latent_dim=6, levels=2, codebook_size=4, epochs=4, batch_size=32)
    codes_a, info_a, model = fit_rq_vae(x.numpy(), config, seed=0)
    codes_b, info_b, _ = fit_rq_vae(x.numpy(), config, seed=0)
    assert np.array_equal(codes_a, codes_b) and info_a == info_b
    assert codes_a.dtype == np.int64 and codes_a.shape == (x.shape[0], 2)
    assert codes_a.min() >= 0 and codes_a.max() < 4
    assert isinstance(model, RQVAE) and not model.training
    assert [entry["epoch"] for entry in info_a["training"]] == [1, 2, 3, 4]
    assert {"loss", "reconstruction", "restarted_codes"} <= set(info_a["training"][0])
    assert 0 < info_a["relative_reconstruction_error"] < 2
    # the relative error is ||decode(quantise(encode(x))) - x||^2 / ||x||^2
    with torch.no_grad():
        recon, codes_again, _, _ = model(x)
    assert np.array_equal(codes_again.numpy(), codes_a)
    relative = float(((recon - x) ** 2).sum() / (x ** 2).sum())
    assert info_a["relative_reconstruction_error"] == pytest.approx(relative, rel=1e-5)
    # short training keeps the well-separated clusters on distinct level-0 codes
    per_cluster = [set(codes_a[labels == c, 0].tolist()) for c in range(N_CLUSTERS)]
    assert all(len(s) == 1 for s in per_cluster) and len(set.union(*per_cluster)) == N_CLUSTERS


def test_fit_restarts_dead_codes_only_when_enabled():
    x, _ = clustered()
    x = x[::10].numpy()                                  # 10 items for 16 codes: some codes stay unused
    config = RQVAEConfig(hidden=(16,), latent_dim=6, levels=2, codebook_size=16, epochs=2, batch_size=32)
    _, with_restarts, _ = fit_rq_vae(x, config, seed=0)
    assert with_restarts["training"][0]["restarted_codes"] >= 2 * (16 - 10)
    from dataclasses import replace
    _, without, _ = fit_rq_vae(x, replace(config, restart_dead_codes=False), seed=0)
    assert all(entry["restarted_codes"] == 0 for entry in without["training"])


def test_no_restart_after_the_last_epoch_so_final_codes_use_trained_codewords():
    x, _ = clustered()
    x = x[::10].numpy()                                  # codes stay dead at every epoch
    config = RQVAEConfig(hidden=(16,), latent_dim=6, levels=2, codebook_size=16, epochs=3, batch_size=32)
    _, info, _ = fit_rq_vae(x, config, seed=0)
    restarts = [entry["restarted_codes"] for entry in info["training"]]
    assert restarts[0] > 0 and restarts[-1] == 0


@pytest.mark.parametrize(("field", "value"), [("levels", 0), ("codebook_size", -1), ("latent_dim", 2.5),
                                              ("beta", -0.1), ("lr", 0.0), ("epochs", True)])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"RQVAEConfig\.{field}"):
        RQVAEConfig(**{field: value})


def test_fit_logs_progress_at_the_reported_epochs(caplog):
    x, _ = clustered()
    config = RQVAEConfig(hidden=(16,), latent_dim=6, levels=2, codebook_size=4, epochs=3, batch_size=32)
    with caplog.at_level("INFO", logger="genrec_bench.generative.tokenizers.rq_vae"):
        _, info, _ = fit_rq_vae(x[:40].numpy(), config, seed=0)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rq-vae epoch")]
    assert [line.split(":")[0] for line in lines] == ["rq-vae epoch 1/3", "rq-vae epoch 2/3", "rq-vae epoch 3/3"]
    assert len(info["training"]) == 3 and "reconstruction=" in lines[0]


def _collapse_or_init_codebooks(good_epochs: set[int]):
    """An ``epoch_start`` hook: before each 0-based epoch in ``good_epochs`` the codebooks get
    their k-means initialisation back (distinct codes for the four clusters), before every
    other epoch every codeword is set to zero (all items share one code)."""
    x, _ = clustered()

    def hook(model: RQVAE, epoch: int) -> None:
        if epoch in good_epochs:
            init_codebooks_with_kmeans(model, x, torch.Generator().manual_seed(0))
        else:
            with torch.no_grad():
                for book in model.codebooks:
                    book.zero_()

    return hook


def test_selection_keeps_the_epoch_with_the_lowest_collision_rate():
    from genrec_bench.generative.tokenizers import RQVAEHooks

    x, labels = clustered()
    # lr ~ 0: the weights an epoch ends with are the ones its hook set
    config = RQVAEConfig(hidden=(16,), latent_dim=6, levels=1, codebook_size=N_CLUSTERS, epochs=4, lr=1e-12,
                         weight_decay=0.0, restart_dead_codes=False)
    hooks = RQVAEHooks(epoch_start=_collapse_or_init_codebooks({1}), select_every=1)
    codes, info, _ = fit_rq_vae(x.numpy(), config, seed=0, hooks=hooks)
    rates = [entry["collision_rate"] for entry in info["selection"]["evaluations"]]
    assert [entry["epoch"] for entry in info["selection"]["evaluations"]] == [1, 2, 3, 4]
    assert rates[1] == pytest.approx(1 - N_CLUSTERS / len(labels)) and min(rates[0], rates[2], rates[3]) > rates[1]
    assert info["selection"]["selected_epoch"] == 2
    assert len(np.unique(codes[:, 0])) == N_CLUSTERS                  # the returned codes are epoch 2's
    # without selection the last (collapsed) epoch is kept
    last, info_last, _ = fit_rq_vae(x.numpy(), config, seed=0,
                                    hooks=RQVAEHooks(epoch_start=_collapse_or_init_codebooks({1})))
    assert len(np.unique(last[:, 0])) == 1 and "selection" not in info_last


def test_selection_evaluates_every_mth_epoch_and_the_last():
    from genrec_bench.generative.tokenizers import RQVAEHooks

    x, _ = clustered()
    config = RQVAEConfig(hidden=(16,), latent_dim=6, levels=1, codebook_size=N_CLUSTERS, epochs=5)
    _, info, _ = fit_rq_vae(x.numpy(), config, seed=0, hooks=RQVAEHooks(select_every=2))
    assert [entry["epoch"] for entry in info["selection"]["evaluations"]] == [2, 4, 5]


def test_history_records_the_quantisation_term_and_can_cover_every_epoch():
    from genrec_bench.generative.tokenizers import RQVAEHooks

    x, _ = clustered()
    config = RQVAEConfig(hidden=(16,), latent_dim=6, levels=2, codebook_size=N_CLUSTERS, epochs=3,
                         batch_size=len(x))
    _, info, _ = fit_rq_vae(x.numpy(), config, seed=0, hooks=RQVAEHooks(history_every_epoch=True))
    assert [entry["epoch"] for entry in info["training"]] == [1, 2, 3]
    for entry in info["training"]:                                    # one batch: loss = recon + quant
        assert entry["loss"] == pytest.approx(entry["reconstruction"] + entry["quantization"], rel=1e-5)


def test_xavier_normal_mlp_init_zeroes_biases_and_scales_weights_by_fan():
    from genrec_bench.generative.tokenizers.rq_vae import xavier_normal_mlp_init

    torch.manual_seed(0)
    model = RQVAE(256, RQVAEConfig(hidden=(512,), latent_dim=128, levels=1, codebook_size=4))
    xavier_normal_mlp_init(model)
    linears = [m for m in [*model.encoder, *model.decoder] if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 4
    for layer in linears:
        fan_out, fan_in = layer.weight.shape
        assert torch.count_nonzero(layer.bias) == 0
        assert float(layer.weight.detach().std()) == pytest.approx((2 / (fan_in + fan_out)) ** 0.5, rel=0.05)
