r"""Autograd glue of the layer-normalised LSTM and GRU loops (:mod:`.layer_norm`), registered.

Each layer call (shape legend: T steps, B batch, F input features, H hidden, G = 4 LSTM or 3
GRU gate blocks):

forward
    1. :math:`p^x = X W_{ih}^\top` for all steps as one product, (T·B, F)·(F, G·H), *without*
       bias: the biases are the shifts of the normalisations, applied after them;
    2. the sequential loop: per step one product :math:`W_{hh} h_{t-1}`, both normalisations and
       the gates, fused, on each thread's slice of the batch.
backward
    1. the loop in reverse: ∂L/∂p^x and ∂L/∂p^h per step, the initial-state gradients and,
       per sample, the gradients of every gain and shift;
    2. large products for the rest: dX, dW_ih from ∂L/∂p^x; dW_hh = Σ_t (∂L/∂p^h_t)ᵀ h_{t−1}.

Projections (``proj_size``) are not offered: the layers refuse ``proj_size`` with
``layer_norm=True`` because the reference cell has no projection, so there is no math to match.

Streaming (``layer.step``, ``layer.stream()``) runs the compiled step of :mod:`.step` (its
``LSTM_LN`` and ``GRU_LN`` variants). Double backward is not implemented
(``once_differentiable``).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from rnnkit.kernels.cpu import compile as compiled
from rnnkit.kernels.cpu import products, step
from rnnkit.kernels.cpu.backend import CellKernel, register_cell_kernel
from rnnkit.kernels.cpu.functions import (
    _input_grads,
    _input_projection,
    _np,
    _recurrent_weight_grad,
)
from rnnkit.kernels.cpu.parallel import batch_slices, run_slices


def _params(gains: tuple[Tensor, ...], shifts: tuple[Tensor | None, ...], gates: int,
            hidden: int, dtype: torch.dtype) -> Tensor:
    """The packed parameter vector of :mod:`.layer_norm`: gains then shifts (zeros if absent).

    gains: (α_ih, α_hh[, α_c]); shifts: (b_ih, b_hh[, β_c]), each None or like its gain.
    """
    parts = [g.detach() for g in gains[:2]]
    parts += [torch.zeros(gates * hidden, dtype=dtype) if s is None else s.detach()
              for s in shifts[:2]]
    if len(gains) == 3:
        parts += [gains[2].detach(),
                  torch.zeros(hidden, dtype=dtype) if shifts[2] is None else shifts[2].detach()]
    return torch.cat(parts)


def _work(steps: int, batch: int, gates: int, hidden: int) -> int:
    # The per-step product dominates; the normalisations add a few passes over G·H.
    return steps * batch * gates * hidden * (hidden + 8)


def _contiguous(d_out: Tensor, *finals: Tensor) -> list[Tensor]:
    return [products.contiguous(t) for t in (d_out, *finals)]


# ---- LSTM ------------------------------------------------------------------------------------

def lstm_ln_forward(x, h0, c0, w_ih, w_hh, params, lengths, reverse, store):
    """x (T, B, F), h0, c0 (B, H) -> (out (T, B, H), h_n, c_n, (p̂^x, saved, c_t) or None)."""
    kernels = compiled.kernels("layer_norm", x.dtype)
    steps, batch = x.shape[0], x.shape[1]
    hidden = c0.shape[1]
    gx = _input_projection(x, w_ih, None)  # normalised in place by the loop
    out = torch.empty(steps, batch, hidden, dtype=x.dtype)
    h_n, c_n = torch.empty_like(h0), torch.empty_like(c0)
    shape = (steps, batch) if store else (0, 0)
    saved = torch.empty(*shape, 8 * hidden + 4, dtype=x.dtype)
    saved_c = torch.empty(*shape, hidden, dtype=x.dtype)
    a = (_np(gx), _np(h0), _np(c0), _np(w_hh), _np(params), lengths, reverse)
    o = (_np(out), _np(h_n), _np(c_n), store, _np(saved), _np(saved_c))
    run_slices(lambda b0, b1: kernels.lstm_forward(*a, b0, b1, *o),
               batch_slices(batch, _work(steps, batch, 4, hidden)))
    return out, h_n, c_n, ((gx, saved, saved_c) if store else None)


class LSTMLNFunction(torch.autograd.Function):
    """One layer-normalised LSTM layer and direction with the BPTT of :mod:`.layer_norm`."""

    @staticmethod
    def forward(ctx: FunctionCtx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, ln_ih, ln_hh, ln_c, ln_bc,
                lengths, reverse):
        hidden = c0.shape[1]
        params = _params((ln_ih, ln_hh, ln_c), (b_ih, b_hh, ln_bc), 4, hidden, x.dtype)
        out, h_n, c_n, saved = lstm_ln_forward(x, h0, c0, w_ih, w_hh, params, lengths,
                                               reverse, True)
        # Intermediates go through save_for_backward too, so that autograd frees them after
        # backward (and keeps them for a second one with retain_graph=True).
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, params, out, *saved)
        ctx.lengths, ctx.reverse = lengths, reverse
        ctx.has_bias = (b_ih is not None, b_hh is not None, ln_bc is not None)
        return out, h_n, c_n

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_out: Tensor, d_h_n: Tensor, d_c_n: Tensor):
        x, h0, c0, w_ih, w_hh, params, out, gx, saved, saved_c = ctx.saved_tensors
        kernels = compiled.kernels("layer_norm", x.dtype)
        steps, batch, hidden = out.shape
        gates = 4 * hidden
        d_out, d_h_n, d_c_n = _contiguous(d_out, d_h_n, d_c_n)
        d_gx, d_gh = torch.empty_like(gx), torch.empty_like(gx)
        d_h0, d_c0 = torch.empty_like(h0), torch.empty_like(c0)
        d_first = torch.empty(batch, gates, dtype=x.dtype)
        d_params = torch.empty(batch, params.shape[0], dtype=x.dtype)  # per sample
        a = (_np(gx), _np(saved), _np(saved_c), _np(c0), _np(w_hh), _np(params), ctx.lengths,
             ctx.reverse)
        o = (_np(d_out), _np(d_h_n), _np(d_c_n), _np(d_gx), _np(d_gh), _np(d_h0), _np(d_c0),
             _np(d_first), _np(d_params))
        run_slices(lambda b0, b1: kernels.lstm_backward(*a, b0, b1, *o),
                   batch_slices(batch, _work(steps, batch, 4, hidden)))
        need = ctx.needs_input_grad
        dx, dw_ih = _input_grads(d_gx, x, w_ih, (need[0], need[3]))
        dw_hh = _recurrent_weight_grad(d_gh, out, h0, d_first, ctx.reverse) if need[4] else None
        sums = products.column_sums(d_params) if any(need[5:11]) else None
        grads = [None] * 6  # b_ih, b_hh, ln_ih, ln_hh, ln_c, ln_bc
        if sums is not None:
            blocks = sums.split([gates] * 4 + [hidden] * 2)
            present = (ctx.has_bias[0], ctx.has_bias[1], True, True, True, ctx.has_bias[2])
            # params order is (α_ih, α_hh, b_ih, b_hh, α_c, β_c); arguments are (b_ih, b_hh, ...).
            for slot, block in zip((2, 3, 0, 1, 4, 5), range(6), strict=True):
                if present[block] and need[5 + block]:
                    grads[block] = blocks[slot]
        return (dx, d_h0, d_c0, dw_ih, dw_hh, *grads, None, None)


def _run_lstm_ln(x, state, w, lens, reverse, grad):
    h0, c0 = state
    ln_ih, ln_hh, ln_c, ln_bc = w.extra
    if grad:
        out, h_n, c_n = LSTMLNFunction.apply(x, h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh, ln_ih,
                                             ln_hh, ln_c, ln_bc, lens, reverse)
    else:
        params = _params((ln_ih, ln_hh, ln_c), (w.b_ih, w.b_hh, ln_bc), 4, c0.shape[1], x.dtype)
        out, h_n, c_n, _ = lstm_ln_forward(x, h0, c0, w.w_ih, w.w_hh, params, lens, reverse,
                                           False)
    return out, (h_n, c_n)


# ---- GRU -------------------------------------------------------------------------------------

def gru_ln_forward(x, h0, w_ih, w_hh, params, lengths, reverse, store):
    """x (T, B, F), h0 (B, H) -> (out (T, B, H), h_n (B, H), (p̂^x, saved) or None)."""
    kernels = compiled.kernels("layer_norm", x.dtype)
    steps, batch = x.shape[0], x.shape[1]
    hidden = h0.shape[1]
    gx = _input_projection(x, w_ih, None)  # normalised in place by the loop
    out = torch.empty(steps, batch, hidden, dtype=x.dtype)
    h_n = torch.empty_like(h0)
    shape = (steps, batch) if store else (0, 0)
    saved = torch.empty(*shape, 6 * hidden + 2, dtype=x.dtype)
    a = (_np(gx), _np(h0), _np(w_hh), _np(params), lengths, reverse)
    o = (_np(out), _np(h_n), store, _np(saved))
    run_slices(lambda b0, b1: kernels.gru_forward(*a, b0, b1, *o),
               batch_slices(batch, _work(steps, batch, 3, hidden)))
    return out, h_n, ((gx, saved) if store else None)


class GRULNFunction(torch.autograd.Function):
    """One layer-normalised GRU layer and direction with the BPTT of :mod:`.layer_norm`."""

    @staticmethod
    def forward(ctx: FunctionCtx, x, h0, w_ih, w_hh, b_ih, b_hh, ln_ih, ln_hh, lengths, reverse):
        params = _params((ln_ih, ln_hh), (b_ih, b_hh), 3, h0.shape[1], x.dtype)
        out, h_n, saved = gru_ln_forward(x, h0, w_ih, w_hh, params, lengths, reverse, True)
        ctx.save_for_backward(x, h0, w_ih, w_hh, params, out, *saved)
        ctx.lengths, ctx.reverse = lengths, reverse
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        return out, h_n

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_out: Tensor, d_h_n: Tensor):
        x, h0, w_ih, w_hh, params, out, gx, saved = ctx.saved_tensors
        kernels = compiled.kernels("layer_norm", x.dtype)
        steps, batch, hidden = out.shape
        gates = 3 * hidden
        d_out, d_h_n = _contiguous(d_out, d_h_n)
        d_gx, d_gh = torch.empty_like(gx), torch.empty_like(gx)
        d_h0 = torch.empty_like(h0)
        d_first = torch.empty(batch, gates, dtype=x.dtype)
        d_params = torch.empty(batch, params.shape[0], dtype=x.dtype)  # per sample
        a = (_np(gx), _np(saved), _np(out), _np(h0), _np(w_hh), _np(params), ctx.lengths,
             ctx.reverse)
        o = (_np(d_out), _np(d_h_n), _np(d_gx), _np(d_gh), _np(d_h0), _np(d_first),
             _np(d_params))
        run_slices(lambda b0, b1: kernels.gru_backward(*a, b0, b1, *o),
                   batch_slices(batch, _work(steps, batch, 3, hidden)))
        need = ctx.needs_input_grad
        dx, dw_ih = _input_grads(d_gx, x, w_ih, (need[0], need[2]))
        dw_hh = _recurrent_weight_grad(d_gh, out, h0, d_first, ctx.reverse) if need[3] else None
        grads = [None] * 4  # b_ih, b_hh, ln_ih, ln_hh
        if any(need[4:8]):
            a_ih, a_hh, s_ih, s_hh = products.column_sums(d_params).split(gates)
            present = (*ctx.has_bias, True, True)
            for k, block in enumerate((s_ih, s_hh, a_ih, a_hh)):
                if present[k] and need[4 + k]:
                    grads[k] = block
        return (dx, d_h0, dw_ih, dw_hh, *grads, None, None)


def _run_gru_ln(x, state, w, lens, reverse, grad):
    (h0,) = state
    ln_ih, ln_hh = w.extra
    if grad:
        out, h_n = GRULNFunction.apply(x, h0, w.w_ih, w.w_hh, w.b_ih, w.b_hh, ln_ih, ln_hh,
                                       lens, reverse)
    else:
        params = _params((ln_ih, ln_hh), (w.b_ih, w.b_hh), 3, h0.shape[1], x.dtype)
        out, h_n, _ = gru_ln_forward(x, h0, w.w_ih, w.w_hh, params, lens, reverse, False)
    return out, (h_n,)


# No compiled streaming step (step.py serves the plain cells): layer.step runs forward.
register_cell_kernel("lstm_ln", CellKernel(_run_lstm_ln, step=(step.LSTM_LN, 0)))
register_cell_kernel("gru_ln", CellKernel(_run_gru_ln, step=(step.GRU_LN, 0)))
