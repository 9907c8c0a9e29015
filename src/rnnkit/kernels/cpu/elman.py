r"""Compiled Elman loops: the recurrence of one layer and direction, forward and BPTT backward.

.. math::
    h_t = \phi(a_t), \quad a_t = \underbrace{W_{ih} x_t + b_{ih} + b_{hh}}_{g^x_t} + W_{hh} h_{t-1},
    \quad \phi \in \{\tanh, \mathrm{relu}, \sigma\}

Backward, with :math:`\delta_t = \partial L / \partial a_t` and the output gradient
:math:`\bar y_t`:

.. math::
    \bar h_t = \bar y_t + W_{hh}^\top \delta_{t+1}, \qquad
    \delta_t = \bar h_t \odot \phi'(a_t)

where :math:`\phi'` is read off the output: :math:`1 - h^2` (tanh), :math:`h(1 - h)` (σ),
:math:`[h > 0]` (relu). So the forward pass stores nothing but the outputs.

The input projection :math:`g^x` and the weight gradients are large matrix products done by the
caller (:mod:`rnnkit.kernels.cpu.functions`); these loops do only the sequential part, for the
batch rows ``b0:b1`` (each thread of the batch split runs one slice).

Shapes: T steps, B batch, H hidden. Every array is C-contiguous. ``lengths`` (B,) int64 holds each
sample's valid steps (T when there are no lengths); a sample at step ``s ≥ lengths[b]`` keeps its
state and emits zeros. ``reverse`` runs each sample backwards within its length: step ``s`` reads
and writes time ``lengths[b] − 1 − s``.
"""

from __future__ import annotations

from numba import njit

from rnnkit.kernels.cpu import blas
from rnnkit.kernels.cpu._native import KERNEL_OPTIONS, data_ptr
from rnnkit.kernels.cpu.activations import sigmoid, tanh

# Elman activation codes, shared with the Python side.
ACTIVATIONS = {"tanh": 0, "relu": 1, "sigmoid": 2}


@njit(**KERNEL_OPTIONS)
def elman_forward(gx, h0, w_hh, lengths, reverse, act, b0, b1, out, h_n):
    """Run rows b0:b1 of an Elman layer over time.

    Args:
        gx: (T, B, H) input projections W_ih x_t + b_ih + b_hh.
        h0: (B, H) initial state.  w_hh: (H, H).  lengths: (B,) int64.
        reverse: run within each length from the end.  act: code from :data:`ACTIVATIONS`.
        b0, b1: the batch rows this call owns.
        out: (T, B, H) written: h_t at each valid step, zero elsewhere.
        h_n: (B, H) written: the state after each sample's last valid step.
    """
    steps, hidden = gx.shape[0], gx.shape[2]
    rows = b1 - b0
    zero = gx.dtype.type(0.0)  # typed constants keep float32 loops in float32
    previous_threads = blas.set_threads_local(1)
    h = h0[b0:b1].copy()  # (rows, H) running state
    gh = h0[b0:b1].copy()  # (rows, H) W_hh h_{t-1} of the current step
    packed = blas.pack_b(w_hh, True, rows)  # W_hhᵀ as the right operand
    for s in range(steps):
        blas.gemm_packed_b(rows, hidden, hidden, data_ptr(h), hidden, packed, 0.0,
                           data_ptr(gh), hidden)
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            if s >= length:
                out[s, b, :] = 0.0  # padding: time s is past this sample in both directions
                continue
            t = length - 1 - s if reverse else s
            a, r, hj, y = gx[t, b], gh[j], h[j], out[t, b]
            if act == 0:
                for k in range(hidden):
                    v = tanh(a[k] + r[k])
                    hj[k] = v
                    y[k] = v
            elif act == 1:
                for k in range(hidden):
                    v = max(a[k] + r[k], zero)
                    hj[k] = v
                    y[k] = v
            else:
                for k in range(hidden):
                    v = sigmoid(a[k] + r[k])
                    hj[k] = v
                    y[k] = v
    h_n[b0:b1] = h
    blas.set_threads_local(previous_threads)


@njit(**KERNEL_OPTIONS)
def elman_backward(out, w_hh, lengths, reverse, act, b0, b1, d_out, d_h_n, d_pre, d_h0,
                   d_pre_first, d_bias):
    """BPTT through rows b0:b1 of an Elman layer.

    Args:
        out: (T, B, H) forward outputs.  w_hh: (H, H).  lengths, reverse, act, b0, b1: as in
            :func:`elman_forward`.
        d_out: (T, B, H) gradient of the outputs.  d_h_n: (B, H) gradient of the final state.
        d_pre: (T, B, H) written: δ_t, the gradient of the pre-activation (zero at padding);
            may be ``d_out`` itself (each step reads d_out before writing d_pre).
        d_h0: (B, H) written: gradient of the initial state.
        d_pre_first: (B, H) written: δ at each sample's first processed step (the step that
            read h0), for the h0 term of dW_hh.
        d_bias: (B, H) written: Σ_t δ_t per sample (the caller sums over B for db).
    """
    steps, hidden = out.shape[0], out.shape[2]
    rows = b1 - b0
    zero, one = out.dtype.type(0.0), out.dtype.type(1.0)
    previous_threads = blas.set_threads_local(1)
    dh = d_h_n[b0:b1].copy()  # (rows, H) gradient flowing into h at the current step
    delta = d_h_n[b0:b1].copy()  # (rows, H) δ of the current step, the product's left operand
    packed = blas.pack_b(w_hh, False, rows)  # W_hh as the right operand: δ_t W_hh = W_hhᵀ δ_t
    d_bias[b0:b1] = 0.0
    for s in range(steps - 1, -1, -1):
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            dj, ej, db = dh[j], delta[j], d_bias[b]
            if s >= length:
                # Padding: the state passes through unchanged, so dh passes back unchanged.
                ej[:] = 0.0
                d_pre[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            g, e = out[t, b], d_pre[t, b]
            # Read d_out in a pass of its own: d_pre may then share its memory (see backward).
            dj += d_out[t, b]
            if act == 0:
                for k in range(hidden):
                    v = dj[k] * (one - g[k] * g[k])
                    e[k] = v
                    ej[k] = v
                    db[k] += v
                    dj[k] = zero
            elif act == 1:
                for k in range(hidden):
                    v = dj[k] if g[k] > zero else zero
                    e[k] = v
                    ej[k] = v
                    db[k] += v
                    dj[k] = zero
            else:
                for k in range(hidden):
                    v = dj[k] * g[k] * (one - g[k])
                    e[k] = v
                    ej[k] = v
                    db[k] += v
                    dj[k] = zero
        # dh_{t-1} = δ_t W_hh (+ the unchanged dh of padded rows, whose δ is zero)
        blas.gemm_packed_b(rows, hidden, hidden, data_ptr(delta), hidden, packed, 1.0,
                           data_ptr(dh), hidden)
    d_h0[b0:b1] = dh
    d_pre_first[b0:b1] = delta  # step 0 is valid for every sample
    blas.set_threads_local(previous_threads)


#: The compiled functions of this family, for :mod:`rnnkit.kernels.cpu.compile`.
KERNELS = {"forward": elman_forward, "backward": elman_backward}
PREPARE_WITH = ("products",)  # the input projection and weight gradients
