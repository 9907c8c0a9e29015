"""Recurrence objects: what the shared sequence driver needs to know about a cell.

A :class:`Recurrence` is a small immutable description of one cell family: its name (the
``mode``), how many gate blocks its weights stack, how many state tensors it carries and their
widths, and its reference step. The sequence loop, the layers and the kernel registry all speak
in terms of it, so adding a cell means adding one of these.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from rnnkit.functional.cells import LayerWeights, elman_cell, gru_cell, lstm_cell

State = tuple[Tensor, ...]


@dataclass(frozen=True)
class Recurrence:
    """One cell family.

    Attributes:
        mode: 'rnn_tanh', 'rnn_relu', 'rnn_sigmoid', 'lstm' or 'gru'.
        gates: gate blocks stacked in ``w_ih``/``w_hh`` (1, 4 or 3).
        nonlinearity: the Elman activation, or None for LSTM/GRU.
    """

    mode: str
    gates: int
    nonlinearity: str | None = None

    @property
    def num_states(self) -> int:
        """Number of state tensors: 2 for LSTM (h, c), 1 otherwise (h,)."""
        return 2 if self.mode == "lstm" else 1

    def state_sizes(self, hidden_size: int, proj_size: int = 0) -> tuple[int, ...]:
        """Width of each state tensor: (H_out, H) for LSTM, (H,) otherwise."""
        if self.mode == "lstm":
            return (proj_size or hidden_size, hidden_size)
        return (hidden_size,)

    def output_size(self, hidden_size: int, proj_size: int = 0) -> int:
        """Width of the per-step output h_t: P for a projected LSTM, H otherwise."""
        return proj_size if (self.mode == "lstm" and proj_size) else hidden_size

    def step(self, x: Tensor, state: State, w: LayerWeights) -> tuple[Tensor, State]:
        """One reference step: x (B, F), state -> (output h_t (B, H_out), new state)."""
        if self.mode == "lstm":
            h, c = lstm_cell(x, (state[0], state[1]), w.w_ih, w.w_hh, w.b_ih, w.b_hh, w.w_hr)
            return h, (h, c)
        if self.mode == "gru":
            h = gru_cell(x, state[0], w.w_ih, w.w_hh, w.b_ih, w.b_hh)
        else:
            assert self.nonlinearity is not None  # internal invariant, set for every rnn_* mode
            h = elman_cell(x, state[0], w.w_ih, w.w_hh, w.b_ih, w.b_hh, self.nonlinearity)
        return h, (h,)


RECURRENCES: dict[str, Recurrence] = {
    "rnn_tanh": Recurrence("rnn_tanh", 1, "tanh"),
    "rnn_relu": Recurrence("rnn_relu", 1, "relu"),
    "rnn_sigmoid": Recurrence("rnn_sigmoid", 1, "sigmoid"),
    "lstm": Recurrence("lstm", 4),
    "gru": Recurrence("gru", 3),
}


def get_recurrence(mode: str) -> Recurrence:
    """Look up a cell family by mode name, e.g. ``get_recurrence('gru')``."""
    try:
        return RECURRENCES[mode]
    except KeyError:
        raise ValueError(f"mode must be one of {sorted(RECURRENCES)}, got {mode!r}") from None
