"""Reference math: plain-torch cell steps and sequence loops (the specification of rnnkit)."""

from rnnkit.functional.cell_table import (
    PARAMETER_KINDS,
    CellSpec,
    cell_names,
    get_cell,
    register_cell,
    unregister_cell,
)
from rnnkit.functional.cells import (
    NONLINEARITIES,
    LayerWeights,
    activation,
    elman_cell,
    gru_cell,
    lstm_cell,
)
from rnnkit.functional.recurrence import RECURRENCES, Recurrence, State, get_recurrence
from rnnkit.functional.sequence import (
    elman_sequence,
    gru_sequence,
    lstm_sequence,
    reverse_padded,
    run_sequence,
)

__all__ = [
    "NONLINEARITIES",
    "PARAMETER_KINDS",
    "RECURRENCES",
    "CellSpec",
    "LayerWeights",
    "Recurrence",
    "State",
    "activation",
    "cell_names",
    "elman_cell",
    "elman_sequence",
    "get_cell",
    "get_recurrence",
    "gru_cell",
    "gru_sequence",
    "lstm_cell",
    "lstm_sequence",
    "register_cell",
    "reverse_padded",
    "run_sequence",
    "unregister_cell",
]
