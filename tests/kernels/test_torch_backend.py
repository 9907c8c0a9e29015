"""The ``torch`` backend (cuDNN on CUDA) follows the backend contract; checked here on the CPU."""

from __future__ import annotations

import itertools

import pytest
import torch

import rnnkit.nn as rnn
from tests.kernels.helpers import MODES, TOLERANCE, assert_results_close, random_state, run_layer

T, B, F, H = 5, 3, 4, 5
LENGTHS = torch.tensor([5, 1, 3])
CASES = list(itertools.product(
    ("rnn_tanh", "rnn_relu", "lstm", "lstm_proj", "gru"), (True, False), (False, True),
    ("full", "lengths"),
))


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize(("mode", "bias", "bidir", "lens"), CASES,
                         ids=["-".join(map(str, c)) for c in CASES])
def test_torch_backend_matches_reference(mode, bias, bidir, lens) -> None:
    cls, _, extra = MODES[mode]
    kwargs = dict(num_layers=2, bias=bias, bidirectional=bidir, dtype=torch.float64, **extra)
    ours = cls(F, H, backend="torch", **kwargs)
    ref = cls(F, H, backend="reference", **kwargs)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(T, B, F, dtype=torch.float64)
    hx = random_state(ours, B, torch.float64)
    lengths = LENGTHS if lens == "lengths" else None
    assert_results_close(run_layer(ours, x, hx, lengths), run_layer(ref, x, hx, lengths),
                         TOLERANCE[torch.float64], f"torch backend {mode}")


def test_elman_network_input_bias_only_on_torch_backend() -> None:
    ours = rnn.ElmanRNN(F, H, 2, hidden_activation="tanh", backend="torch", dtype=torch.float64)
    ref = rnn.ElmanRNN(F, H, 2, hidden_activation="tanh", backend="reference",
                       dtype=torch.float64)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(T, B, F, dtype=torch.float64)
    h0 = torch.randn(B, H, dtype=torch.float64)
    assert_results_close(run_layer(ours, x, [h0]), run_layer(ref, x, [h0]),
                         TOLERANCE[torch.float64], "ElmanRNN on the torch backend")


@pytest.mark.parametrize("lens", ["full", "lengths"])
def test_torch_backend_runs_the_stack_as_torch_nn_does_dropout_included(lens) -> None:
    """The torch backend runs a whole stack in one call, so in training its dropout between
    layers draws what torch.nn draws under the same seed: outputs and gradients are equal."""
    ours = rnn.LSTM(F, H, num_layers=3, dropout=0.5, bidirectional=True, backend="torch",
                    dtype=torch.float64).train()
    theirs = torch.nn.LSTM(F, H, num_layers=3, dropout=0.5, bidirectional=True,
                           dtype=torch.float64).train()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(T, B, F, dtype=torch.float64)
    results = []
    for layer in (ours, theirs):
        inputs = x if lens == "full" else torch.nn.utils.rnn.pack_padded_sequence(
            x, LENGTHS, enforce_sorted=False)
        torch.manual_seed(7)
        out, (h, c) = layer(inputs)
        if lens == "lengths":
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
        (out.square().sum() + h.sum() + c.sum()).backward()
        results.append((out, h, c, *(p.grad for p in layer.parameters())))
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b)
    torch.manual_seed(8)
    assert not torch.equal(ours(x)[0], results[0][0])  # another seed drops other units
