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

import functools
from collections.abc import Sequence

import numpy as np
import torch
from numba import carray, njit

from rnnkit.functional import LayerWeights
from rnnkit.kernels.cpu._native import KERNEL_OPTIONS, pointer_from_address
from rnnkit.kernels.cpu.activations import exp, sigmoid, tanh

# The cell updates this kernel has, chosen per call by ``variant`` (a compiled kernel needs the
# choice as a value). Each cell's kernel registration names its variant and activation code
# (:mod:`rnnkit.kernels.cpu.functions`); nothing here knows the cells' names.
ELMAN, GRU, LSTM, MINGRU, MINLSTM, LSTM_LN, GRU_LN = range(7)
_GATES = (1, 3, 4, 2, 3, 4, 3)  # gate blocks of each variant
# Columns of the per-layer layout table (offsets into the flat buffer; -1 when absent). The
# layer-normalised variants keep their two shifts apart (BIAS = b_ih, SHIFT_HH = b_hh: each
# belongs to its own normalisation) and add the gains and the cell-state normalisation.
IN, HIDDEN, OUT, W_IH, W_HH, BIAS, B_HN, W_HR, SHIFT_HH, GAIN_IH, GAIN_HH, GAIN_C, SHIFT_C = (
    range(13))
#: ε of every layer normalisation (:data:`rnnkit.functional.normalised.LN_EPS`).
LN_EPS = 1e-5


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


@njit(inline="always", **KERNEL_OPTIONS)
def _layer_norm(v, params, gain, shift):
    """v ← LN(v; α, β) in place over its whole length (α = params[gain:], β = params[shift:],
    no β when shift < 0): (v − mean) / sqrt(var + ε) · α + β, the variance biased as torch's."""
    n = v.shape[0]
    mean = v.dtype.type(0.0)
    for j in range(n):
        mean += v[j]
    mean /= n
    var = v.dtype.type(0.0)
    for j in range(n):
        d = v[j] - mean
        var += d * d
    inv = v.dtype.type(1.0) / np.sqrt(var / n + v.dtype.type(LN_EPS))
    alpha = params[gain:gain + n]
    if shift >= 0:
        beta = params[shift:shift + n]
        for j in range(n):
            v[j] = (v[j] - mean) * inv * alpha[j] + beta[j]
    else:
        for j in range(n):
            v[j] = (v[j] - mean) * inv * alpha[j]


@njit(**KERNEL_OPTIONS)
def stack_step(variant, act, layout, params, batch, x_addr, h_addr, c_addr, y_addr, h_new_addr,
               c_new_addr):
    """Advance every layer by one step, reading and writing tensors through their addresses.

    Args:
        variant: :data:`ELMAN`, :data:`GRU`, :data:`LSTM`, :data:`MINGRU`, :data:`MINLSTM`,
            :data:`LSTM_LN` or :data:`GRU_LN` (the minimal cells have no recurrent product:
            their ``W_HH`` column is -1; the layer-normalised ones normalise the input and the
            recurrent part of the gates separately, :mod:`rnnkit.functional.normalised`).
        act: Elman activation code (:data:`rnnkit.kernels.cpu.elman.ACTIVATIONS`).
        layout: (L, 13) int64 table of sizes and offsets (columns IN … SHIFT_C).
        params: the flat buffer of transposed weights and summed biases.
        batch: B.  x_addr: x (B, F).  h_addr, c_addr: state (L, B, H_out), (L, B, H) (c only
            for LSTM); 0 means zeros.  y_addr: output (B, H_out), may equal ``h_new_addr`` when
            L = 1.  h_new_addr, c_new_addr: the new state.
    """
    layers, hidden, out_size = layout.shape[0], layout[0, HIDDEN], layout[0, OUT]
    gates = _GATES[variant] * hidden
    zero = params.dtype.type(0.0)
    half = params.dtype.type(0.5)
    x = carray(pointer_from_address(x_addr, params), (batch, layout[0, IN]))
    h_new = carray(pointer_from_address(h_new_addr, params), (layers, batch, out_size))
    y = carray(pointer_from_address(y_addr, params), (batch, out_size))
    # A zero address stands for an all-zero initial state (no tensor needed from Python).
    if h_addr == 0:
        h = np.zeros((layers, batch, out_size), params.dtype)
    else:
        h = carray(pointer_from_address(h_addr, params), (layers, batch, out_size))
    two_states = variant == LSTM or variant == LSTM_LN
    if two_states:
        c_new = carray(pointer_from_address(c_new_addr, params), (layers, batch, hidden))
        if c_addr == 0:
            c = np.zeros((layers, batch, hidden), params.dtype)
        else:
            c = carray(pointer_from_address(c_addr, params), (layers, batch, hidden))
    else:
        c, c_new = h, h_new  # unused
    g = np.empty(gates, params.dtype)  # input part (Elman, LSTM: everything) of the gates
    gh = np.empty(gates, params.dtype)  # GRU, LN: recurrent part, kept apart (r ⊙ (·), LN)
    m = np.empty(hidden, params.dtype)  # LSTM: o ⊙ tanh(c) before the projection
    for layer in range(layers):
        n_in = layout[layer, IN]
        w_ih, w_hh, bias = layout[layer, W_IH], layout[layer, W_HH], layout[layer, BIAS]
        # 2-D views of the transposed weights, not params[row + j]: a flat index that may be
        # negative needs a wraparound check per element, which stops vectorisation (~9× slower).
        wi = params[w_ih : w_ih + n_in * gates].reshape((n_in, gates))
        recurrent = w_hh >= 0
        if recurrent:
            wh = params[w_hh : w_hh + out_size * gates].reshape((out_size, gates))
        else:
            wh = params[0:0].reshape((0, gates))  # the minimal cells: gates read x_t only
        normalised = variant == LSTM_LN or variant == GRU_LN
        for b in range(batch):
            if bias >= 0 and not normalised:
                g[:] = params[bias:bias + gates]
            else:
                g[:] = zero  # the LN variants' shifts come after their normalisations
            _add_product(g, wi, x[b] if layer == 0 else h_new[layer - 1, b])
            if variant == GRU or normalised:
                gh[:] = zero
                target = gh
            else:
                target = g
            if recurrent:
                _add_product(target, wh, h[layer, b])
            if normalised:
                _layer_norm(g, params, layout[layer, GAIN_IH], bias)
                _layer_norm(gh, params, layout[layer, GAIN_HH], layout[layer, SHIFT_HH])
            hn = h_new[layer, b]
            if variant == ELMAN:
                if act == 0:
                    for j in range(hidden):
                        hn[j] = tanh(g[j])
                elif act == 1:
                    for j in range(hidden):
                        hn[j] = max(g[j], zero)
                else:
                    for j in range(hidden):
                        hn[j] = sigmoid(g[j])
            elif variant == GRU_LN:
                hp = h[layer, b]
                for j in range(hidden):
                    r = sigmoid(g[j] + gh[j])
                    z = sigmoid(g[hidden + j] + gh[hidden + j])
                    n = tanh(g[2 * hidden + j] + r * gh[2 * hidden + j])
                    hn[j] = n + z * (hp[j] - n)
            elif variant == LSTM_LN:
                # a = LN(W_ih x) + LN(W_hh h); c_t = σ(f) c + σ(i) tanh(g);
                # h_t = σ(o) tanh(LN(c_t)): m holds c_t, normalised in place, then h_t
                cp, cn = c[layer, b], c_new[layer, b]
                for j in range(hidden):
                    i = sigmoid(g[j] + gh[j])
                    f = sigmoid(g[hidden + j] + gh[hidden + j])
                    gg = tanh(g[2 * hidden + j] + gh[2 * hidden + j])
                    cc = f * cp[j] + i * gg
                    cn[j] = cc
                    m[j] = cc
                _layer_norm(m, params, layout[layer, GAIN_C], layout[layer, SHIFT_C])
                for j in range(hidden):
                    hn[j] = sigmoid(g[3 * hidden + j] + gh[3 * hidden + j]) * tanh(m[j])
            elif variant == GRU:
                b_hn = layout[layer, B_HN]
                if b_hn >= 0:
                    gh[2 * hidden :] += params[b_hn : b_hn + hidden]
                hp = h[layer, b]
                for j in range(hidden):
                    r = sigmoid(g[j] + gh[j])
                    z = sigmoid(g[hidden + j] + gh[hidden + j])
                    n = tanh(g[2 * hidden + j] + r * gh[2 * hidden + j])
                    hn[j] = n + z * (hp[j] - n)
            elif variant == MINGRU:
                # h_t = h_{t-1} + z (g(h̃) - h_{t-1}), g(v) = max(v + 1/2, σ(v)) (see .minimal)
                hp = h[layer, b]
                for j in range(hidden):
                    v = g[hidden + j]
                    cand = max(v + half, sigmoid(v))
                    hn[j] = hp[j] + sigmoid(g[j]) * (cand - hp[j])
            elif variant == MINLSTM:
                # i' = i / (f + i) in the overflow-free form of .minimal
                hp = h[layer, b]
                for j in range(hidden):
                    v = g[2 * hidden + j]
                    cand = max(v + half, sigmoid(v))
                    kf, ki = g[j], g[hidden + j]
                    mx = max(max(-kf, -ki), zero)
                    em, ef, ei = exp(-mx), exp(-kf - mx), exp(-ki - mx)
                    hn[j] = hp[j] + (em + ef) / (em + em + ef + ei) * (cand - hp[j])
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


class StepRunner:
    """The compiled step of a unidirectional stack, with its weights laid out for it.

    The weights (``weights[l]`` for layer l) are copied into one flat buffer once, here; build a
    new runner when they change. ``run(batch, x, h, c, y, h_new, c_new)`` is :func:`stack_step`
    with the layout bound (a ``functools.partial``: no Python frame of its own per step); see
    :class:`rnnkit.kernels.StepRunner` for the arguments.

    Attributes:
        variant, act: the cell update (:data:`ELMAN`, :data:`GRU`, :data:`LSTM`, :data:`MINGRU`,
            :data:`MINLSTM`) and the Elman activation.
        layout: (L, 13) int64.  params: flat buffer.  dtype: the weights' torch dtype.
        input_size, hidden_size, out_size, num_layers, num_states (1, or 2 for LSTM's (h, c)).
    """

    __slots__ = ("act", "dtype", "hidden_size", "input_size", "layout", "num_layers",
                 "num_states", "out_size", "params", "run", "variant")

    def __init__(self, variant: int, act: int, weights: Sequence[LayerWeights]) -> None:
        from rnnkit.kernels.cpu import compile as compiled

        self.variant, self.act = variant, act
        self.layout, self.params = _layout(variant, weights)
        first = weights[0]
        self.dtype = first.w_ih.dtype
        self.input_size = first.w_ih.shape[1]
        self.hidden_size, self.out_size = int(self.layout[0, HIDDEN]), int(self.layout[0, OUT])
        self.num_layers = len(weights)
        self.num_states = 2 if variant in (LSTM, LSTM_LN) else 1
        kernel = compiled.kernels("step", self.dtype).step
        self.run = functools.partial(_entry_point(kernel, self.dtype), variant, act, self.layout,
                                     self.params)


def _entry_point(dispatcher, dtype: torch.dtype):
    """The compiled function of a kernel for ``dtype``, called without numba's dispatch.

    A numba dispatcher resolves the argument types on every call (~0.2-0.3 µs for this
    kernel's 11 arguments, a tenth of a streamed step); the compiled overload's entry point
    skips that. Its arguments must have exactly the compiled types, which :class:`StepRunner`
    guarantees. Falls back to the dispatcher where numba's internals differ.
    """
    from rnnkit.kernels.cpu import compile as compiled

    try:
        signature = compiled.signature(dispatcher, compiled._REALS[dtype])
        entry = dispatcher.overloads[signature].entry_point
    except (AttributeError, KeyError, TypeError):
        return dispatcher
    return entry if callable(entry) else dispatcher


def _layout(variant: int, weights: Sequence[LayerWeights]) -> tuple[np.ndarray, np.ndarray]:
    """(layout (L, 13) int64, flat params) of one direction's weights for :func:`stack_step`."""
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
        hidden = w.w_ih.shape[0] // _GATES[variant]
        out_size = hidden if w.w_hh is None else w.w_hh.shape[1]
        gains = [-1] * 4  # GAIN_IH, GAIN_HH, GAIN_C, SHIFT_C
        if variant in (LSTM_LN, GRU_LN):
            # The shifts stay apart, one per normalisation; extra = (α_ih, α_hh[, α_c, β_c]).
            bias, shift_hh, b_hn = w.b_ih, w.b_hh, None
            extra = tuple(w.extra or ())
        elif variant == GRU:
            # b_hn stays apart (it is multiplied by r); the r, z blocks of b_hh fold into b_ih.
            b_hh = w.b_hh
            folded = (
                None if b_hh is None
                else torch.cat([b_hh[: 2 * hidden], b_hh.new_zeros(hidden)])
            )
            b_hn = None if b_hh is None else b_hh[2 * hidden :]
            bias = w.b_ih if folded is None else (folded if w.b_ih is None else w.b_ih + folded)
            shift_hh, extra = None, ()
        else:
            folded, b_hn = w.b_hh, None
            bias = w.b_ih if folded is None else (folded if w.b_ih is None else w.b_ih + folded)
            shift_hh, extra = None, ()
        row = [
            w.w_ih.shape[1], hidden, out_size,
            put(w.w_ih.t()), put(None if w.w_hh is None else w.w_hh.t()), put(bias), put(b_hn),
            put(None if w.w_hr is None else w.w_hr.t()), put(shift_hh),
        ]
        for k, t in enumerate(extra):
            gains[k] = put(t)
        rows.append(row + gains)
    return np.array(rows, dtype=np.int64), np.ascontiguousarray(np.concatenate(chunks))


#: The compiled functions of this module, for :mod:`rnnkit.kernels.cpu.compile`.
KERNELS = {"step": stack_step}
