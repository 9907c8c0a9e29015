"""ElmanRNN against a hand-written loop of the tutorial's two equations."""

from __future__ import annotations

import pytest
import torch

from rnnkit.nn import ElmanRNN
from tests.nn.helpers import assert_close

ACT = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "softmax": lambda z: torch.softmax(z, dim=-1),
    "identity": lambda z: z,
}


def seed_loop(model: ElmanRNN, x: torch.Tensor, h: torch.Tensor):
    """h_t = σ_h(W x_t + U h_{t-1} + b); o_t = σ_o(V h_t + c), one sample at a time."""
    outputs = []
    for x_t in x:  # x (T, F)
        h = ACT[model.hidden_activation](model.W @ x_t + model.U @ h + model.b)
        outputs.append(ACT[model.output_activation](model.V @ h + model.c))
    return torch.stack(outputs), h


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("output", ["sigmoid", "tanh", "softmax", "identity"])
def test_matches_the_two_equations(hidden, output) -> None:
    model = ElmanRNN(3, 5, 2, hidden_activation=hidden, output_activation=output,
                     dtype=torch.float64)
    x = torch.randn(6, 4, 3, dtype=torch.float64)
    h0 = torch.randn(4, 5, dtype=torch.float64)
    o, h_T = model(x, h0)
    for b in range(4):
        o_ref, h_ref = seed_loop(model, x[:, b], h0[b])
        assert_close(o[:, b].detach(), o_ref.detach(), torch.float64, "o_t")
        assert_close(h_T[b].detach(), h_ref.detach(), torch.float64, "h_T")


def test_lengths_batch_first_and_unbatched() -> None:
    model = ElmanRNN(3, 4, 2, batch_first=True)
    x = torch.randn(3, 5, 3)
    o, h_T = model(x, lengths=[5, 2, 3])
    for b, n in enumerate([5, 2, 3]):
        o_ref, h_ref = seed_loop(model, x[b, :n], torch.zeros(4))
        assert_close(o[b, :n].detach(), o_ref.detach(), torch.float32, "o_t within length")
        assert torch.all(o[b, n:] == 0), "outputs past the length must be zero"
        assert_close(h_T[b].detach(), h_ref.detach(), torch.float32, "h_T at the last real step")
        o_single, h_single = model(x[b, :n])  # unbatched (T, F): no batch dimension
        assert o_single.shape == (n, 2) and h_single.shape == (4,)
        assert_close(o_single.detach(), o_ref.detach(), torch.float32, "unbatched o_t")


def test_gradients_reach_every_parameter() -> None:
    model = ElmanRNN(3, 4, 2, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: model(inp)[0], (x,))
    model(x)[0].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_rejects_unknown_activation() -> None:
    with pytest.raises(ValueError, match=r"ElmanRNN: output_activation must be one of"):
        ElmanRNN(3, 4, 2, output_activation="swish")
