"""Bad input is refused at the boundary with a message naming layer, argument, expected, got."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit.nn as rnn

CONSTRUCTOR_ERRORS = [
    (lambda: rnn.LSTM(4, 0), ValueError, "LSTM: hidden_size must be a positive integer, got 0"),
    (lambda: rnn.GRU(4, -3), ValueError, "GRU: hidden_size must be a positive integer, got -3"),
    (lambda: rnn.RNN(4, 2.5), TypeError, "RNN: hidden_size must be an int, got float 2.5"),
    (lambda: rnn.LSTM(0, 4), ValueError, "LSTM: input_size must be a positive integer, got 0"),
    (lambda: rnn.GRU(4, 4, num_layers=0), ValueError,
     "GRU: num_layers must be a positive integer, got 0"),
    (lambda: rnn.LSTM(4, 4, num_layers=2, dropout=1.0), ValueError,
     "LSTM: dropout must be in [0, 1), got 1.0"),
    (lambda: rnn.LSTM(4, 4, num_layers=2, dropout=-0.1), ValueError,
     "LSTM: dropout must be in [0, 1), got -0.1"),
    (lambda: rnn.RNN(4, 4, nonlinearity="gelu"), ValueError,
     "RNN: nonlinearity must be one of ['tanh', 'relu', 'sigmoid'], got 'gelu'"),
    (lambda: rnn.RNNCell(4, 4, nonlinearity="swish"), ValueError,
     "RNNCell: nonlinearity must be one of ['tanh', 'relu', 'sigmoid'], got 'swish'"),
    (lambda: rnn.LSTM(4, 4, proj_size=4), ValueError,
     "LSTM: proj_size must be smaller than hidden_size=4, got 4"),
    (lambda: rnn.LSTM(4, 4, backend="cuda-magic"), ValueError,
     "LSTM: backend must be one of"),
    (lambda: rnn.GRUCell(4, 0), ValueError, "GRUCell: hidden_size must be a positive integer"),
]


@pytest.mark.parametrize("make,error,message", CONSTRUCTOR_ERRORS,
                         ids=[m for _, _, m in CONSTRUCTOR_ERRORS])
def test_constructor_errors(make, error, message) -> None:
    with pytest.raises(error) as info:
        make()
    assert str(info.value).startswith(message)


def test_dropout_with_one_layer_warns_like_torch() -> None:
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers > 1"):
        rnn.GRU(4, 4, dropout=0.2)


lstm = rnn.LSTM(4, 6, num_layers=2)
x = torch.randn(5, 3, 4)
h_ok, c_ok = torch.zeros(2, 3, 6), torch.zeros(2, 3, 6)

FORWARD_ERRORS = [
    (lambda: lstm(torch.randn(2, 5, 3, 4)), ValueError,
     "LSTM: input must be 2-D (unbatched) or 3-D (batched), got a 4-D tensor of shape "
     "(2, 5, 3, 4)"),
    (lambda: lstm(torch.randn(5, 3, 7)), ValueError,
     "LSTM: input.size(-1) must be equal to input_size=4, got 7 (input shape (5, 3, 7), "
     "time-major (T, B, F))"),
    (lambda: lstm(x.double()), TypeError,
     "LSTM: input must have the parameters' dtype torch.float32, got torch.float64"),
    (lambda: lstm(x.long()), TypeError,
     "LSTM: input must be a floating-point tensor, got torch.int64"),
    (lambda: lstm([[1.0]]), TypeError, "LSTM: input must be a torch.Tensor, got list"),
    (lambda: lstm(x.to("meta")), ValueError,
     "LSTM: input must be on the parameters' device cpu, got meta"),
    (lambda: lstm(x, (torch.zeros(1, 3, 6), c_ok)), ValueError,
     "LSTM: hx[0] (h_0) must have shape (2, 3, 6), got (1, 3, 6)"),
    (lambda: lstm(x, (h_ok, torch.zeros(2, 3, 5))), ValueError,
     "LSTM: hx[1] (c_0) must have shape (2, 3, 6), got (2, 3, 5)"),
    (lambda: lstm(x, h_ok), TypeError,
     "LSTM: hx must be a tuple (h_0, c_0) of two tensors, got Tensor"),
    (lambda: lstm(x, (h_ok[:, 0], c_ok[:, 0])), ValueError,
     "LSTM: for batched 3-D input, hx[0] (h_0) must be 3-D, got a 2-D tensor of shape (2, 6)"),
    (lambda: lstm(x[:, 0], (h_ok, c_ok)), ValueError,
     "LSTM: for unbatched 2-D input, hx[0] (h_0) must be 2-D, got a 3-D tensor"),
    (lambda: lstm(x, lengths=[5, 0, 2]), ValueError,
     "LSTM: lengths must be in [1, 5] (the input has 5 steps), got 0 at index 1"),
    (lambda: lstm(x, lengths=[5, 6, 2]), ValueError,
     "LSTM: lengths must be in [1, 5] (the input has 5 steps), got 6 at index 1"),
    (lambda: lstm(x, lengths=[5, 2]), ValueError,
     "LSTM: lengths must have one entry per batch sample (3), got 2"),
    (lambda: lstm(x, lengths=torch.tensor([5.0, 2.0, 1.0])), TypeError,
     "LSTM: lengths must hold integers, got dtype torch.float32"),
    (lambda: lstm(x, lengths="abc"), TypeError,
     "LSTM: lengths must be a 1-D integer tensor or a sequence of ints, got str"),
    (lambda: lstm(x[:, 0], lengths=[5]), ValueError,
     "LSTM: lengths= needs batched 3-D input, got 2-D input"),
    (lambda: lstm(pack_padded_sequence(x, [5, 3, 2]), lengths=[5, 3, 2]), ValueError,
     "LSTM: lengths= cannot be combined with a PackedSequence input"),
    (lambda: lstm(torch.randn(0, 3, 4)), ValueError,
     "LSTM: input must have at least one time step, got 0"),
    (lambda: rnn.GRU(4, 6)(x, torch.zeros(1, 2, 6)), ValueError,
     "GRU: hx must have shape (1, 3, 6), got (1, 2, 6)"),
    (lambda: rnn.RNNCell(4, 6)(x[0], torch.zeros(6)), ValueError,
     "RNNCell: hx must have shape (3, 6), got (6,)"),
    (lambda: rnn.LSTMCell(4, 6)(x), ValueError,
     "LSTMCell: input must be 1-D (unbatched) or 2-D (batched), got a 3-D tensor"),
    (lambda: rnn.GRUCell(4, 6)(x[0, :, :3]), ValueError,
     "GRUCell: input.size(-1) must be equal to input_size=4, got 3"),
    (lambda: rnn.ElmanRNN(4, 6, 2)(x, torch.zeros(3, 5)), ValueError,
     "ElmanRNN: h0 must have shape (3, 6), got (3, 5)"),
]


@pytest.mark.parametrize("call,error,message", FORWARD_ERRORS,
                         ids=[m[:60] for _, _, m in FORWARD_ERRORS])
def test_forward_errors(call, error, message) -> None:
    with pytest.raises(error) as info:
        call()
    assert str(info.value).startswith(message), str(info.value)
