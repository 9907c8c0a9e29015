r"""One time step of a whole (unidirectional) layer stack, compiled, for streaming inference.

Streaming at batch 1 is latency-bound: each step is a handful of matrix-vector products that take
well under a microsecond at H = 64, so what matters is everything around them. Hence:

* the weights are re-laid out once (per parameter version) into one flat buffer, transposed so
  that every product is a sequence of contiguous ``y += x_k · W_k`` rows that vectorise;
* one compiled call runs every layer of the stack for the step;
* the kernel reads and writes torch tensors in place through their data pointers
  (``tensor.data_ptr()`` costs far less from Python than a conversion to numpy).

The recurrences are those of :mod:`rnnkit.functional` (float32 uses the fast tanh/σ of
:mod:`~rnnkit.kernels.cpu.activations`). Layer l > 0 reads the new h of layer l − 1, as in the
full-sequence stack. Shapes: L layers, B batch, F input, H hidden, H_out = P or H; states are
(L, B, H_out) and (L, B, H) (LSTM c), contiguous.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numba import carray, njit

from rnnkit.functional import LayerWeights
from rnnkit.kernels.cpu._native import KERNEL_OPTIONS, pointer_from_address
from rnnkit.kernels.cpu.activations import sigmoid, tanh

FAMILIES = {"rnn_tanh": (0, 0), "rnn_relu": (0, 1), "rnn_sigmoid": (0, 2), "gru": (1, 0),
            "lstm": (2, 0)}
_GATES = (1, 3, 4)
# Columns of the per-layer layout table (offsets into the flat buffer; -1 when absent).
IN, HIDDEN, OUT, W_IH, W_HH, BIAS, B_HN, W_HR = range(8)


@njit(inline="always", **KERNEL_OPTIONS)
def _add_product(g, w, v):
    """g += vᵀ·W for W (K, G) row-major and v (K,), four rows of W per pass over g.

    Each pass loads and stores g once for four multiply-adds per element, instead of once per
    row; the row-by-row form is about 1.4× slower at H = 64.
    """
    rows = v.shape[0]
    k = 0
    while k + 4 <= rows:
        v0, v1, v2, v3 = v[k], v[k + 1], v[k + 2], v[k + 3]
        for j in range(g.shape[0]):
            g[j] += v0 * w[k, j] + v1 * w[k + 1, j] + v2 * w[k + 2, j] + v3 * w[k + 3, j]
        k += 4
    while k < rows:
        vk = v[k]
        for j in range(g.shape[0]):
            g[j] += vk * w[k, j]
        k += 1


@njit(**KERNEL_OPTIONS)
def stack_step(family, act, layout, params, batch, x_addr, h_addr, c_addr, y_addr, h_new_addr,
               c_new_addr):
    """Advance every layer by one step, reading and writing tensors through their addresses.

    Args:
        family: 0 Elman, 1 GRU, 2 LSTM.  act: Elman activation (0 tanh, 1 relu, 2 σ).
        layout: (L, 8) int64 table of sizes and offsets (columns IN … W_HR).
        params: the flat buffer of transposed weights and summed biases.
        batch: B.  x_addr: x (B, F).  h_addr, c_addr: state (L, B, H_out), (L, B, H) (c only
            for LSTM); 0 means zeros.  y_addr: output (B, H_out), may equal ``h_new_addr`` when
            L = 1.  h_new_addr, c_new_addr: the new state.
    """
    layers, hidden, out_size = layout.shape[0], layout[0, HIDDEN], layout[0, OUT]
    gates = _GATES[family] * hidden
    zero = params.dtype.type(0.0)
    x = carray(pointer_from_address(x_addr, params), (batch, layout[0, IN]))
    h_new = carray(pointer_from_address(h_new_addr, params), (layers, batch, out_size))
    y = carray(pointer_from_address(y_addr, params), (batch, out_size))
    # A zero address stands for an all-zero initial state (no tensor needed from Python).
    if h_addr == 0:
        h = np.zeros((layers, batch, out_size), params.dtype)
    else:
        h = carray(pointer_from_address(h_addr, params), (layers, batch, out_size))
    if family == 2:
        c_new = carray(pointer_from_address(c_new_addr, params), (layers, batch, hidden))
        if c_addr == 0:
            c = np.zeros((layers, batch, hidden), params.dtype)
        else:
            c = carray(pointer_from_address(c_addr, params), (layers, batch, hidden))
    else:
        c, c_new = h, h_new  # unused
    g = np.empty(gates, params.dtype)  # input part (Elman, LSTM: everything) of the gates
    gh = np.empty(gates, params.dtype)  # GRU: recurrent part, kept apart for r ⊙ (·)
    m = np.empty(hidden, params.dtype)  # LSTM: o ⊙ tanh(c) before the projection
    for layer in range(layers):
        n_in = layout[layer, IN]
        w_ih, w_hh, bias = layout[layer, W_IH], layout[layer, W_HH], layout[layer, BIAS]
        # 2-D views of the transposed weights, not params[row + j]: a flat index that may be
        # negative needs a wraparound check per element, which stops vectorisation (~9× slower).
        wi = params[w_ih : w_ih + n_in * gates].reshape((n_in, gates))
        wh = params[w_hh : w_hh + out_size * gates].reshape((out_size, gates))
        for b in range(batch):
            if bias >= 0:
                g[:] = params[bias:bias + gates]
            else:
                g[:] = zero
            _add_product(g, wi, x[b] if layer == 0 else h_new[layer - 1, b])
            if family == 1:
                gh[:] = zero
                target = gh
            else:
                target = g
            _add_product(target, wh, h[layer, b])
            hn = h_new[layer, b]
            if family == 0:
                if act == 0:
                    for j in range(hidden):
                        hn[j] = tanh(g[j])
                elif act == 1:
                    for j in range(hidden):
                        hn[j] = max(g[j], zero)
                else:
                    for j in range(hidden):
                        hn[j] = sigmoid(g[j])
            elif family == 1:
                b_hn = layout[layer, B_HN]
                if b_hn >= 0:
                    gh[2 * hidden :] += params[b_hn : b_hn + hidden]
                hp = h[layer, b]
                for j in range(hidden):
                    r = sigmoid(g[j] + gh[j])
                    z = sigmoid(g[hidden + j] + gh[hidden + j])
                    n = tanh(g[2 * hidden + j] + r * gh[2 * hidden + j])
                    hn[j] = n + z * (hp[j] - n)
            else:
                w_hr = layout[layer, W_HR]
                cp, cn = c[layer, b], c_new[layer, b]
                mj = m if w_hr >= 0 else hn
                for j in range(hidden):
                    i = sigmoid(g[j])
                    f = sigmoid(g[hidden + j])
                    gg = tanh(g[2 * hidden + j])
                    o = sigmoid(g[3 * hidden + j])
                    cc = f * cp[j] + i * gg
                    cn[j] = cc
                    mj[j] = o * tanh(cc)
                if w_hr >= 0:
                    hn[:] = zero
                    wr = params[w_hr : w_hr + hidden * out_size].reshape((hidden, out_size))
                    _add_product(hn, wr, m)
    y[:, :] = h_new[layers - 1]


@dataclass(frozen=True)
class StepPlan:
    """Weights of a unidirectional stack laid out for :func:`stack_step`.

    Attributes:
        family, act: codes of :data:`FAMILIES`.  layout: (L, 8) int64.  params: flat buffer.
        dtype: the torch dtype of the weights.  input_size, hidden_size, out_size, num_layers.
    """

    family: int
    act: int
    layout: np.ndarray
    params: np.ndarray
    dtype: torch.dtype
    input_size: int
    hidden_size: int
    out_size: int
    num_layers: int


def build_plan(mode: str, weights: Sequence[LayerWeights]) -> StepPlan:
    """Lay out one direction's weights (``weights[l]`` for layer l) for :func:`stack_step`."""
    family, act = FAMILIES[mode]
    chunks: list[np.ndarray] = []
    rows = []
    offset = 0

    def put(t: torch.Tensor | None) -> int:
        nonlocal offset
        if t is None:
            return -1
        flat = t.detach().contiguous().reshape(-1).numpy()
        chunks.append(flat)
        offset += flat.size
        return offset - flat.size

    for w in weights:
        hidden = w.w_hh.shape[0] // _GATES[family]
        out_size = w.w_hh.shape[1]
        if family == 1:
            # b_hn stays apart (it is multiplied by r); the r, z blocks of b_hh fold into b_ih.
            b_hh = w.b_hh
            folded = (
                None if b_hh is None
                else torch.cat([b_hh[: 2 * hidden], b_hh.new_zeros(hidden)])
            )
            b_hn = None if b_hh is None else b_hh[2 * hidden :]
        else:
            folded, b_hn = w.b_hh, None
        bias = w.b_ih if folded is None else (folded if w.b_ih is None else w.b_ih + folded)
        rows.append([
            w.w_ih.shape[1], hidden, out_size,
            put(w.w_ih.t()), put(w.w_hh.t()), put(bias), put(b_hn),
            put(None if w.w_hr is None else w.w_hr.t()),
        ])
    first = weights[0]
    return StepPlan(
        family=family,
        act=act,
        layout=np.array(rows, dtype=np.int64),
        params=np.ascontiguousarray(np.concatenate(chunks)),
        dtype=first.w_ih.dtype,
        input_size=first.w_ih.shape[1],
        hidden_size=rows[0][1],
        out_size=rows[0][2],
        num_layers=len(rows),
    )
