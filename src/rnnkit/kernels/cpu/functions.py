r"""One ``torch.autograd.Function`` per cell family around the compiled loops.

Every layer call is split the same way (shape legend: T steps, B batch, F input features,
H hidden, G gate blocks (1 Elman, 3 GRU, 4 LSTM), H_out = P or H):

forward
    1. :math:`g^x = X W_{ih}^\top + b` for all steps as one large product, (T·B, F)·(F, G·H)
       (:mod:`~rnnkit.kernels.cpu.products`: rows split across threads);
    2. the sequential loop (:mod:`~rnnkit.kernels.cpu.elman`, ``gru``, ``lstm``): per step one
       product against the packed W_hh and one fused pass over the gates, on each thread's slice
       of the batch; in training it keeps what backward needs.
backward
    1. the loop in reverse, producing δ (gradient of the gate pre-activations) at every step,
       the gradients of the initial state and, per sample, Σ_t δ (the bias gradients);
    2. large products for the rest: dX = δ·W_ih, dW_ih = δᵀ·X, dW_hh = Σ_t δ_tᵀ h_{t−1} (one
       product over the outputs shifted by one step, plus the h0 term).

No torch operation runs on torch's thread pool in between (see :mod:`.products` for why).

Without autograd (``torch.no_grad()``, or nothing requires grad) the same forward runs without
the ``Function`` wrapper and without storing anything for backward.

Double backward is not implemented (``once_differentiable``): asking for it raises.

The cells' entry points are registered with the backend
(:func:`~rnnkit.kernels.cpu.backend.register_cell_kernel`) at the end, after the last section
(recurrent dropout and zoneout): the layer runner, the variant of the compiled streaming step
and, for the LSTM, the GRU and the Elman cells, the runner with
recurrent dropout and zoneout (the loops of :mod:`.regularised`, fed the masks the driver drew
with :func:`rnnkit.functional.draw_masks`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from rnnkit.functional import RecurrentMasks
from rnnkit.kernels.cpu import compile as compiled
from rnnkit.kernels.cpu import elman, products, step
from rnnkit.kernels.cpu.backend import CellKernel, register_cell_kernel
from rnnkit.kernels.cpu.parallel import batch_slices, run_slices

_EMPTY: dict[torch.dtype, Tensor] = {}


def _np(t: Tensor) -> np.ndarray:
    return t.detach().numpy()


def _empty3(dtype: torch.dtype) -> Tensor:
    """A (0, 0, 0) placeholder for buffers a kernel variant does not use."""
    if dtype not in _EMPTY:
        _EMPTY[dtype] = torch.empty(0, 0, 0, dtype=dtype)
    return _EMPTY[dtype]


def lengths_array(lengths: Tensor | None, steps: int, batch: int) -> np.ndarray:
    """Per-sample valid steps as a contiguous int64 array (B,), T for every sample if None."""
    if lengths is None:
        return np.full(batch, steps, dtype=np.int64)
    return np.ascontiguousarray(lengths.detach().cpu().numpy(), dtype=np.int64)


def _add(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    if a is None:
        return b
    return a if b is None else a + b


def _upstream(d_out: Tensor, d_h_n: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Contiguous upstream gradients, plus a (T, B, H_out) buffer for the backward loop.

    When d_out had to be copied (it is often an expanded view, e.g. the gradient of
    ``output.sum()``), the copy is private, so the loop may overwrite it: it is returned as the
    buffer too, which saves a (T, B, H_out) allocation. A d_out that arrived contiguous belongs
    to autograd and is only read.
    """
    contiguous = products.contiguous(d_out)
    buffer = contiguous if contiguous is not d_out else torch.empty_like(d_out)
    return contiguous, products.contiguous(d_h_n), buffer


def _input_projection(x: Tensor, w_ih: Tensor, bias: Tensor | None) -> Tensor:
    """g^x = X W_ihᵀ + bias for all steps at once: (T, B, F) -> (T, B, G·H), contiguous."""
    steps, batch, features = x.shape
    return products.linear(x.reshape(steps * batch, features), w_ih, bias).view(steps, batch, -1)


def _input_grads(
    d_gx: Tensor, x: Tensor, w_ih: Tensor, needs: tuple[bool, bool]
) -> tuple[Tensor | None, Tensor | None]:
    """(dX (T, B, F), dW_ih (G·H, F)) from δ^x (T, B, G·H), each only if needed."""
    steps, batch, features = x.shape
    d2 = d_gx.reshape(steps * batch, -1)  # (T·B, G·H)
    dx = products.matmul(d2, w_ih).view(steps, batch, features) if needs[0] else None
    dw = products.matmul(d2, x.reshape(steps * batch, features), trans_a=True) if needs[1] else None
    return dx, dw


def _recurrent_weight_grad(
    d_gh: Tensor, out: Tensor, h0: Tensor, d_first: Tensor, reverse: bool,
    into: Tensor | None = None,
) -> Tensor:
    """dW_hh = Σ_t δ^h_tᵀ h_{t−1}: (G·H, H_out), written into ``into`` when given.

    h_{t−1} of the step at time t is the output one step earlier in processing order (t − 1, or
    t + 1 when reversed). Padding makes this exact with lengths too: δ is zero at padded times,
    and the step that read h0 pairs with a zero output (or falls outside the shifted range), so
    the h0 term is added separately from ``d_first`` (δ^h of each sample's first step).
    """
    gates, out_size = d_gh.shape[2], out.shape[2]
    dw = products.matmul(d_first, h0, trans_a=True, out=into)  # (G·H, H_out)
    if out.shape[0] > 1:
        d_later, h_earlier = (d_gh[:-1], out[1:]) if reverse else (d_gh[1:], out[:-1])
        products.matmul(d_later.reshape(-1, gates), h_earlier.reshape(-1, out_size),
                        trans_a=True, out=dw, accumulate=True)
    return dw


# ---- Elman -----------------------------------------------------------------------------------

def elman_forward(x, h0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, act):
    """Elman layer without autograd: x (T, B, F), h0 (B, H) -> (out (T, B, H), h_n (B, H))."""
    kernels = compiled.kernels("elman", x.dtype)
    steps, batch = x.shape[0], x.shape[1]
    hidden = w_hh.shape[0]
    gx = _input_projection(x, w_ih, _add(b_ih, b_hh))
    out = torch.empty(steps, batch, hidden, dtype=x.dtype)
    h_n = torch.empty(batch, hidden, dtype=x.dtype)
    a = (_np(gx), _np(h0), _np(w_hh), lengths, reverse, act)
    o = (_np(out), _np(h_n))
    run_slices(lambda b0, b1: kernels.forward(*a, b0, b1, *o),
               batch_slices(batch, steps * batch * hidden * hidden))
    return out, h_n


class ElmanFunction(torch.autograd.Function):
    """Elman layer (tanh, relu or σ) with the hand-written BPTT of :mod:`..elman`."""

    @staticmethod
    def forward(ctx: FunctionCtx, x, h0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, act):
        out, h_n = elman_forward(x, h0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, act)
        ctx.save_for_backward(x, h0, w_ih, w_hh, out)
        ctx.lengths, ctx.reverse, ctx.act = lengths, reverse, act
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        return out, h_n

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_out: Tensor, d_h_n: Tensor):
        x, h0, w_ih, w_hh, out = ctx.saved_tensors
        kernels = compiled.kernels("elman", x.dtype)
        steps, batch, hidden = out.shape
        d_out, d_h_n, d_pre = _upstream(d_out, d_h_n)
        d_h0 = torch.empty_like(h0)
        d_first = torch.empty_like(h0)
        d_bias = torch.empty_like(h0)  # (B, H) per-sample Σ_t δ
        a = (_np(out), _np(w_hh), ctx.lengths, ctx.reverse, ctx.act)
        o = (_np(d_out), _np(d_h_n), _np(d_pre), _np(d_h0), _np(d_first), _np(d_bias))
        run_slices(lambda b0, b1: kernels.backward(*a, b0, b1, *o),
                   batch_slices(batch, steps * batch * hidden * hidden))
        need = ctx.needs_input_grad
        dx, dw_ih = _input_grads(d_pre, x, w_ih, (need[0], need[2]))
        dw_hh = _recurrent_weight_grad(d_pre, out, h0, d_first, ctx.reverse) if need[3] else None
        db = products.column_sums(d_bias) if need[4] or need[5] else None
        db_ih = db if ctx.has_bias[0] and need[4] else None
        db_hh = db if ctx.has_bias[1] and need[5] else None
        return dx, d_h0, dw_ih, dw_hh, db_ih, db_hh, None, None, None


def _elman_runner(act: int):
    """The layer entry point of the Elman cell with activation code ``act``."""

    def run(x, state, w, lens, reverse, grad):
        (h0,) = state
        args = (x, h0, w.w_ih, w.w_hh, w.b_ih, w.b_hh, lens, reverse, act)
        out, h_n = ElmanFunction.apply(*args) if grad else elman_forward(*args)
        return out, (h_n,)

    return run



# ---- GRU -------------------------------------------------------------------------------------

def _gru_biases(b_ih, b_hh, hidden, dtype) -> tuple[Tensor | None, Tensor]:
    """(bias folded into g^x: b_ih + [b_hr, b_hz, 0], b_hn (H,)) — b_hn stays inside r ⊙ (·)."""
    if b_hh is None:
        return b_ih, torch.zeros(hidden, dtype=dtype)
    folded = torch.cat([b_hh[: 2 * hidden], b_hh.new_zeros(hidden)])
    return _add(b_ih, folded), b_hh[2 * hidden :].contiguous()


def gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, store, regularised=None):
    """GRU layer: x (T, B, F), h0 (B, H) -> (out (T, B, H), h_n (B, H), saved or None).

    With ``store`` also returns (T, B, 4H) = (r, z, n, n̂) per step for backward. With
    ``regularised`` = (h_mask, zone_h, p) the loop of :mod:`..regularised` runs instead, with
    recurrent dropout and zoneout.
    """
    steps, batch = x.shape[0], x.shape[1]
    hidden = w_hh.shape[1]
    bias, b_hn = _gru_biases(b_ih, b_hh, hidden, x.dtype)
    gx = _input_projection(x, w_ih, bias)
    out = torch.empty(steps, batch, hidden, dtype=x.dtype)
    h_n = torch.empty(batch, hidden, dtype=x.dtype)
    saved = torch.empty(steps, batch, 4 * hidden, dtype=x.dtype) if store else _empty3(x.dtype)
    if regularised is None:
        forward = compiled.kernels("gru", x.dtype).forward
        masks = ()
    else:
        forward = compiled.kernels("regularised", x.dtype).gru_forward
        h_mask, zone_h, p = regularised
        masks = (_np(h_mask), _np(zone_h), p)
    a = (_np(gx), _np(h0), _np(w_hh), _np(b_hn), *masks, lengths, reverse)
    o = (_np(out), _np(h_n), store, _np(saved))
    run_slices(lambda b0, b1: forward(*a, b0, b1, *o),
               batch_slices(batch, steps * batch * 3 * hidden * hidden))
    return out, h_n, (saved if store else None)


class GRUFunction(torch.autograd.Function):
    """GRU layer (r, z, n; cuDNN form) with the hand-written BPTT of :mod:`..gru`."""

    @staticmethod
    def forward(ctx: FunctionCtx, x, h0, w_ih, w_hh, b_ih, b_hh, lengths, reverse):
        out, h_n, saved = gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, True)
        # The intermediate goes through save_for_backward too, so that autograd frees it after
        # backward (and keeps it for a second one with retain_graph=True).
        ctx.save_for_backward(x, h0, w_ih, w_hh, out, saved)
        ctx.lengths, ctx.reverse = lengths, reverse
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        return out, h_n

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_out: Tensor, d_h_n: Tensor):
        x, h0, w_ih, w_hh, out, saved = ctx.saved_tensors
        kernels = compiled.kernels("gru", x.dtype)
        steps, batch, hidden = out.shape
        d_out, d_h_n, d_hn = _upstream(d_out, d_h_n)
        d_gx = torch.empty(steps, batch, 3 * hidden, dtype=x.dtype)
        d_h0 = torch.empty_like(h0)
        d_first = torch.empty(batch, 3 * hidden, dtype=x.dtype)
        d_bias = torch.empty(batch, 4 * hidden, dtype=x.dtype)  # per-sample Σ_t (δ^x, r ⊙ δ^n)
        a = (_np(saved), _np(out), _np(h0), _np(w_hh), ctx.lengths, ctx.reverse)
        o = (_np(d_out), _np(d_h_n), _np(d_gx), _np(d_hn), _np(d_h0), _np(d_first),
             _np(d_bias))
        run_slices(lambda b0, b1: kernels.backward(*a, b0, b1, *o),
                   batch_slices(batch, steps * batch * 3 * hidden * hidden))
        need = ctx.needs_input_grad
        dx, dw_ih = _input_grads(d_gx, x, w_ih, (need[0], need[2]))
        sums = products.column_sums(d_bias) if need[4] or need[5] else None  # (4H,)
        dw_hh = None
        two = 2 * hidden
        if need[3]:
            # δ^h = [δ^r, δ^z, r ⊙ δ^n]: the r, z rows equal δ^x's, the n rows are d_hn. The
            # product over all of δ^x keeps every operand contiguous; its n rows are replaced.
            dw_hh = _recurrent_weight_grad(d_gx, out, h0, d_first, ctx.reverse)
            _recurrent_weight_grad(d_hn, out, h0, d_first[:, two:].contiguous(), ctx.reverse,
                                   into=dw_hh[two:])
        db_ih = sums[: 3 * hidden] if ctx.has_bias[0] and need[4] else None
        db_hh = None
        if ctx.has_bias[1] and need[5]:
            db_hh = torch.cat([sums[:two], sums[3 * hidden :]])
        return dx, d_h0, dw_ih, dw_hh, db_ih, db_hh, None, None


def _run_gru(x, state, w, lens, reverse, grad):
    (h0,) = state
    args = (x, h0, w.w_ih, w.w_hh, w.b_ih, w.b_hh, lens, reverse)
    if grad:
        out, h_n = GRUFunction.apply(*args)
    else:
        out, h_n, _ = gru_forward(*args, False)
    return out, (h_n,)



# ---- LSTM ------------------------------------------------------------------------------------

def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths, reverse, store):
    """LSTM layer: x (T, B, F), h0 (B, H_out), c0 (B, H) -> (out, h_n, c_n, saved or None).

    With ``store``, ``saved`` is (gates (T, B, 4H), c (T, B, H), m (T, B, H) or None).
    """
    kernels = compiled.kernels("lstm", x.dtype)
    steps, batch = x.shape[0], x.shape[1]
    hidden, out_size = c0.shape[1], h0.shape[1]
    gx = _input_projection(x, w_ih, _add(b_ih, b_hh))  # becomes the saved gates with ``store``
    out = torch.empty(steps, batch, out_size, dtype=x.dtype)
    h_n, c_n = torch.empty_like(h0), torch.empty_like(c0)
    empty = _empty3(x.dtype)
    saved_c = torch.empty(steps, batch, hidden, dtype=x.dtype) if store else empty
    saved_m = torch.empty_like(saved_c) if store and w_hr is not None else empty
    w_hr_arr = w_hr if w_hr is not None else torch.empty(0, hidden, dtype=x.dtype)
    a = (_np(gx), _np(h0), _np(c0), _np(w_hh), _np(w_hr_arr), lengths, reverse)
    o = (_np(out), _np(h_n), _np(c_n), store, _np(saved_c), _np(saved_m))
    work = steps * batch * 4 * hidden * (out_size + (hidden if w_hr is not None else 0))
    run_slices(lambda b0, b1: kernels.forward(*a, b0, b1, *o), batch_slices(batch, work))
    saved = (gx, saved_c, saved_m if w_hr is not None else None) if store else None
    return out, h_n, c_n, saved


class LSTMFunction(torch.autograd.Function):
    """LSTM layer (i, f, g, o; optional projection) with the hand-written BPTT of :mod:`..lstm`."""

    @staticmethod
    def forward(ctx: FunctionCtx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths, reverse):
        out, h_n, c_n, saved = lstm_forward(
            x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths, reverse, True
        )
        # Intermediates go through save_for_backward too, so that autograd frees them after
        # backward (and keeps them for a second one with retain_graph=True).
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, w_hr, out, *saved)
        ctx.lengths, ctx.reverse = lengths, reverse
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        return out, h_n, c_n

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_out: Tensor, d_h_n: Tensor, d_c_n: Tensor):
        x, h0, c0, w_ih, w_hh, w_hr, out, gates, saved_c, saved_m = ctx.saved_tensors
        kernels = compiled.kernels("lstm", x.dtype)
        steps, batch, out_size = out.shape
        hidden = c0.shape[1]
        g = _LSTMGrads(d_out, d_h_n, d_c_n, gates, h0, c0, w_hr, saved_m)
        a = (_np(gates), _np(saved_c), _np(g.saved_m), _np(c0), _np(w_hh), _np(g.w_hr),
             ctx.lengths, ctx.reverse)
        o = g.outputs
        work = steps * batch * 4 * hidden * (out_size + (hidden if w_hr is not None else 0))
        run_slices(lambda b0, b1: kernels.backward(*a, b0, b1, *o), batch_slices(batch, work))
        return (*_lstm_grads(ctx, g, x, w_ih, w_hr, out, h0, saved_m), None, None)


class _LSTMGrads:
    """The buffers an LSTM layer's backward kernel writes, and its optional inputs made arrays.

    ``outputs`` is the kernel's output tuple (d_out, d_h_n, d_c_n, δ (T, B, 4H), δ_proj,
    d_h0, d_c0, δ of the first step (B, 4H), per-sample Σ_t δ (B, 4H)) as numpy views; the
    upstream gradients are made contiguous (a zero tensor where autograd passed none).
    """

    def __init__(self, d_out, d_h_n, d_c_n, gates, h0, c0, w_hr, saved_m) -> None:
        dtype, (batch, hidden) = gates.dtype, c0.shape
        d_out, d_h_n, scratch = _upstream(d_out, d_h_n)
        empty = _empty3(dtype)
        self.d_gates = torch.empty_like(gates)
        self.d_proj = scratch if w_hr is not None else empty
        self.d_h0, self.d_c0 = torch.empty_like(h0), torch.empty_like(c0)
        self.d_first = torch.empty(batch, 4 * hidden, dtype=dtype)
        self.d_bias = torch.empty(batch, 4 * hidden, dtype=dtype)
        self.saved_m = saved_m if saved_m is not None else empty
        self.w_hr = w_hr if w_hr is not None else torch.empty(0, hidden, dtype=dtype)
        self.outputs = tuple(_np(t) for t in (
            d_out, d_h_n, products.contiguous(d_c_n), self.d_gates, self.d_proj, self.d_h0,
            self.d_c0, self.d_first, self.d_bias))


def _lstm_grads(ctx, g: _LSTMGrads, x, w_ih, w_hr, reads, h0, saved_m):
    """The gradients (x, h0, c0, W_ih, W_hh, b_ih, b_hh, W_hr) of an LSTM layer's Function.

    After the BPTT loop (which filled ``g``: δ, d_h0, d_c0): dX = δ·W_ih, dW_ih = δᵀ·X,
    dW_hh = δᵀ·[h0; reads] (the h_{t−1} the recurrent product read, aligned by
    :func:`_recurrent_weight_grad`), db = Σ δ and, with a projection, dW_hr = δ_projᵀ·m.
    Shapes: δ (T, B, 4H), reads (T, B, H_out).
    """
    d_gates, d_bias, d_proj, d_first = g.d_gates, g.d_bias, g.d_proj, g.d_first
    need = ctx.needs_input_grad
    dx, dw_ih = _input_grads(d_gates, x, w_ih, (need[0], need[3]))
    dw_hh = _recurrent_weight_grad(d_gates, reads, h0, d_first, ctx.reverse) if need[4] else None
    db = products.column_sums(d_bias) if need[5] or need[6] else None
    db_ih = db if ctx.has_bias[0] and need[5] else None
    db_hh = db if ctx.has_bias[1] and need[6] else None
    dw_hr = None
    if w_hr is not None and need[7]:
        out_size, hidden = w_hr.shape
        dw_hr = products.matmul(d_proj.reshape(-1, out_size), saved_m.reshape(-1, hidden),
                                trans_a=True)
    return dx, g.d_h0, g.d_c0, dw_ih, dw_hh, db_ih, db_hh, dw_hr

def _run_lstm(x, state, w, lens, reverse, grad):
    h0, c0 = state
    args = (x, h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh, w.w_hr, lens, reverse)
    if grad:
        out, h_n, c_n = LSTMFunction.apply(*args)
    else:
        out, h_n, c_n, _ = lstm_forward(*args, False)
    return out, (h_n, c_n)



# ---- Recurrent dropout and zoneout (LSTM, GRU, Elman) ----------------------------------------

def _mask_arrays(masks: RecurrentMasks, dtype: torch.dtype, hidden: int, states: int):
    """The masks as the loops of :mod:`..regularised` take them: (h_mask (B, H) or (0, H),
    per state a zoneout mask (T, B, H) or a (0, 0, 0) placeholder, the constant p used when
    there are no zoneout masks (evaluation; 0 for none))."""
    if masks.h_mask is None:
        h_mask = torch.empty(0, hidden, dtype=dtype)
    else:
        h_mask = masks.h_mask.contiguous()
    if masks.zone is not None:
        return h_mask, tuple(z.contiguous() for z in masks.zone), 0.0
    return h_mask, (_empty3(dtype),) * states, float(masks.zoneout_p)


def _masked_reads(h: Tensor, h_mask: Tensor) -> Tensor:
    """m ⊙ h (…, B, H): what the gates read, paired with δ in dW_hh (h itself without a mask)."""
    return h * h_mask if h_mask.shape[0] > 0 else h


def lstm_regularised_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, h_mask, zone_h, zone_c,
                             p, lengths, reverse, store):
    """Regularised LSTM layer: x (T, B, F), h0 (B, H_out), c0 (B, H) -> (out, h_n, c_n, saved
    or None).

    Masks as in :mod:`..regularised`. With ``store``, ``saved`` is (gates (T, B, 4H), zoned c
    (T, B, H), the cell's own c̃ (T, B, H; the same tensor as zoned c without zoneout), m_t
    (T, B, H) with a projection or None).
    """
    kernels = compiled.kernels("regularised", x.dtype)
    steps, batch = x.shape[0], x.shape[1]
    hidden, out_size = c0.shape[1], h0.shape[1]
    gx = _input_projection(x, w_ih, _add(b_ih, b_hh))  # becomes the saved gates with ``store``
    out = torch.empty(steps, batch, out_size, dtype=x.dtype)
    h_n, c_n = torch.empty_like(h0), torch.empty_like(c0)
    empty = _empty3(x.dtype)
    saved_c = torch.empty(steps, batch, hidden, dtype=x.dtype) if store else empty
    zoned = zone_h.shape[0] > 0 or p > 0
    saved_ct = torch.empty_like(saved_c) if store and zoned else saved_c
    saved_m = torch.empty_like(saved_c) if store and w_hr is not None else empty
    w_hr_arr = w_hr if w_hr is not None else torch.empty(0, hidden, dtype=x.dtype)
    a = (_np(gx), _np(h0), _np(c0), _np(w_hh), _np(w_hr_arr), _np(h_mask), _np(zone_h),
         _np(zone_c), p, lengths, reverse)
    o = (_np(out), _np(h_n), _np(c_n), store, _np(saved_c), _np(saved_ct), _np(saved_m))
    work = steps * batch * 4 * hidden * (out_size + (hidden if w_hr is not None else 0))
    run_slices(lambda b0, b1: kernels.lstm_forward(*a, b0, b1, *o), batch_slices(batch, work))
    saved = (gx, saved_c, saved_ct, saved_m if w_hr is not None else None)
    return out, h_n, c_n, (saved if store else None)


class RegularisedLSTMFunction(torch.autograd.Function):
    """LSTM layer with recurrent dropout and zoneout, the BPTT of :mod:`..regularised`."""

    @staticmethod
    def forward(ctx: FunctionCtx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, h_mask, zone_h,
                zone_c, p, lengths, reverse):
        out, h_n, c_n, saved = lstm_regularised_forward(
            x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, h_mask, zone_h, zone_c, p, lengths,
            reverse, True
        )
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, w_hr, h_mask, zone_h, zone_c, out, *saved)
        ctx.p, ctx.lengths, ctx.reverse = p, lengths, reverse
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        return out, h_n, c_n

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_out: Tensor, d_h_n: Tensor, d_c_n: Tensor):
        (x, h0, c0, w_ih, w_hh, w_hr, h_mask, zone_h, zone_c, out, gates, saved_c, saved_ct,
         saved_m) = ctx.saved_tensors
        kernels = compiled.kernels("regularised", x.dtype)
        steps, batch, out_size = out.shape
        hidden = c0.shape[1]
        g = _LSTMGrads(d_out, d_h_n, d_c_n, gates, h0, c0, w_hr, saved_m)
        a = (_np(gates), _np(saved_c), _np(saved_ct), _np(g.saved_m), _np(c0), _np(w_hh),
             _np(g.w_hr), _np(h_mask), _np(zone_h), _np(zone_c), ctx.p, ctx.lengths, ctx.reverse)
        o = g.outputs
        work = steps * batch * 4 * hidden * (out_size + (hidden if w_hr is not None else 0))
        run_slices(lambda b0, b1: kernels.lstm_backward(*a, b0, b1, *o),
                   batch_slices(batch, work))
        # W_hh multiplied the masked reads m ⊙ h_{t−1}: its gradient pairs δ with those.
        return (*_lstm_grads(ctx, g, x, w_ih, w_hr, _masked_reads(out, h_mask),
                             _masked_reads(h0, h_mask), saved_m), *(None,) * 6)


def _run_lstm_regularised(x, state, w, lens, reverse, grad, masks):
    h0, c0 = state
    h_mask, (zone_h, zone_c), p = _mask_arrays(masks, x.dtype, h0.shape[1], 2)
    args = (x, h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh, w.w_hr, h_mask, zone_h, zone_c, p, lens,
            reverse)
    if grad:
        out, h_n, c_n = RegularisedLSTMFunction.apply(*args)
    else:
        out, h_n, c_n, _ = lstm_regularised_forward(*args, False)
    return out, (h_n, c_n)


def gru_regularised_forward(x, h0, w_ih, w_hh, b_ih, b_hh, h_mask, zone_h, p, lengths, reverse,
                            store):
    """Regularised GRU layer: x (T, B, F), h0 (B, H) -> (out, h_n, saved (T, B, 4H) or None)."""
    return gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, store,
                       regularised=(h_mask, zone_h, p))


class RegularisedGRUFunction(torch.autograd.Function):
    """GRU layer with recurrent dropout and zoneout, the BPTT of :mod:`..regularised`."""

    @staticmethod
    def forward(ctx: FunctionCtx, x, h0, w_ih, w_hh, b_ih, b_hh, h_mask, zone_h, p, lengths,
                reverse):
        out, h_n, saved = gru_regularised_forward(
            x, h0, w_ih, w_hh, b_ih, b_hh, h_mask, zone_h, p, lengths, reverse, True
        )
        ctx.save_for_backward(x, h0, w_ih, w_hh, h_mask, zone_h, out, saved)
        ctx.p, ctx.lengths, ctx.reverse = p, lengths, reverse
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        return out, h_n

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_out: Tensor, d_h_n: Tensor):
        x, h0, w_ih, w_hh, h_mask, zone_h, out, saved = ctx.saved_tensors
        kernels = compiled.kernels("regularised", x.dtype)
        steps, batch, hidden = out.shape
        d_out, d_h_n, d_hn = _upstream(d_out, d_h_n)
        d_gx = torch.empty(steps, batch, 3 * hidden, dtype=x.dtype)
        d_h0 = torch.empty_like(h0)
        d_first = torch.empty(batch, 3 * hidden, dtype=x.dtype)
        d_bias = torch.empty(batch, 4 * hidden, dtype=x.dtype)  # per-sample Σ_t (δ^x, r ⊙ δ^n)
        a = (_np(saved), _np(out), _np(h0), _np(w_hh), _np(h_mask), _np(zone_h), ctx.p,
             ctx.lengths, ctx.reverse)
        o = (_np(d_out), _np(d_h_n), _np(d_gx), _np(d_hn), _np(d_h0), _np(d_first),
             _np(d_bias))
        run_slices(lambda b0, b1: kernels.gru_backward(*a, b0, b1, *o),
                   batch_slices(batch, steps * batch * 3 * hidden * hidden))
        need = ctx.needs_input_grad
        dx, dw_ih = _input_grads(d_gx, x, w_ih, (need[0], need[2]))
        sums = products.column_sums(d_bias) if need[4] or need[5] else None  # (4H,)
        dw_hh = None
        two = 2 * hidden
        if need[3]:
            # As in GRUFunction, with the masked reads m ⊙ h_{t−1} in place of h_{t−1}.
            reads, first_read = _masked_reads(out, h_mask), _masked_reads(h0, h_mask)
            dw_hh = _recurrent_weight_grad(d_gx, reads, first_read, d_first, ctx.reverse)
            _recurrent_weight_grad(d_hn, reads, first_read, d_first[:, two:].contiguous(),
                                   ctx.reverse, into=dw_hh[two:])
        db_ih = sums[: 3 * hidden] if ctx.has_bias[0] and need[4] else None
        db_hh = None
        if ctx.has_bias[1] and need[5]:
            db_hh = torch.cat([sums[:two], sums[3 * hidden :]])
        return (dx, d_h0, dw_ih, dw_hh, db_ih, db_hh) + (None,) * 5


def _run_gru_regularised(x, state, w, lens, reverse, grad, masks):
    (h0,) = state
    h_mask, (zone_h,), p = _mask_arrays(masks, x.dtype, h0.shape[1], 1)
    args = (x, h0, w.w_ih, w.w_hh, w.b_ih, w.b_hh, h_mask, zone_h, p, lens, reverse)
    if grad:
        out, h_n = RegularisedGRUFunction.apply(*args)
    else:
        out, h_n, _ = gru_regularised_forward(*args, False)
    return out, (h_n,)


def elman_regularised_forward(x, h0, w_ih, w_hh, b_ih, b_hh, h_mask, zone_h, p, lengths,
                              reverse, act, store):
    """Regularised Elman layer: x (T, B, F), h0 (B, H) -> (out, h_n, saved (T, B, H) or None),
    ``saved`` the cell's own h̃_t (the outputs are the zoned h_t)."""
    kernels = compiled.kernels("regularised", x.dtype)
    steps, batch = x.shape[0], x.shape[1]
    hidden = w_hh.shape[0]
    gx = _input_projection(x, w_ih, _add(b_ih, b_hh))
    out = torch.empty(steps, batch, hidden, dtype=x.dtype)
    h_n = torch.empty(batch, hidden, dtype=x.dtype)
    saved = torch.empty(steps, batch, hidden, dtype=x.dtype) if store else _empty3(x.dtype)
    a = (_np(gx), _np(h0), _np(w_hh), _np(h_mask), _np(zone_h), p, lengths, reverse, act)
    o = (_np(out), _np(h_n), store, _np(saved))
    run_slices(lambda b0, b1: kernels.elman_forward(*a, b0, b1, *o),
               batch_slices(batch, steps * batch * hidden * hidden))
    return out, h_n, (saved if store else None)


class RegularisedElmanFunction(torch.autograd.Function):
    """Elman layer with recurrent dropout and zoneout, the BPTT of :mod:`..regularised`."""

    @staticmethod
    def forward(ctx: FunctionCtx, x, h0, w_ih, w_hh, b_ih, b_hh, h_mask, zone_h, p, lengths,
                reverse, act):
        out, h_n, saved = elman_regularised_forward(
            x, h0, w_ih, w_hh, b_ih, b_hh, h_mask, zone_h, p, lengths, reverse, act, True
        )
        ctx.save_for_backward(x, h0, w_ih, w_hh, h_mask, zone_h, out, saved)
        ctx.p, ctx.lengths, ctx.reverse, ctx.act = p, lengths, reverse, act
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        return out, h_n

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_out: Tensor, d_h_n: Tensor):
        x, h0, w_ih, w_hh, h_mask, zone_h, out, saved = ctx.saved_tensors
        kernels = compiled.kernels("regularised", x.dtype)
        steps, batch, hidden = out.shape
        d_out, d_h_n, d_pre = _upstream(d_out, d_h_n)
        d_h0 = torch.empty_like(h0)
        d_first = torch.empty_like(h0)
        d_bias = torch.empty_like(h0)  # (B, H) per-sample Σ_t δ
        a = (_np(saved), _np(w_hh), _np(h_mask), _np(zone_h), ctx.p, ctx.lengths, ctx.reverse,
             ctx.act)
        o = (_np(d_out), _np(d_h_n), _np(d_pre), _np(d_h0), _np(d_first), _np(d_bias))
        run_slices(lambda b0, b1: kernels.elman_backward(*a, b0, b1, *o),
                   batch_slices(batch, steps * batch * hidden * hidden))
        need = ctx.needs_input_grad
        dx, dw_ih = _input_grads(d_pre, x, w_ih, (need[0], need[2]))
        dw_hh = None
        if need[3]:
            dw_hh = _recurrent_weight_grad(d_pre, _masked_reads(out, h_mask),
                                           _masked_reads(h0, h_mask), d_first, ctx.reverse)
        db = products.column_sums(d_bias) if need[4] or need[5] else None
        db_ih = db if ctx.has_bias[0] and need[4] else None
        db_hh = db if ctx.has_bias[1] and need[5] else None
        return (dx, d_h0, dw_ih, dw_hh, db_ih, db_hh) + (None,) * 6


def _elman_regularised_runner(act: int):
    """The regularised layer entry point of the Elman cell with activation code ``act``."""

    def run(x, state, w, lens, reverse, grad, masks):
        (h0,) = state
        h_mask, (zone_h,), p = _mask_arrays(masks, x.dtype, h0.shape[1], 1)
        args = (x, h0, w.w_ih, w.w_hh, w.b_ih, w.b_hh, h_mask, zone_h, p, lens, reverse, act)
        if grad:
            out, h_n = RegularisedElmanFunction.apply(*args)
        else:
            out, h_n, _ = elman_regularised_forward(*args, False)
        return out, (h_n,)

    return run


for _name, _act in (("rnn_tanh", "tanh"), ("rnn_relu", "relu"), ("rnn_sigmoid", "sigmoid")):
    _code = elman.ACTIVATIONS[_act]
    register_cell_kernel(_name, CellKernel(_elman_runner(_code), step=(step.ELMAN, _code),
                                           run_regularised=_elman_regularised_runner(_code)))
register_cell_kernel("gru", CellKernel(_run_gru, step=(step.GRU, 0),
                                       run_regularised=_run_gru_regularised))
register_cell_kernel("lstm", CellKernel(_run_lstm, step=(step.LSTM, 0),
                                        run_regularised=_run_lstm_regularised))
