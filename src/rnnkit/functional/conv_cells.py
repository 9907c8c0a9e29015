"""Convolutional recurrent cells (Shi et al. 2015): the reference steps and sequence loop.

A ConvLSTM is an LSTM whose input and state are images and whose matrix products are 2-D
convolutions, so the state keeps the spatial layout of the frames (Shi, Chen, Wang, Yeung, Wong,
Woo, "Convolutional LSTM network", NeurIPS 2015). With ∗ a 2-D convolution ('same' padding,
stride 1), σ the logistic function and ⊙ the elementwise product, for x_t (B, C, H, W) and
states h, c (B, K, H, W):

.. math::
    i_t = \\sigma(W_{xi} * x_t + b_{xi} + W_{hi} * h_{t-1} + b_{hi}) \\\\
    f_t = \\sigma(W_{xf} * x_t + b_{xf} + W_{hf} * h_{t-1} + b_{hf}) \\\\
    g_t = \\tanh(W_{xg} * x_t + b_{xg} + W_{hg} * h_{t-1} + b_{hg}) \\\\
    o_t = \\sigma(W_{xo} * x_t + b_{xo} + W_{ho} * h_{t-1} + b_{ho}) \\\\
    c_t = f_t \\odot c_{t-1} + i_t \\odot g_t, \\quad h_t = o_t \\odot \\tanh(c_t)

Shi et al. also add peephole terms W_c ⊙ c; like Keras' ``ConvLSTM2D`` and torch's LSTM this
cell has none, so that a ConvLSTM with 1×1 kernels on a 1×1 image *is* an LSTM with the same
weights (tested). The ConvGRU follows torch's GRU exactly (gate order r, z, n, the reset gate
applied after the recurrent convolution):

.. math::
    r_t = \\sigma(W_{xr} * x_t + b_{xr} + W_{hr} * h_{t-1} + b_{hr}) \\\\
    z_t = \\sigma(W_{xz} * x_t + b_{xz} + W_{hz} * h_{t-1} + b_{hz}) \\\\
    n_t = \\tanh(W_{xn} * x_t + b_{xn} + r_t \\odot (W_{hn} * h_{t-1} + b_{hn})) \\\\
    h_t = (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}

Weights are stacked by gate along the output channels like torch's: ``w_ih`` (G·K, C, k, k),
``w_hh`` (G·K, K, k, k), biases (G·K,), G = 4 (i, f, g, o) or 3 (r, z, n). Autograd does the
backward pass.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

ConvState = tuple[Tensor, ...]


def _conv(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """'Same' 2-D convolution for odd kernel sizes: (B, C, H, W) → (B, G·K, H, W)."""
    kh, kw = w.shape[-2:]
    return F.conv2d(x, w, b, padding=(kh // 2, kw // 2))


def conv_lstm_step(
    x: Tensor,
    state: ConvState,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> tuple[Tensor, ConvState]:
    """One ConvLSTM step: x (B, C, H, W), state (h, c) each (B, K, H, W) → (h', (h', c'))."""
    h, c = state
    gates = _conv(x, w_ih, b_ih) + _conv(h, w_hh, b_hh)  # (B, 4K, H, W)
    i, f, g, o = gates.chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    return h_new, (h_new, c_new)


def conv_gru_step(
    x: Tensor,
    state: ConvState,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> tuple[Tensor, ConvState]:
    """One ConvGRU step: x (B, C, H, W), state (h,) (B, K, H, W) → (h', (h',))."""
    (h,) = state
    gi = _conv(x, w_ih, b_ih)  # (B, 3K, H, W)
    gh = _conv(h, w_hh, b_hh)
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    h_new = (1 - z) * n + z * h
    return h_new, (h_new,)


#: name → (step, gate count G, number of state tensors)
CONV_CELLS: dict[str, tuple[Callable[..., tuple[Tensor, ConvState]], int, int]] = {
    "convlstm": (conv_lstm_step, 4, 2),
    "convgru": (conv_gru_step, 3, 1),
}


def conv_sequence(
    step: Callable[..., tuple[Tensor, ConvState]],
    x: Tensor,
    state: ConvState,
    weights: tuple[Tensor | None, ...],
    lengths: Tensor | None = None,
) -> tuple[Tensor, ConvState]:
    """Run ``step`` over a time-major sequence with per-sample lengths.

    Args:
        x: (T, B, C, H, W).
        state: the initial state tensors, each (B, K, H, W).
        weights: (w_ih, w_hh, b_ih, b_hh) passed to ``step``.
        lengths: (B,) real steps per sample (None: all T).

    Returns:
        outputs (T, B, K, H, W), zero past each sample's length, and the state at each sample's
        last real step.
    """
    t_max = x.shape[0]
    outputs = []
    for t in range(t_max):
        h, new = step(x[t], state, *weights)
        if lengths is not None:
            live = (t < lengths).to(h.dtype).view(-1, 1, 1, 1)  # (B, 1, 1, 1): 1 inside
            h = h * live
            new = tuple(n * live + s * (1 - live) for n, s in zip(new, state, strict=True))
        outputs.append(h)
        state = new
    return torch.stack(outputs), state
