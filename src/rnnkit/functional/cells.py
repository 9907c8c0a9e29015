"""Reference cell steps: one time step of each recurrence, in plain torch.

These functions are the specification that every fast kernel is tested against. Autograd does
their backward. Gate order and parameter shapes are torch's, so weights move between
``torch.nn`` and rnnkit unchanged.

Shape legend: B batch, F input features, H hidden units, P projection size (LSTM ``proj_size``),
H_out = P if P > 0 else H.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

NONLINEARITIES = ("tanh", "relu", "sigmoid")


class LayerWeights(NamedTuple):
    """The parameters of one layer and one direction, in torch's layout.

    ``w_ih`` (G·H, F), ``w_hh`` (G·H, H_out), ``b_ih`` (G·H,) or None, ``b_hh`` (G·H,) or None,
    ``w_hr`` (P, H) or None, where G is the number of gates (1 Elman, 4 LSTM, 3 GRU).
    ``extra`` holds the parameters of a cell's ``extra_parameters`` in their order (None where
    an absent bias-only one would be), or is None for a cell without any.
    """

    w_ih: Tensor
    w_hh: Tensor
    b_ih: Tensor | None = None
    b_hh: Tensor | None = None
    w_hr: Tensor | None = None
    extra: tuple[Tensor | None, ...] | None = None


def activation(name: str, x: Tensor) -> Tensor:
    """Apply the Elman nonlinearity ``name`` ('tanh', 'relu' or 'sigmoid')."""
    if name == "tanh":
        return torch.tanh(x)
    if name == "relu":
        return torch.relu(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {name!r}")


def elman_cell(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> Tensor:
    r"""One Elman step.

    .. math::
        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}),
        \quad \phi \in \{\tanh, \mathrm{relu}, \sigma\}

    Args:
        x: (B, F) input at step t.
        h: (B, H) hidden state h_{t-1}.
        w_ih: (H, F); w_hh: (H, H); b_ih, b_hh: (H,) or None.

    Returns:
        (B, H) the new hidden state h_t.
    """
    return activation(nonlinearity, F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh))


def lstm_cell(
    x: Tensor,
    state: tuple[Tensor, Tensor],
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    w_hr: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""One LSTM step, gates stacked in torch's order (i, f, g, o).

    .. math::
        \begin{aligned}
        i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t &= W_{hr} (o_t \odot \tanh(c_t)) \quad (W_{hr} = I \text{ without projection})
        \end{aligned}

    Args:
        x: (B, F) input at step t.
        state: (h, c) with h (B, H_out) and c (B, H).
        w_ih: (4H, F); w_hh: (4H, H_out); b_ih, b_hh: (4H,) or None; w_hr: (P, H) or None.

    Returns:
        (h_t (B, H_out), c_t (B, H)).
    """
    h, c = state
    gates = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    if w_hr is not None:
        h_new = F.linear(h_new, w_hr)  # (B, P)
    return h_new, c_new


def gru_cell(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> Tensor:
    r"""One GRU step in the cuDNN/torch form, gates stacked (r, z, n).

    The reset gate multiplies the recurrent product *after* it is computed (with its bias), which
    is what torch and cuDNN do and differs from the original paper's form.

    .. math::
        \begin{aligned}
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{aligned}

    Args:
        x: (B, F) input at step t.
        h: (B, H) hidden state h_{t-1}.
        w_ih: (3H, F); w_hh: (3H, H); b_ih, b_hh: (3H,) or None.

    Returns:
        (B, H) the new hidden state h_t.
    """
    gi_r, gi_z, gi_n = F.linear(x, w_ih, b_ih).chunk(3, dim=1)  # each (B, H)
    gh_r, gh_z, gh_n = F.linear(h, w_hh, b_hh).chunk(3, dim=1)
    r = torch.sigmoid(gi_r + gh_r)
    z = torch.sigmoid(gi_z + gh_z)
    n = torch.tanh(gi_n + r * gh_n)
    return (1 - z) * n + z * h
