"""rnnkit.nn cells against torch.nn cells with the same weights: outputs and all gradients."""

from __future__ import annotations

import itertools

import pytest
import torch

import rnnkit.nn as rnn
from tests.nn.helpers import assert_close

CELLS = {
    "rnn_tanh": (torch.nn.RNNCell, rnn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (torch.nn.RNNCell, rnn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (torch.nn.LSTMCell, rnn.LSTMCell, {}),
    "gru": (torch.nn.GRUCell, rnn.GRUCell, {}),
}
GRID = list(
    itertools.product(
        CELLS, [True, False], ["batched", "unbatched"], ["hx", "no_hx"],
        [torch.float32, torch.float64],
    )
)


@pytest.mark.parametrize(
    "mode,bias,form,given,dtype", GRID, ids=lambda v: str(v).removeprefix("torch.")
)
def test_cell_matches_torch(mode, bias, form, given, dtype) -> None:
    theirs_cls, ours_cls, extra = CELLS[mode]
    theirs = theirs_cls(4, 6, bias=bias, dtype=dtype, **extra)
    ours = ours_cls(4, 6, bias=bias, dtype=dtype, **extra)
    ours.load_state_dict(theirs.state_dict())
    batch = (3,) if form == "batched" else ()
    x = torch.randn(*batch, 4, dtype=dtype)
    states = [torch.randn(*batch, 6, dtype=dtype) for _ in range(2 if mode == "lstm" else 1)]
    grads = []
    for cell in (theirs, ours):
        xi = x.clone().requires_grad_()
        si = [s.clone().requires_grad_() for s in states]
        hx = None if given == "no_hx" else (tuple(si) if mode == "lstm" else si[0])
        out = cell(xi, hx)
        outs = out if isinstance(out, tuple) else (out,)
        torch.manual_seed(1)
        sum((o * torch.randn(o.shape, dtype=dtype)).sum() for o in outs).backward()
        grads.append((outs, xi.grad, [s.grad for s in si], dict(cell.named_parameters())))
    (o_t, gx_t, gs_t, p_t), (o_r, gx_r, gs_r, p_r) = grads
    for a, b in zip(o_r, o_t, strict=True):
        assert a.shape == b.shape
        assert_close(a, b, dtype, "cell output")
    assert_close(gx_r, gx_t, dtype, "input gradient")
    if given == "hx":
        for a, b in zip(gs_r, gs_t, strict=True):
            assert_close(a, b, dtype, "state gradient")
    for name, p in p_r.items():
        assert_close(p.grad, p_t[name].grad, dtype, f"gradient of {name}")


def test_sigmoid_cell_is_sigmoid_of_affine() -> None:
    cell = rnn.RNNCell(3, 4, nonlinearity="sigmoid")
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    expected = torch.sigmoid(
        x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    )
    assert_close(cell(x, h).detach(), expected.detach(), torch.float32, "sigmoid cell")


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_layer_equals_cell_applied_step_by_step(kind) -> None:
    layer = getattr(rnn, kind)(3, 5)
    cell = getattr(rnn, kind + "Cell")(3, 5)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = torch.randn(7, 2, 3)
    out, _ = layer(x)
    state = None
    for t in range(7):
        state = cell(x[t], state)
        h = state[0] if kind == "LSTM" else state
        assert_close(out[t].detach(), h.detach(), torch.float32, f"step {t}")
