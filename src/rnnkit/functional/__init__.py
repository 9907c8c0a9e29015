"""Reference math: plain-torch cell steps and sequence loops (the specification of rnnkit)."""

from rnnkit.functional.cell_table import (
    PARAMETER_KINDS,
    CellSpec,
    ExtraParameter,
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
from rnnkit.functional.normalised import LN_CELLS, gru_ln_cell, layer_norm, lstm_ln_cell
from rnnkit.functional.recurrence import RECURRENCES, Recurrence, State, get_recurrence
from rnnkit.functional.regularisation import (
    RecurrentMasks,
    draw_masks,
    recurrent_dropout_mask,
    regularised_cell,
    zoneout,
)
from rnnkit.functional.sequence import (
    elman_sequence,
    gru_sequence,
    lstm_sequence,
    reverse_padded,
    run_sequence,
)

__all__ = [
    "LN_CELLS",
    "MIN_CELLS",
    "NONLINEARITIES",
    "PARAMETER_KINDS",
    "RECURRENCES",
    "CellSpec",
    "ExtraParameter",
    "LayerWeights",
    "Recurrence",
    "RecurrentMasks",
    "State",
    "activation",
    "cell_names",
    "draw_masks",
    "elman_cell",
    "elman_sequence",
    "get_cell",
    "get_recurrence",
    "gru_cell",
    "gru_ln_cell",
    "gru_sequence",
    "layer_norm",
    "lstm_cell",
    "lstm_ln_cell",
    "lstm_sequence",
    "min_sequence_parallel",
    "mingru_step",
    "minlstm_step",
    "parallel_scan_log",
    "recurrent_dropout_mask",
    "register_cell",
    "regularised_cell",
    "reverse_padded",
    "run_sequence",
    "unregister_cell",
    "zoneout",
]
