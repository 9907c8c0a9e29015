"""Shared helpers for comparing rnnkit layers with torch.nn ones."""

from __future__ import annotations

import torch

import rnnkit.nn as rnn

TOLERANCE = {torch.float32: 2e-5, torch.float64: 1e-10}

# mode -> (torch class, rnnkit class, extra constructor kwargs)
LAYERS = {
    "rnn_tanh": (torch.nn.RNN, rnn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (torch.nn.RNN, rnn.RNN, {"nonlinearity": "relu"}),
    "lstm": (torch.nn.LSTM, rnn.LSTM, {}),
    "gru": (torch.nn.GRU, rnn.GRU, {}),
}


def make_pair(mode: str, dtype: torch.dtype = torch.float32, **kwargs):
    """A torch.nn layer and an rnnkit.nn layer of the same kind holding the same weights."""
    theirs_cls, ours_cls, extra = LAYERS[mode]
    theirs = theirs_cls(dtype=dtype, **extra, **kwargs)
    ours = ours_cls(dtype=dtype, **extra, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    return theirs, ours


def assert_close(actual, expected, dtype, what: str) -> None:
    tol = TOLERANCE[dtype]
    diff = (actual - expected).abs().max().item() if actual.numel() else 0.0
    assert diff <= tol, f"{what}: max |difference| {diff:.3e} exceeds tolerance {tol:.0e}"
