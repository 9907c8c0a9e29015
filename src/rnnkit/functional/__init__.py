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
from rnnkit.functional.minimal import (
    MIN_CELLS,
    min_sequence_parallel,
    mingru_step,
    minlstm_step,
    parallel_scan_log,
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
    "MIN_CELLS",
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
    "min_sequence_parallel",
    "mingru_step",
    "minlstm_step",
    "parallel_scan_log",
    "register_cell",
    "reverse_padded",
    "run_sequence",
    "unregister_cell",
]
