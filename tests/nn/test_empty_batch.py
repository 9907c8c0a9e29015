"""An empty batch (B = 0) gives what torch.nn gives: empty outputs, empty final states and
gradients (zero for the parameters, empty for the input and initial states), on every backend.

The numba kernels used to fail inside a reshape with a RuntimeError on B = 0."""

from __future__ import annotations

import itertools

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.kernels import available_backends
from tests.nn.helpers import make_pair

T, F, H, P = 4, 3, 5, 2
VARIANTS = [("rnn_tanh", 0), ("rnn_relu", 0), ("gru", 0), ("lstm", 0), ("lstm", P)]
BACKENDS = [b for b in ("numba", "torch", "reference") if b in available_backends()]
GRID = list(
    itertools.product(
        VARIANTS,
        [False, True],  # batch_first
        [False, True],  # bidirectional
        [1, 2],  # num_layers
        [False, True],  # lengths= (an empty list of lengths)
        BACKENDS,
    )
)


def _id(case) -> str:
    (mode, proj), batch_first, bidir, layers, lengths, backend = case
    return "-".join(
        [
            mode + (f"+proj{proj}" if proj else ""),
            "bf" if batch_first else "tf",
            "bi" if bidir else "uni",
            f"L{layers}",
            "lengths" if lengths else "full",
            backend,
        ]
    )


def _states(state) -> tuple[torch.Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("case", GRID, ids=[_id(c) for c in GRID])
def test_empty_batch_matches_torch(case) -> None:
    (mode, proj), batch_first, bidir, layers, with_lengths, backend = case
    kwargs = dict(
        input_size=F, hidden_size=H, num_layers=layers, batch_first=batch_first,
        bidirectional=bidir,
    )
    if proj:
        kwargs["proj_size"] = proj
    theirs, ours = make_pair(mode, **kwargs)
    ours.backend = backend
    shape = (0, T, F) if batch_first else (T, 0, F)
    x_theirs = torch.randn(shape, requires_grad=True)
    x_ours = x_theirs.detach().clone().requires_grad_(True)

    out_t, state_t = theirs(x_theirs)
    if with_lengths:
        out_o, state_o = ours(x_ours, lengths=torch.zeros(0, dtype=torch.int64))
    else:
        out_o, state_o = ours(x_ours)
    state_t, state_o = _states(state_t), _states(state_o)

    assert out_o.shape == out_t.shape
    assert out_o.dtype == out_t.dtype
    assert [s.shape for s in state_o] == [s.shape for s in state_t]

    loss_t = out_t.sum() + sum(s.sum() for s in state_t)
    loss_o = out_o.sum() + sum(s.sum() for s in state_o)
    loss_t.backward()
    loss_o.backward()
    assert x_ours.grad is not None and x_ours.grad.shape == x_theirs.grad.shape
    for (name, p_t), (name_o, p_o) in zip(
        theirs.named_parameters(), ours.named_parameters(), strict=True
    ):
        assert name == name_o
        assert p_o.grad is not None, f"{name}: no gradient"
        assert p_o.grad.shape == p_t.grad.shape, name
        assert torch.equal(p_o.grad, p_t.grad), f"{name}: {p_o.grad} != {p_t.grad}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["rnn_tanh", "gru", "lstm"])
def test_empty_batch_with_initial_state_gets_its_gradient(mode: str, backend: str) -> None:
    theirs, ours = make_pair(mode, input_size=F, hidden_size=H, num_layers=2)
    ours.backend = backend
    states = 2 if mode == "lstm" else 1
    grads = []
    for layer in (theirs, ours):
        h0 = tuple(torch.zeros(2, 0, H, requires_grad=True) for _ in range(states))
        out, final = layer(torch.randn(T, 0, F), h0 if states > 1 else h0[0])
        (out.sum() + sum(s.sum() for s in _states(final))).backward()
        grads.append([h.grad for h in h0])
    for g_theirs, g_ours in zip(*grads, strict=True):
        assert g_ours is not None and g_ours.shape == g_theirs.shape == (2, 0, H)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_batch_without_autograd(backend: str) -> None:
    layer = rnn.LSTM(F, H, bidirectional=True, backend=backend)
    with torch.no_grad():
        out, (h_n, c_n) = layer(torch.randn(T, 0, F))
    assert out.shape == (T, 0, 2 * H)
    assert h_n.shape == c_n.shape == (2, 0, H)


@pytest.mark.parametrize("mode", ["rnn_tanh", "gru", "lstm"])
def test_streaming_step_of_an_empty_batch(mode: str) -> None:
    theirs, ours = make_pair(mode, input_size=F, hidden_size=H, num_layers=2)
    with torch.no_grad():
        y, state = ours.step(torch.randn(0, F))
        out_t, state_t = theirs(torch.randn(1, 0, F))
    assert y.shape == out_t.shape[1:] == (0, H)
    assert [s.shape for s in _states(state)] == [s.shape for s in _states(state_t)]
