"""Layers: drop-in replacements for torch's recurrent layers, plus the tutorial's Elman network."""

from rnnkit.nn.cells import Cell, GRUCell, LSTMCell, RNNCell
from rnnkit.nn.conv_rnn import ConvGRU, ConvLSTM
from rnnkit.nn.elman import ElmanRNN
from rnnkit.nn.minimal import MinGRU, MinLSTM
from rnnkit.nn.rnn import GRU, LSTM, RNN, Recurrent, RNNBase

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Cell",
    "ConvGRU",
    "ConvLSTM",
    "ElmanRNN",
    "GRUCell",
    "LSTMCell",
    "MinGRU",
    "MinLSTM",
    "RNNBase",
    "RNNCell",
    "Recurrent",
]
