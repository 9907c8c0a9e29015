"""The recurrent layer a task model is built on, chosen by a cell name from the cell table.

Task models (and the task configs) accept ``'lstm'``, ``'gru'`` and ``'rnn'`` (the Elman cell,
h_t = tanh(W x_t + U h_{t-1} + b) unless another ``nonlinearity`` is given) and every other
cell registered in :mod:`rnnkit.functional.cell_table`; the layer is
:class:`rnnkit.nn.Recurrent` over that table entry, so a new cell reaches every task model
without a change here. The parameter names are those of ``torch.nn.LSTM``/``GRU``/``RNN``.
"""

from __future__ import annotations

from typing import Any

from rnnkit.functional.cell_table import cell_names
from rnnkit.nn import Recurrent

#: The short name task models use for the Elman cell; the table names it by its nonlinearity.
ELMAN = "rnn"
_ELMAN_PREFIX = "rnn_"


def model_cells() -> tuple[str, ...]:
    """Cell names a task model accepts: 'lstm', 'gru', 'rnn', then every other table cell."""
    others = [n for n in cell_names() if n not in ("lstm", "gru") and not n.startswith("rnn_")]
    return ("lstm", "gru", ELMAN, *others)


def table_name(cell: str, nonlinearity: str = "tanh") -> str:
    """The cell table's name of a model cell name ('rnn' -> 'rnn_tanh')."""
    return f"{_ELMAN_PREFIX}{nonlinearity}" if cell == ELMAN else cell


def recurrent_layer(
    cell: str, input_size: int, hidden_size: int, *, nonlinearity: str = "tanh", **options: Any
) -> Recurrent:
    """The :class:`rnnkit.nn.Recurrent` layer of ``cell`` (options: ``num_layers``,
    ``batch_first``, ``dropout``, ``bidirectional``, ``backend``, ...)."""
    return Recurrent(table_name(cell, nonlinearity), input_size, hidden_size, **options)
