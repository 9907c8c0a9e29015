"""Gradient clipping: bounds, direction, reported norms and the share of clipped updates."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.train import TrainConfig, Trainer, clip_gradients
from rnnkit.train.clipping import grad_norm
from tests.train.helpers import adding_loader, regressor


def _params_with_grads(*grads: list[float]) -> list[torch.nn.Parameter]:
    params = []
    for g in grads:
        p = torch.nn.Parameter(torch.zeros(len(g)))
        p.grad = torch.tensor(g)
        params.append(p)
    return params


def test_norm_clipping_caps_the_global_norm_and_keeps_the_direction():
    params = _params_with_grads([3.0, 0.0], [0.0, 4.0, 12.0])  # global norm 13
    before = torch.cat([p.grad for p in params])
    result = clip_gradients(params, max_norm=1.3)
    after = torch.cat([p.grad for p in params])
    assert result.norm == pytest.approx(13.0) and result.clipped
    assert float(grad_norm([p.grad for p in params])) <= 1.3
    assert float(after.norm()) == pytest.approx(1.3, rel=1e-5)
    torch.testing.assert_close(after / after.norm(), before / before.norm())


def test_norm_below_the_threshold_leaves_the_gradient_untouched():
    params = _params_with_grads([0.3, -0.4])
    result = clip_gradients(params, max_norm=1.0)
    assert result.norm == pytest.approx(0.5) and not result.clipped
    assert params[0].grad.tolist() == pytest.approx([0.3, -0.4])


def test_value_clipping_bounds_every_entry():
    params = _params_with_grads([5.0, -0.2, -7.0], [0.1, 2.5])
    result = clip_gradients(params, max_value=1.0)
    assert result.clipped and result.norm == pytest.approx(math.sqrt(25 + 0.04 + 49 + 0.01 + 6.25))
    assert params[0].grad.tolist() == pytest.approx([1.0, -0.2, -1.0])
    assert params[1].grad.tolist() == pytest.approx([0.1, 1.0])


def test_value_then_norm_when_both_are_set():
    params = _params_with_grads([5.0, -5.0, 0.5])
    clip_gradients(params, max_value=1.0, max_norm=1.0)
    assert params[0].grad.abs().max() <= 1.0
    assert float(params[0].grad.norm()) <= 1.0


def test_non_finite_gradients_are_reported_not_rescaled():
    params = _params_with_grads([float("inf"), 1.0])
    result = clip_gradients(params, max_norm=1.0)
    assert math.isinf(result.norm) and not result.clipped
    assert params[0].grad[1] == 1.0


def test_clip_arguments_are_checked():
    with pytest.raises(ValueError, match="max_norm must be None or > 0, got 0"):
        clip_gradients([], max_norm=0)


@pytest.mark.parametrize("clip_norm,share", [(1e-4, 1.0), (1e6, 0.0)])
def test_every_update_logs_its_norm_before_clipping_and_the_clipped_share(clip_norm, share):
    model = regressor("lstm")
    trainer = Trainer(model, TrainConfig(epochs=2, lr=1e-3, clip_norm=clip_norm, quiet=True))
    history = trainer.fit(adding_loader(n=48, batch_size=16))
    norms = history.steps["grad_norm"]
    assert len(norms) == 6 and all(n > 0 for n in norms)
    assert history.clipped_share == share
    assert [row["clipped_share"] for row in history.epochs] == [share, share]
    if share == 1.0:
        assert min(norms) > clip_norm  # logged before clipping, not after
