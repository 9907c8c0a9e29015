"""Reference sequence loops: run a cell over time, with per-sample lengths and reversal.

Conventions (shared with every backend):

* ``x`` is time-major (T, B, F); ``lengths`` is None or an int64 tensor (B,) with
  1 <= lengths[b] <= T.
* Outputs past a sample's length are zero, and its final state is the state after its last real
  step.
* ``reverse=True`` runs each sample backwards *within its own length* (what torch does for a
  ``PackedSequence``): step 0 of the reversed run reads x[lengths[b] - 1, b], and the output for
  time t is written back at time t.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.functional.cells import LayerWeights
from rnnkit.functional.recurrence import Recurrence, State, get_recurrence


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sample of a time-major (T, B, ...) tensor within its length.

    Entries past a sample's length stay where they are. The map is its own inverse.
    """
    if lengths is None:
        return x.flip(0)
    T, B = x.shape[0], x.shape[1]
    t = torch.arange(T, device=x.device).unsqueeze(1)  # (T, 1)
    lens = lengths.to(x.device).unsqueeze(0)  # (1, B)
    index = torch.where(t < lens, lens - 1 - t, t)  # (T, B)
    index = index.view(T, B, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, index)


def run_sequence(
    recurrence: Recurrence | str,
    x: Tensor,
    state: State,
    weights: LayerWeights,
    lengths: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, State]:
    """Run one layer in one direction over a sequence, step by step.

    Args:
        recurrence: the cell family (or its mode name, e.g. 'lstm').
        x: (T, B, F) time-major input.
        state: initial state, a tuple of (B, S) tensors (``recurrence.state_sizes``).
        weights: this layer's :class:`LayerWeights`.
        lengths: (B,) int64 valid steps per sample, or None when all have T steps.
        reverse: run each sample backwards within its length.

    Returns:
        output (T, B, H_out), zero past each length, and the final state (a tuple of (B, S)).
    """
    rec = get_recurrence(recurrence) if isinstance(recurrence, str) else recurrence
    if reverse:
        x = reverse_padded(x, lengths)
    valid = None
    if lengths is not None:
        steps = torch.arange(x.shape[0], device=x.device).unsqueeze(1)  # (T, 1)
        valid = (steps < lengths.to(x.device).unsqueeze(0)).unsqueeze(-1)  # (T, B, 1)
    outputs = []
    for t in range(x.shape[0]):
        y, new_state = rec.step(x[t], state, weights)
        if valid is not None:
            # A finished sample keeps its state and emits zeros.
            y = torch.where(valid[t], y, torch.zeros_like(y))
            new_state = tuple(
                torch.where(valid[t], new, old) for new, old in zip(new_state, state, strict=True)
            )
        outputs.append(y)
        state = new_state
    out = torch.stack(outputs)  # (T, B, H_out)
    if reverse:
        out = reverse_padded(out, lengths)
    return out, state


def elman_sequence(
    x: Tensor,
    h0: Tensor,
    weights: LayerWeights,
    lengths: Tensor | None = None,
    reverse: bool = False,
    nonlinearity: str = "tanh",
) -> tuple[Tensor, Tensor]:
    r"""Elman layer: :math:`h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`

    x (T, B, F), h0 (B, H) -> output (T, B, H), h_T (B, H).
    """
    out, (h,) = run_sequence(f"rnn_{nonlinearity}", x, (h0,), weights, lengths, reverse)
    return out, h


def lstm_sequence(
    x: Tensor,
    state: tuple[Tensor, Tensor],
    weights: LayerWeights,
    lengths: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """LSTM layer over a sequence (see :func:`rnnkit.functional.lstm_cell`).

    x (T, B, F), (h0 (B, H_out), c0 (B, H)) -> output (T, B, H_out), (h_T, c_T).
    """
    out, (h, c) = run_sequence("lstm", x, state, weights, lengths, reverse)
    return out, (h, c)


def gru_sequence(
    x: Tensor,
    h0: Tensor,
    weights: LayerWeights,
    lengths: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, Tensor]:
    """GRU layer over a sequence (see :func:`rnnkit.functional.gru_cell`).

    x (T, B, F), h0 (B, H) -> output (T, B, H), h_T (B, H).
    """
    out, (h,) = run_sequence("gru", x, (h0,), weights, lengths, reverse)
    return out, h
