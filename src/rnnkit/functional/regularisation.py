r"""Recurrent regularisation around any cell's step: variational recurrent dropout and zoneout.

Both act on the state a cell carries from step to step, which ordinary (between-layer) dropout
never touches, so they are written once here as a transformation of a table cell's reference
step (:func:`regularised_cell`), and every cell of the table gets them.

**Recurrent dropout** (Gal & Ghahramani 2016, variational dropout): the h_{t−1} a cell *reads*
is multiplied by one mask per sequence (and per layer and direction), the same at every step —
a mask redrawn per step would add noise to the long-range memory the recurrence must keep:

.. math::
    m \sim \mathrm{Bernoulli}(1 - p)^{B \times H_{out}} / (1 - p), \qquad
    (y_t, s_t) = \mathrm{step}(x_t, (m \odot h_{t-1}, c_{t-1}, \dots))

The state carried forward and the output are the cell's own (not masked); in evaluation the
mask is 1 (inverted dropout, so no rescaling is needed there).

**Zoneout** (Krueger et al. 2016): in training each unit of every state tensor (h and, for the
LSTM, c) keeps its previous value with probability p, with a fresh mask per step; in
evaluation the state is the expectation of that:

.. math::
    \text{training: } s_t = d_t \odot s_{t-1} + (1 - d_t) \odot \tilde s_t, \;
    d_t \sim \mathrm{Bernoulli}(p); \qquad
    \text{evaluation: } s_t = p\, s_{t-1} + (1 - p)\, \tilde s_t

where :math:`\tilde s_t` is the cell's new state. The output y_t is the zoned h_t. p = 0 is the
plain cell; p = 1 keeps the initial state for ever.

Masks come from torch's default generator, so ``torch.manual_seed`` reproduces them. They are
drawn in one place, :func:`draw_masks` (the driver calls it once per layer and direction, before
choosing a backend), so that the reference step (:func:`regularised_cell`) and the fused kernels
read the very same masks: the zoneout masks of a whole sequence are drawn up front, one
(T, B, S) tensor per state tensor, indexed by processing step (step s of a reversed run is time
``length − 1 − s`` of each sample).

Shape legend: T steps, B batch, H hidden units, H_out the width of h, S the width of a state
tensor (H_out for h, H for c).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnkit.functional import cell_table
from rnnkit.functional.cell_table import CellSpec, State
from rnnkit.functional.cells import LayerWeights


def _fused_lstm_step(x: Tensor, state: State, w: LayerWeights) -> tuple[Tensor, State]:
    if w.w_hr is not None:  # torch's fused cell has no projection
        return cell_table._lstm_step(x, state, w)
    h, c = torch.lstm_cell(x, (state[0], state[1]), w.w_ih, w.w_hh, w.b_ih, w.b_hh)
    return h, (h, c)


def _fused_gru_step(x: Tensor, state: State, w: LayerWeights) -> tuple[Tensor, State]:
    h = torch.gru_cell(x, state[0], w.w_ih, w.w_hh, w.b_ih, w.b_hh)
    return h, (h,)


# The built-in LSTM and GRU steps as torch's fused single-step cells: the same equations with
# a fused backward (a few autograd nodes a step instead of a dozen), which is most of the time
# of a regularised training step on the reference loop. A cell registered in their place
# (replace=True) has another step and keeps it.
_FUSED_STEPS = {cell_table._lstm_step: _fused_lstm_step, cell_table._gru_step: _fused_gru_step}


def recurrent_dropout_mask(like: Tensor, p: float) -> Tensor:
    """One inverted-dropout mask the shape of ``like`` (B, H_out): 0 or 1 / (1 − p).

    Drawn from torch's default generator for ``like``'s device; p in [0, 1).
    """
    keep = 1.0 - p
    return torch.empty_like(like).bernoulli_(keep).div_(keep)


def zoneout(new: Tensor, old: Tensor, p: float, training: bool,
            keep: Tensor | None = None) -> Tensor:
    r"""Zoneout of one state tensor: each unit keeps ``old`` with probability p (training, a
    fresh mask per call) or the expectation :math:`p\,old + (1 - p)\,new` (evaluation).

    new, old: (B, S) the cell's new state and the previous state. keep: (B, S) the training
    mask to use instead of drawing one (1 where the unit keeps ``old``, else 0).
    """
    if p == 0.0:
        return new
    if not training:
        return torch.lerp(new, old, p)  # new + p (old − new)
    if keep is None:
        keep = torch.empty_like(new).bernoulli_(p)
    return torch.where(keep.bool(), old, new)


@dataclass(frozen=True)
class RecurrentMasks:
    """The regularisers of one layer and direction over one sequence, masks already drawn.

    Attributes:
        h_mask: (B, H_out) the recurrent-dropout mask (0 or 1 / (1 − p)), or None.
        zone: per state tensor a (T, B, S) zoneout mask (1 where the unit keeps its previous
            value), indexed by processing step; None in evaluation or without zoneout.
        zoneout_p: p of zoneout (0: none); in evaluation the state is the expectation.
        training: whether zoneout samples (``zone``) or takes the expectation.
    """

    h_mask: Tensor | None
    zone: tuple[Tensor, ...] | None
    zoneout_p: float
    training: bool


def draw_masks(state: State, steps: int, recurrent_dropout: float, zoneout_p: float,
               training: bool) -> RecurrentMasks:
    """Draw every mask of one layer and direction over a sequence of ``steps`` steps.

    Args:
        state: the initial state, a tuple of (B, S) tensors (the masks take their shapes,
            dtype and device).
        steps: T. recurrent_dropout: p of the h mask. zoneout_p: p of zoneout.
        training: masks are drawn only in training (evaluation uses none for recurrent
            dropout and the expectation for zoneout).

    The h mask is drawn first, then the zoneout masks state by state (h, then c), all from
    torch's default generator. The zoneout masks hold T·B·S values per state tensor in the
    state's dtype (as much memory as one of the activations training saves for backward).
    """
    h_mask = None
    if training and recurrent_dropout > 0:
        h_mask = recurrent_dropout_mask(state[0], recurrent_dropout)
    zone = None
    if training and zoneout_p > 0:
        zone = tuple(s.new_empty((steps, *s.shape)).bernoulli_(zoneout_p) for s in state)
    return RecurrentMasks(h_mask, zone, zoneout_p, training)


def regularised_cell(
    spec: CellSpec, *, h_mask: Tensor | None = None, zoneout_p: float = 0.0,
    training: bool = False, zone: tuple[Tensor, ...] | None = None,
) -> CellSpec:
    """``spec`` with its reference step wrapped in recurrent dropout and zoneout.

    Args:
        spec: the cell.
        h_mask: (B, H_out) the recurrent-dropout mask of this sequence (and layer, direction),
            from :func:`recurrent_dropout_mask`, or None for none.
        zoneout_p: the zoneout probability in [0, 1] (0: none).
        training: zoneout draws masks when True and uses the expectation when False.
        zone: per state tensor the (T, B, S) training masks of the whole run (from
            :func:`draw_masks`): the n-th call of the step uses row n. None: each call draws
            its own.

    Returns:
        a spec with the same name and shapes (it is not registered: it exists for one call),
        whose step is the regularised step; a run of it is a run of the cell with those
        regularisers (:func:`rnnkit.functional.run_sequence` handles lengths and reversal as
        for any cell). With ``zone`` it serves one run of at most T steps.
    """
    inner = _FUSED_STEPS.get(spec.step, spec.step)
    calls = [0]  # steps taken so far: the row of ``zone`` the next step uses

    def step(x: Tensor, state: State, w: LayerWeights) -> tuple[Tensor, State]:
        read = state if h_mask is None else (state[0] * h_mask, *state[1:])
        y, new = inner(x, read, w)
        if zoneout_p == 0.0:
            return y, new
        keeps: tuple[Tensor | None, ...] = (None,) * len(new)
        if zone is not None and training:
            row = calls[0]
            if row >= zone[0].shape[0]:
                raise ValueError(f"regularised_cell: zone holds masks for {zone[0].shape[0]} "
                                 f"steps, got a call for step {row + 1}")
            keeps = tuple(z[row] for z in zone)
            calls[0] = row + 1
        new = tuple(zoneout(n, old, zoneout_p, training, k)
                    for n, old, k in zip(new, state, keeps, strict=True))
        return new[0], new

    return dataclasses.replace(spec, step=step)
