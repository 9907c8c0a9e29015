"""Shape errors show the input as the user passed it: batch-first inputs in their (B, T, F)
layout, unbatched inputs as (T, F), a PackedSequence by its data — never the transposed or
unsqueezed tensor the layer works on internally."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit.nn as rnn

LAYERS = [
    ("RNN", lambda bf: rnn.RNN(4, 6, batch_first=bf)),
    ("LSTM", lambda bf: rnn.LSTM(4, 6, batch_first=bf)),
    ("GRU", lambda bf: rnn.GRU(4, 6, batch_first=bf)),
    ("Recurrent", lambda bf: rnn.Recurrent("gru", 4, 6, batch_first=bf)),
    ("ElmanRNN", lambda bf: rnn.ElmanRNN(4, 6, 2, batch_first=bf)),
]


@pytest.mark.parametrize("name,make", LAYERS, ids=[n for n, _ in LAYERS])
def test_batch_first_feature_error_shows_the_batch_first_shape(name, make) -> None:
    layer = make(True)
    with pytest.raises(ValueError) as info:
        layer(torch.randn(2, 5, 7))  # (B=2, T=5, F=7)
    assert str(info.value) == (
        f"{name}: input.size(-1) must be equal to input_size=4, got 7 "
        "(input shape (2, 5, 7), batch-first (B, T, F))"
    )


@pytest.mark.parametrize("name,make", LAYERS, ids=[n for n, _ in LAYERS])
def test_time_major_feature_error_names_its_layout(name, make) -> None:
    with pytest.raises(ValueError) as info:
        make(False)(torch.randn(5, 2, 7))
    assert str(info.value) == (
        f"{name}: input.size(-1) must be equal to input_size=4, got 7 "
        "(input shape (5, 2, 7), time-major (T, B, F))"
    )


@pytest.mark.parametrize("name,make", LAYERS, ids=[n for n, _ in LAYERS])
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_feature_error_shows_the_2d_shape(name, make, batch_first) -> None:
    with pytest.raises(ValueError) as info:
        make(batch_first)(torch.randn(5, 7))
    assert str(info.value) == (
        f"{name}: input.size(-1) must be equal to input_size=4, got 7 "
        "(input shape (5, 7), unbatched (T, F))"
    )


def test_packed_feature_error_shows_the_packed_data_shape() -> None:
    packed = pack_padded_sequence(torch.randn(3, 5, 7), [5, 4, 2], batch_first=True)
    with pytest.raises(ValueError) as info:
        rnn.LSTM(4, 6, batch_first=True)(packed)
    assert str(info.value) == (
        "LSTM: input.size(-1) must be equal to input_size=4, got 7 "
        "(PackedSequence data shape (11, 7))"
    )
