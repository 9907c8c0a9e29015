r"""Autograd glue of the minGRU/minLSTM scans (:mod:`.minimal`), registered with the backend.

forward
    1. :math:`g^x = X W_{ih}^\top + b_{ih}`, every product of the sequence at once,
       (T·B, F)·(F, G·H) (:mod:`~rnnkit.kernels.cpu.products`);
    2. the compiled scan :math:`h_t = a_t \odot h_{t-1} + b_t` over each thread's batch slice.
backward
    1. the compiled adjoint scan, in reverse: δ (T, B, G·H), the gradient of every
       pre-activation, and the gradient of h0;
    2. large products for the rest: dX = δ·W_ih, dW_ih = δᵀ·X, db_ih = Σ δ.

Shape legend: T steps, B batch, F input features, H hidden, G = 2 (minGRU) or 3 (minLSTM).
Double backward is not implemented (``once_differentiable``).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from rnnkit.kernels.cpu import compile as compiled
from rnnkit.kernels.cpu import products, step
from rnnkit.kernels.cpu.backend import CellKernel, register_cell_kernel
from rnnkit.kernels.cpu.functions import _input_grads, _input_projection, _np, _upstream
from rnnkit.kernels.cpu.minimal import GATES, MINGRU, MINLSTM
from rnnkit.kernels.cpu.parallel import batch_slices, run_slices


def _work(steps: int, batch: int, hidden: int, variant: int) -> int:
    # ~20 flops per unit and step; weighs the scan against MIN_WORK_PER_SLICE multiply-adds.
    return steps * batch * hidden * GATES[variant] * 8


def min_forward(x, h0, w_ih, b_ih, lengths, reverse, variant):
    """x (T, B, F), h0 (B, H) -> (out (T, B, H), h_n (B, H), g^x (T, B, G·H))."""
    kernels = compiled.kernels("minimal", x.dtype)
    steps, batch = x.shape[0], x.shape[1]
    hidden = h0.shape[1]
    gx = _input_projection(x, w_ih, b_ih)
    out = torch.empty(steps, batch, hidden, dtype=x.dtype)
    h_n = torch.empty(batch, hidden, dtype=x.dtype)
    a = (_np(gx), _np(h0), lengths, reverse, variant)
    o = (_np(out), _np(h_n))
    run_slices(lambda b0, b1: kernels.forward(*a, b0, b1, *o),
               batch_slices(batch, _work(steps, batch, hidden, variant)))
    return out, h_n, gx


class MinFunction(torch.autograd.Function):
    """One minGRU/minLSTM layer and direction with the hand-written adjoint scan."""

    @staticmethod
    def forward(ctx: FunctionCtx, x, h0, w_ih, b_ih, lengths, reverse, variant):
        out, h_n, gx = min_forward(x, h0, w_ih, b_ih, lengths, reverse, variant)
        ctx.save_for_backward(x, h0, w_ih, out, gx)
        ctx.lengths, ctx.reverse, ctx.variant = lengths, reverse, variant
        ctx.has_bias = b_ih is not None
        return out, h_n

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_out: Tensor, d_h_n: Tensor):
        x, h0, w_ih, out, gx = ctx.saved_tensors
        kernels = compiled.kernels("minimal", x.dtype)
        steps, batch, hidden = out.shape
        d_out, d_h_n, _ = _upstream(d_out, d_h_n)
        d_gx = torch.empty_like(gx)
        d_h0 = torch.empty_like(h0)
        a = (_np(gx), _np(out), _np(h0), ctx.lengths, ctx.reverse, ctx.variant)
        o = (_np(d_out), _np(d_h_n), _np(d_gx), _np(d_h0))
        run_slices(lambda b0, b1: kernels.backward(*a, b0, b1, *o),
                   batch_slices(batch, _work(steps, batch, hidden, ctx.variant)))
        need = ctx.needs_input_grad
        dx, dw_ih = _input_grads(d_gx, x, w_ih, (need[0], need[2]))
        db_ih = None
        if ctx.has_bias and need[3]:
            db_ih = products.column_sums(d_gx.view(steps * batch, -1))
        return dx, d_h0, dw_ih, db_ih, None, None, None


def _runner(variant: int):
    """The layer entry point of the minimal cell ``variant``."""

    def run(x, state, w, lens, reverse, grad):
        (h0,) = state
        args = (x, h0, w.w_ih, w.b_ih, lens, reverse, variant)
        if grad:
            out, h_n = MinFunction.apply(*args)
        else:
            out, h_n, _ = min_forward(*args)
        return out, (h_n,)

    return run


register_cell_kernel("mingru", CellKernel(_runner(MINGRU), step=(step.MINGRU, 0)))
register_cell_kernel("minlstm", CellKernel(_runner(MINLSTM), step=(step.MINLSTM, 0)))
