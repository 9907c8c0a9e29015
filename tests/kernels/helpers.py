"""Shared helpers for the kernel tests: run a layer forward and backward, compare everything."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import rnnkit.nn as rnn

# float32: the fast tanh/σ differ from libm by ≤ 3e-7 and products are summed in another order.
TOLERANCE = {torch.float32: 3e-5, torch.float64: 1e-10}

# mode -> (rnnkit class, torch class or None, constructor kwargs)
MODES = {
    "rnn_tanh": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "rnn_sigmoid": (rnn.RNN, None, {"nonlinearity": "sigmoid"}),
    "lstm": (rnn.LSTM, torch.nn.LSTM, {}),
    "lstm_proj": (rnn.LSTM, torch.nn.LSTM, {"proj_size": 3}),
    "gru": (rnn.GRU, torch.nn.GRU, {}),
}


@dataclass
class Result:
    """Everything a forward + backward produced, padded and detached."""

    output: torch.Tensor
    states: list[torch.Tensor]
    grad_input: torch.Tensor
    grad_states: list[torch.Tensor]
    grad_params: dict[str, torch.Tensor]


def run_layer(layer, x, hx, lengths=None, packed=False, seed=1) -> Result:
    """Forward and backward through ``layer`` with fixed upstream gradients.

    x (T, B, F) and the tensors of ``hx`` are leaves that require grad; with ``packed`` the input
    goes in as an unsorted PackedSequence, else with ``lengths=`` (or neither).
    """
    layer.zero_grad()
    x = x.detach().clone().requires_grad_(True)
    states_in = [s.detach().clone().requires_grad_(True) for s in hx]
    hx_arg = tuple(states_in) if len(states_in) == 2 else states_in[0]
    if packed:
        inp = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, final = layer(inp, hx_arg)
        assert isinstance(out, PackedSequence)
        out, _ = pad_packed_sequence(out, total_length=x.shape[0])
    elif lengths is not None and isinstance(layer, rnn.RNNBase):
        out, final = layer(x, hx_arg, lengths=lengths)
    else:
        out, final = layer(x, hx_arg)
    finals = list(final) if isinstance(final, tuple) else [final]
    gen = torch.Generator().manual_seed(seed)
    loss = (out * torch.randn(out.shape, generator=gen, dtype=out.dtype)).sum()
    for f in finals:
        loss = loss + (f * torch.randn(f.shape, generator=gen, dtype=f.dtype)).sum()
    loss.backward()
    return Result(
        output=out.detach(),
        states=[f.detach() for f in finals],
        grad_input=x.grad.detach(),
        grad_states=[s.grad.detach() for s in states_in],
        grad_params={n: p.grad.detach() for n, p in layer.named_parameters()},
    )


def assert_results_close(actual: Result, expected: Result, tol: float, label: str) -> None:
    """Every field of two results agrees within ``tol`` (max absolute difference)."""
    pairs = [("output", actual.output, expected.output), ("grad input", actual.grad_input,
             expected.grad_input)]
    pairs += [(f"state {i}", a, e) for i, (a, e) in enumerate(zip(actual.states,
              expected.states, strict=True))]
    pairs += [(f"grad state {i}", a, e) for i, (a, e) in enumerate(zip(actual.grad_states,
              expected.grad_states, strict=True))]
    assert actual.grad_params.keys() == expected.grad_params.keys()
    pairs += [(f"grad {n}", actual.grad_params[n], expected.grad_params[n])
              for n in expected.grad_params]
    for what, a, e in pairs:
        assert a.shape == e.shape, f"{label}: {what} shape {tuple(a.shape)} != {tuple(e.shape)}"
        diff = (a - e).abs().max().item() if a.numel() else 0.0
        assert diff <= tol, f"{label}: {what} max |difference| {diff:.3e} > tolerance {tol:.0e}"


def random_state(layer, batch: int, dtype: torch.dtype) -> list[torch.Tensor]:
    """A random initial state for ``layer`` (the (L·D, B, ·) tensors forward takes)."""
    return [torch.randn(shape, dtype=dtype) for shape in layer._state_shapes(batch)]
