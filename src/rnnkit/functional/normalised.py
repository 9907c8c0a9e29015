r"""Layer-normalised LSTM and GRU cells (Ba, Kiros & Hinton 2016, "Layer Normalization").

Recurrent pre-activations drift in scale over time and across samples; normalising them per
sample and per step (not per batch, so it works for any batch size and at every step of a
stream) keeps the gates out of saturation and usually trains faster and more stably. The input
and recurrent pre-activations are normalised *separately*, as in the paper, so that neither
term dominates the gates by scale alone; the LSTM also normalises its cell state before the
output tanh.

Layer normalisation of a vector v of width N, per sample, with gain α and shift β:

.. math::
    \mathrm{LN}(v; \alpha, \beta) = \alpha \odot \frac{v - \mu}{\sqrt{\sigma^2 + \epsilon}}
    + \beta, \quad \mu = \frac{1}{N}\sum_j v_j, \quad
    \sigma^2 = \frac{1}{N}\sum_j (v_j - \mu)^2, \quad \epsilon = 10^{-5}

'lstm_ln' (gates stacked i, f, g, o as in torch; the whole 4H vector is normalised at once):

.. math::
    \begin{aligned}
    a_t &= \mathrm{LN}(W_{ih} x_t; \alpha_{ih}, b_{ih})
          + \mathrm{LN}(W_{hh} h_{t-1}; \alpha_{hh}, b_{hh}) = (a_i, a_f, a_g, a_o) \\
    c_t &= \sigma(a_f) \odot c_{t-1} + \sigma(a_i) \odot \tanh(a_g) \\
    h_t &= \sigma(a_o) \odot \tanh(\mathrm{LN}(c_t; \alpha_c, \beta_c))
    \end{aligned}

'gru_ln' (torch's GRU form, gates r, z, n; the reset gate multiplies the normalised recurrent
part of the candidate):

.. math::
    \begin{aligned}
    (u_r, u_z, u_n) &= \mathrm{LN}(W_{ih} x_t; \alpha_{ih}, b_{ih}), \quad
    (v_r, v_z, v_n) = \mathrm{LN}(W_{hh} h_{t-1}; \alpha_{hh}, b_{hh}) \\
    r_t &= \sigma(u_r + v_r), \quad z_t = \sigma(u_z + v_z), \quad
    n_t = \tanh(u_n + r_t \odot v_n) \\
    h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
    \end{aligned}

The paper adds a separate bias b after the two normalisations; the shifts b_ih and b_hh of the
normalisations already span it, so torch's ``bias_ih``/``bias_hh`` parameters *are* those
shifts (no redundant third bias). With ``bias=False`` there are no shifts (β_c neither). Gains
start at 1 and β_c at 0, so a fresh layer starts as the plain normalisation.

Parameters of one layer and direction (G = 4 for LSTM, 3 for GRU): torch's ``weight_ih``
(G·H, F), ``weight_hh`` (G·H, H), ``bias_ih``, ``bias_hh`` (G·H,), then ``ln_weight_ih``,
``ln_weight_hh`` (G·H,) and for the LSTM ``ln_weight_c`` and ``ln_bias_c`` (H,).

Shape legend: B batch, F input features, H hidden units.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.functional.cell_table import CellSpec, ExtraParameter, State, register_cell
from rnnkit.functional.cells import LayerWeights

#: The ε added to the variance in every normalisation (torch.nn.LayerNorm's default).
LN_EPS = 1e-5

#: The layer-normalised cells and the plain cell each one normalises.
LN_CELLS = {"lstm_ln": "lstm", "gru_ln": "gru"}


def layer_norm(v: Tensor, gain: Tensor | None, shift: Tensor | None) -> Tensor:
    r""":math:`\mathrm{LN}(v; \alpha, \beta)` over the last axis: v (B, N), gain, shift (N,)."""
    return F.layer_norm(v, (v.shape[-1],), gain, shift, LN_EPS)


def lstm_ln_cell(
    x: Tensor,
    state: tuple[Tensor, Tensor],
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    ln_weight_ih: Tensor,
    ln_weight_hh: Tensor,
    ln_weight_c: Tensor,
    ln_bias_c: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """One layer-normalised LSTM step (see the module docstring for the equations).

    Args:
        x: (B, F) input at step t.
        state: (h (B, H), c (B, H)), the previous state; c is carried un-normalised.
        w_ih: (4H, F); w_hh: (4H, H); b_ih, b_hh: (4H,) shifts of the two normalisations or
            None; ln_weight_ih, ln_weight_hh: (4H,) their gains; ln_weight_c, ln_bias_c: (H,)
            gain and shift (or None) of the cell-state normalisation.

    Returns:
        (h_t (B, H), c_t (B, H)).
    """
    h, c = state
    gates = layer_norm(F.linear(x, w_ih), ln_weight_ih, b_ih) + layer_norm(
        F.linear(h, w_hh), ln_weight_hh, b_hh
    )  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(layer_norm(c_new, ln_weight_c, ln_bias_c))
    return h_new, c_new


def gru_ln_cell(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    ln_weight_ih: Tensor,
    ln_weight_hh: Tensor,
) -> Tensor:
    """One layer-normalised GRU step (see the module docstring for the equations).

    Args:
        x: (B, F) input at step t; h: (B, H) previous hidden state.
        w_ih: (3H, F); w_hh: (3H, H); b_ih, b_hh: (3H,) shifts or None; ln_weight_ih,
            ln_weight_hh: (3H,) gains.

    Returns:
        (B, H) the new hidden state h_t.
    """
    u_r, u_z, u_n = layer_norm(F.linear(x, w_ih), ln_weight_ih, b_ih).chunk(3, dim=1)
    v_r, v_z, v_n = layer_norm(F.linear(h, w_hh), ln_weight_hh, b_hh).chunk(3, dim=1)
    r = torch.sigmoid(u_r + v_r)
    z = torch.sigmoid(u_z + v_z)
    n = torch.tanh(u_n + r * v_n)
    return (1 - z) * n + z * h


def _lstm_ln_step(x: Tensor, state: State, w: LayerWeights) -> tuple[Tensor, State]:
    h, c = lstm_ln_cell(x, (state[0], state[1]), w.w_ih, w.w_hh, w.b_ih, w.b_hh, *w.extra)
    return h, (h, c)


def _gru_ln_step(x: Tensor, state: State, w: LayerWeights) -> tuple[Tensor, State]:
    h = gru_ln_cell(x, state[0], w.w_ih, w.w_hh, w.b_ih, w.b_hh, *w.extra)
    return h, (h,)


_GAINS = (ExtraParameter("ln_weight_ih", "gates", 1.0),
          ExtraParameter("ln_weight_hh", "gates", 1.0))

register_cell(CellSpec("lstm_ln", 4, ("h", "c"), _lstm_ln_step, extra_parameters=(
    *_GAINS,
    ExtraParameter("ln_weight_c", "hidden", 1.0),
    ExtraParameter("ln_bias_c", "hidden", 0.0, with_bias=True),
)))
register_cell(CellSpec("gru_ln", 3, ("h",), _gru_ln_step, extra_parameters=_GAINS))
