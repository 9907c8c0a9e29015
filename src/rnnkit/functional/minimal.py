r"""The minimal, parallel-in-time cells minGRU and minLSTM (Feng et al. 2024).

"Were RNNs All We Needed?" (Feng, Tung, Ahmed, Bengio, Hajimirsadeghi, arXiv:2410.01201) drops
the hidden state from every gate, so that a layer's gates depend on x_t alone. All the matrix
products of a sequence become one large product :math:`X W_{ih}^\top + b_{ih}`, and what is left
over time is the elementwise *linear* recurrence

.. math::
    h_t = a_t \odot h_{t-1} + b_t

with coefficients computed from that product. Here, with the candidate kept positive by
:math:`g(v) = v + \tfrac12` for :math:`v \ge 0` and :math:`\sigma(v)` otherwise (the paper's
log-space version, used in both modes so that they agree):

minGRU (gate blocks z, h̃ in ``weight_ih`` (2H, F)):

.. math::
    z_t = \sigma(W_{iz} x_t + b_{iz}), \quad \tilde h_t = g(W_{ih} x_t + b_{ih}), \quad
    h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t

minLSTM (gate blocks f, i, h̃ in ``weight_ih`` (3H, F)), gates normalised to sum to one:

.. math::
    f_t = \sigma(W_{if} x_t + b_{if}), \quad i_t = \sigma(W_{ii} x_t + b_{ii}), \quad
    f'_t = \frac{f_t}{f_t + i_t}, \quad i'_t = \frac{i_t}{f_t + i_t}, \quad
    h_t = f'_t \odot h_{t-1} + i'_t \odot \tilde h_t

Two reference forms, tested against each other:

* the sequential step (:func:`mingru_step`, :func:`minlstm_step`), registered in the cell table
  and run by :func:`rnnkit.functional.run_sequence`: the equations above, written literally;
* the parallel scan (:func:`parallel_scan_log`, :func:`min_sequence_parallel`): with
  :math:`A_t = \prod_{s \le t} a_s`, the recurrence solves to
  :math:`h_t = A_t h_0 + A_t \sum_{s \le t} b_s / A_s`, computed in log space as
  ``exp(cumsum(log a))`` and ``logcumsumexp(log b − log A)`` — O(log T) depth on a GPU. The
  coefficients come from the stable forms :math:`\log(1 - z) = -\mathrm{softplus}(k)`,
  :math:`\log f' = -\mathrm{softplus}(d)`, :math:`\log i' = -\mathrm{softplus}(-d)` with
  :math:`d = \mathrm{softplus}(-k_f) - \mathrm{softplus}(-k_i)`, where k are pre-activations.

Shape legend: T time, B batch, F input features, H hidden units.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.functional.cell_table import CellSpec, State, register_cell
from rnnkit.functional.cells import LayerWeights
from rnnkit.functional.sequence import reverse_padded

#: The cells of this module and their gate blocks, in ``weight_ih`` order.
MIN_CELLS = {"mingru": ("z", "h"), "minlstm": ("f", "i", "h")}


def candidate(v: Tensor) -> Tensor:
    r"""The positive candidate activation :math:`g(v) = v + 1/2` (v ≥ 0), :math:`\sigma(v)` (v < 0).

    Continuous with a continuous first derivative at 0; positive, so its log exists.
    """
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_candidate(v: Tensor) -> Tensor:
    r""":math:`\log g(v)`, stable: :math:`\log(v + 1/2)` for v ≥ 0, :math:`-\mathrm{softplus}(-v)`
    otherwise."""
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


def mingru_step(x: Tensor, state: State, w: LayerWeights) -> tuple[Tensor, State]:
    r"""One minGRU step: x (B, F), state (h (B, H),) -> (h_t, (h_t,)).

    :math:`h_t = (1 - z_t) \odot h_{t-1} + z_t \odot g(\tilde h_t)`, gates from x_t only:
    ``w.w_ih`` (2H, F) stacks (z, h̃), ``w.b_ih`` (2H,) or None; ``w.w_hh`` is None.
    """
    (h,) = state
    gz, gh = F.linear(x, w.w_ih, w.b_ih).chunk(2, dim=1)  # (B, H) each
    z = torch.sigmoid(gz)
    h_new = (1 - z) * h + z * candidate(gh)
    return h_new, (h_new,)


def minlstm_step(x: Tensor, state: State, w: LayerWeights) -> tuple[Tensor, State]:
    r"""One minLSTM step: x (B, F), state (h (B, H),) -> (h_t, (h_t,)).

    :math:`h_t = f'_t \odot h_{t-1} + i'_t \odot g(\tilde h_t)` with
    :math:`f' = f / (f + i)`, :math:`i' = i / (f + i)`: ``w.w_ih`` (3H, F) stacks (f, i, h̃).
    """
    (h,) = state
    gf, gi, gh = F.linear(x, w.w_ih, w.b_ih).chunk(3, dim=1)  # (B, H) each
    f, i = torch.sigmoid(gf), torch.sigmoid(gi)
    h_new = (f * h + i * candidate(gh)) / (f + i)
    return h_new, (h_new,)


def log_coefficients(cell: str, gx: Tensor) -> tuple[Tensor, Tensor]:
    r"""(log a, log b) of the linear recurrence :math:`h_t = a_t h_{t-1} + b_t` from the input
    projections ``gx`` (T, B, G·H) = :math:`X W_{ih}^\top + b_{ih}`; each (T, B, H).

    minGRU: :math:`\log a = -\mathrm{softplus}(k_z)`, :math:`\log b = -\mathrm{softplus}(-k_z)
    + \log g(k_h)`. minLSTM: with :math:`d = \mathrm{softplus}(-k_f) - \mathrm{softplus}(-k_i)`
    (= log i − log f), :math:`\log a = -\mathrm{softplus}(d)`,
    :math:`\log b = -\mathrm{softplus}(-d) + \log g(k_h)`.
    """
    if cell == "mingru":
        kz, kh = gx.chunk(2, dim=-1)
        return -F.softplus(kz), -F.softplus(-kz) + log_candidate(kh)
    if cell == "minlstm":
        kf, ki, kh = gx.chunk(3, dim=-1)
        d = F.softplus(-kf) - F.softplus(-ki)
        return -F.softplus(d), -F.softplus(-d) + log_candidate(kh)
    raise ValueError(f"cell must be one of {list(MIN_CELLS)}, got {cell!r}")


def parallel_scan_log(log_a: Tensor, log_b: Tensor, h0: Tensor) -> Tensor:
    r"""All states of :math:`h_t = a_t \odot h_{t-1} + b_t` at once, for positive a and b.

    .. math::
        \log A_t = \sum_{s \le t} \log a_s, \qquad
        h_t = e^{\log A_t} h_0 + \exp\Big(\log A_t + \operatorname{logcumsumexp}_{s \le t}
        (\log b_s - \log A_s)\Big)

    Only cumulative sums (parallel prefix operations), so its depth is O(log T) on a GPU; h0 may
    have any sign (its term stays outside the logarithm).

    Args:
        log_a, log_b: (T, B, H) logs of the coefficients.
        h0: (B, H) initial state.

    Returns:
        (T, B, H): h_1 … h_T.
    """
    log_big_a = torch.cumsum(log_a, dim=0)  # (T, B, H)
    inputs = torch.logcumsumexp(log_b - log_big_a, dim=0)
    return torch.exp(log_big_a) * h0.unsqueeze(0) + torch.exp(log_big_a + inputs)


def min_sequence_parallel(
    cell: str,
    x: Tensor,
    h0: Tensor,
    weights: LayerWeights,
    lengths: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, Tensor]:
    """One minGRU/minLSTM layer and direction by the parallel scan (the same contract as
    :func:`rnnkit.functional.run_sequence`).

    Args:
        cell: 'mingru' or 'minlstm'.
        x: (T, B, F) time-major input.  h0: (B, H).
        weights: ``w_ih`` (G·H, F) and ``b_ih`` (G·H,) or None.
        lengths: (B,) int64 valid steps, or None.  reverse: run backwards within each length.

    Returns:
        output (T, B, H), zero past each length, and h at each sample's last step (B, H).
    """
    if reverse:
        x = reverse_padded(x, lengths)
    gx = F.linear(x, weights.w_ih, weights.b_ih)  # (T, B, G·H): every product of the sequence
    log_a, log_b = log_coefficients(cell, gx)
    valid = None
    if lengths is not None:
        steps = torch.arange(x.shape[0], device=x.device).unsqueeze(1)  # (T, 1)
        valid = (steps < lengths.to(x.device).unsqueeze(0)).unsqueeze(-1)  # (T, B, 1)
        # Past a length the state is carried unchanged: a = 1, b = 0 (a finite stand-in for
        # log 0 keeps logcumsumexp's gradient finite; exp of it is exactly 0).
        log_a = torch.where(valid, log_a, torch.zeros_like(log_a))
        log_b = torch.where(valid, log_b, torch.full_like(log_b, -1e4))
    h = parallel_scan_log(log_a, log_b, h0)  # (T, B, H)
    h_n = h[-1]
    if valid is not None:
        h = torch.where(valid, h, torch.zeros_like(h))
    if reverse:
        h = reverse_padded(h, lengths)
    return h, h_n


register_cell(CellSpec("mingru", 2, ("h",), mingru_step, recurrent_weights=False))
register_cell(CellSpec("minlstm", 3, ("h",), minlstm_step, recurrent_weights=False))
