"""The Forecaster: decoders, teacher forcing, losses, intervals and input checks (values)."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.data.batching import SequenceBatch
from rnnkit.models.forecaster import Forecaster, interval_quantiles

C, K, T = 2, 2, 9  # targets, known features, observed steps


def make(decoder: str, horizon: int, **kw) -> Forecaster:
    return Forecaster(C, horizon, n_known=K, hidden_size=8, decoder=decoder, **kw)


def window(B: int, horizon: int, covariates: int = 0) -> torch.Tensor:
    return torch.randn(B, T + horizon, C + covariates + K)


@pytest.mark.parametrize("likelihood", ["gaussian", "quantile", "point"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_direct_and_autoregressive_agree_at_horizon_one(cell, likelihood):
    direct = make("direct", 1, cell=cell, likelihood=likelihood, num_layers=2)
    ar = make("autoregressive", 1, cell=cell, likelihood=likelihood, num_layers=2)
    ar.load_state_dict(direct.state_dict())
    x = window(5, 1)
    a, b = direct.predict(x), ar.predict(x)
    torch.testing.assert_close(a["point"], b["point"])
    torch.testing.assert_close(a["quantiles"], b["quantiles"])
    direct.eval(), ar.eval()
    torch.testing.assert_close(direct(x)[0][:, T:], ar(x)[0][:, T:])
    # A different weight in one model breaks the agreement (the test can fail).
    with torch.no_grad():
        ar.head[-1].bias.add_(0.5)
    assert not torch.allclose(ar.predict(x)["point"], a["point"])


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_forecasts_never_read_the_horizon_targets(decoder):
    model = make(decoder, 4)
    x = window(3, 4)
    y = x.clone()
    y[:, T:, :C] = torch.randn(3, 4, C) * 100  # the future values, if they leaked
    torch.testing.assert_close(model.predict(x)["point"], model.predict(y)["point"])
    model.eval()
    torch.testing.assert_close(model(x)[0], model(y)[0])


def test_teacher_forcing_fed_the_models_own_forecast_reproduces_the_decoding():
    model = make("autoregressive", 4, likelihood="point")
    x = window(3, 4)
    model.eval()
    free, _ = model(x)
    fed = x.clone()
    fed[:, T : T + 3, :C] = free[:, T : T + 3, :, 0]  # what decoding fed back at rows T..T+2
    model.train()  # teacher forcing: the horizon rows' target slots are read
    forced, _ = model(fed)
    torch.testing.assert_close(forced[:, 1:], free[:, 1:], rtol=1e-5, atol=1e-6)
    # With other values in those slots the teacher-forced outputs change after the first step.
    fed[:, T : T + 3, :C] += 1.0
    other, _ = model(fed)
    torch.testing.assert_close(other[:, : T + 1], forced[:, : T + 1])
    assert not torch.allclose(other[:, T + 1 :], forced[:, T + 1 :])


def test_gaussian_loss_is_the_negative_log_likelihood():
    model = make("direct", 3)
    mu, sigma = torch.randn(4, 3, C), torch.rand(4, 3, C) + 0.1
    target = torch.randn(4, 3, C)
    got = model.elementwise_loss(torch.stack([mu, sigma], -1), target)
    want = -torch.distributions.Normal(mu, sigma).log_prob(target)
    torch.testing.assert_close(got, want)


def test_quantile_loss_is_the_pinball_loss():
    model = make("direct", 1, likelihood="quantile", quantiles=(0.1, 0.5, 0.9))
    params = torch.tensor([[1.0, 2.0, 3.0]])  # one target value's three quantiles
    target = torch.tensor([2.5])
    # errors 1.5, 0.5, -0.5 → 0.1·1.5, 0.5·0.5, (0.9 − 1)·(−0.5)
    want = (0.15 + 0.25 + 0.05) / 3
    assert model.elementwise_loss(params, target).item() == pytest.approx(want)


def test_masked_loss_ignores_unknown_targets_and_keeps_gradients_finite():
    model = make("direct", 3)
    x = window(4, 3)
    target = torch.randn(4, T + 3, C)
    target[:, :T] = float("nan")  # nothing is known (or asked) before the horizon
    mask = torch.zeros(4, T + 3, dtype=torch.bool)
    mask[:, T:] = True
    batch = SequenceBatch(x, target, mask=mask)
    out, _ = model(x)
    loss = model.loss(out, batch)
    loss.backward()
    assert math.isfinite(loss.item())
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    # Equal to the mean over the horizon alone.
    want = model.elementwise_loss(out[:, T:], target[:, T:]).mean()
    torch.testing.assert_close(loss, want)
    sums, count = model.metrics(out, batch)["mae_scaled"]
    assert count == 4 * 3 * C
    torch.testing.assert_close(sums / count, (out[:, T:, :, 0] - target[:, T:]).abs().mean())


def test_gaussian_quantiles_are_mu_plus_sigma_times_the_normal_quantile():
    model = make("direct", 2, quantiles=interval_quantiles(0.8))
    assert model.quantiles == (0.1, 0.5, 0.9)
    x = window(3, 2)
    out = model.predict(x)
    params = model.forecast(x)
    mu, sigma = params[..., 0], params[..., 1]
    z = 1.2815515655446004  # Φ⁻¹(0.9)
    torch.testing.assert_close(out["quantiles"][..., 0], mu - z * sigma)
    torch.testing.assert_close(out["quantiles"][..., 1], mu)
    torch.testing.assert_close(out["quantiles"][..., 2], mu + z * sigma)
    torch.testing.assert_close(out["point"], mu)


def test_quantile_outputs_are_sorted_so_intervals_never_cross():
    model = make("direct", 2, likelihood="quantile")
    with torch.no_grad():
        model.head[-1].weight.normal_(0, 3.0)
    q = model.predict(window(16, 2))["quantiles"]
    assert bool((q[..., 1:] >= q[..., :-1]).all())


def test_autoregressive_gaussian_paths_are_reproducible_and_seeded():
    model = make("autoregressive", 5, n_samples=50)
    x = window(2, 5)
    a, b = model.predict(x, seed=3), model.predict(x, seed=3)
    torch.testing.assert_close(a["quantiles"], b["quantiles"], rtol=0, atol=0)
    c = model.predict(x, seed=4)
    assert not torch.allclose(a["quantiles"][:, 1:], c["quantiles"][:, 1:])
    # The first step has no sampled past: its quantiles come from N(μ, σ²) draws around μ.
    assert bool((a["quantiles"][..., 0] <= a["quantiles"][..., 2]).all())


def test_point_likelihood_has_no_intervals():
    out = make("direct", 3, likelihood="point").predict(window(2, 3))
    assert out["quantiles"].shape == (2, 3, C, 0)


def test_bidirectional_direct_encoder_reads_both_ends():
    model = make("direct", 2, bidirectional=True)
    x = window(2, 2)
    base = model.predict(x)["point"]
    y = x.clone()
    y[:, 0, :C] += 1.0  # the first observed step reaches s through the backward direction
    assert not torch.allclose(model.predict(y)["point"], base)


def test_bad_arguments_and_inputs_are_refused_with_reasons():
    with pytest.raises(ValueError, match=r"cannot know the future of past covariates"):
        Forecaster(1, 3, n_covariates=2, decoder="autoregressive")
    with pytest.raises(ValueError, match=r"bidirectional encoder needs decoder='direct'"):
        Forecaster(1, 3, bidirectional=True, decoder="autoregressive")
    with pytest.raises(ValueError, match=r"likelihood must be one of"):
        Forecaster(1, 3, likelihood="laplace")
    with pytest.raises(ValueError, match=r"quantiles must be distinct increasing levels"):
        Forecaster(1, 3, quantiles=(0.9, 0.1))
    with pytest.raises(TypeError, match=r"horizon must be an int"):
        Forecaster(1, 2.0)
    model = make("direct", 3)
    with pytest.raises(ValueError, match=r"inputs must be \(B, T \+ h, 4\).*got \(2, 12, 3\)"):
        model(torch.randn(2, 12, 3))
    with pytest.raises(ValueError, match=r"more than horizon=3 steps"):
        model(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"every window starts from a zero state"):
        model(torch.randn(2, 12, 4), torch.zeros(1, 2, 8))
    with pytest.raises(ValueError, match=r"interval level must be in \(0, 1\)"):
        interval_quantiles(1.0)


def test_config_rebuilds_the_same_model():
    model = make("autoregressive", 3, likelihood="quantile", cell="gru", num_layers=2)
    again = Forecaster(**model.config)
    again.load_state_dict(model.state_dict())
    x = window(2, 3)
    torch.testing.assert_close(again.predict(x)["quantiles"], model.predict(x)["quantiles"])
