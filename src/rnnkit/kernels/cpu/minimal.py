r"""Compiled scans of the minimal cells minGRU and minLSTM (see :mod:`rnnkit.functional.minimal`).

The gates read x_t only, so the caller computes every matrix product of the sequence as one
:math:`g^x = X W_{ih}^\top + b_{ih}` (T, B, G·H) and these loops do the rest: the elementwise
linear recurrence :math:`h_t = a_t \odot h_{t-1} + b_t` forward, and its adjoint backward — again
a linear recurrence, run in reverse:

.. math::
    \bar h_t = \bar y_t + a_{t+1} \odot \bar h_{t+1}, \qquad
    \bar a_t = \bar h_t \odot h_{t-1}, \qquad \bar b_t = \bar h_t

(:math:`\bar h_T` starts from the gradient of the final state). The coefficients, per unit k,
from pre-activations :math:`k_z, k_f, k_i, k_h` and the candidate :math:`c = g(k_h)`:

* minGRU (``variant`` 0, blocks z, h̃): :math:`z = \sigma(k_z)`, :math:`a = 1 - z`,
  :math:`b = z c`; so :math:`\bar k_z = \bar h (c - h_{t-1}) z (1 - z)`,
  :math:`\bar k_h = \bar h z g'(k_h)`;
* minLSTM (``variant`` 1, blocks f, i, h̃): :math:`i' = i / (f + i)`, computed as
  :math:`(e^{-m} + e^{-k_f - m}) / (2 e^{-m} + e^{-k_f - m} + e^{-k_i - m})` with
  :math:`m = \max(0, -k_f, -k_i)` (every exponent ≤ 0 and the denominator ≥ 1: no overflow,
  and no 0/0 when both gates underflow), :math:`a = 1 - i'`, :math:`b = i' c`. With
  :math:`d = \log i - \log f` (so :math:`i' = \sigma(d)`) and
  :math:`\bar d = \bar h (c - h_{t-1}) i' (1 - i')`: :math:`\bar k_f = -\bar d\,\sigma(-k_f)`,
  :math:`\bar k_i = \bar d\,\sigma(-k_i)`, :math:`\bar k_h = \bar h i' g'(k_h)`, where
  :math:`\sigma(-k) = e^{-k - m} / (e^{-m} + e^{-k - m})` reuses the same exponentials.

:math:`g(v) = v + 1/2` for v ≥ 0 and :math:`\sigma(v)` otherwise, which equals
:math:`\max(v + 1/2, \sigma(v))` (branch-free, so the loops vectorise); :math:`g'(v) = 1` or
:math:`\sigma(v)(1 - \sigma(v))`. In float32 σ and exp are the fast forms of
:mod:`~rnnkit.kernels.cpu.activations`. Backward recomputes the gates from :math:`g^x` and reads
:math:`h_{t-1}` from the outputs, so training stores nothing beyond :math:`g^x` and the output.

Shapes: T steps, B batch, H hidden. ``lengths`` (B,) int64 valid steps; ``reverse`` runs each
sample backwards within its length (step s reads time ``lengths[b] - 1 - s``); rows ``b0:b1`` of
the batch are this call's slice. Outputs past a length are zero.
"""

from __future__ import annotations

from numba import njit

from rnnkit.kernels.cpu._native import KERNEL_OPTIONS
from rnnkit.kernels.cpu.activations import exp, sigmoid

MINGRU, MINLSTM = 0, 1
GATES = (2, 3)  # gate blocks of each variant


@njit(**KERNEL_OPTIONS)
def min_forward(gx, h0, lengths, reverse, variant, b0, b1, out, h_n):
    """Run rows b0:b1 of a minGRU (variant 0) or minLSTM (variant 1) layer over time.

    Args:
        gx: (T, B, G·H) input projections (G = 2 or 3).  h0: (B, H).
        lengths, reverse, variant, b0, b1: see the module docstring.
        out: (T, B, H) written (zero at padding).  h_n: (B, H) written.
    """
    steps, hidden = gx.shape[0], h0.shape[1]
    half = out.dtype.type(0.5)
    zero = out.dtype.type(0.0)
    for b in range(b0, b1):
        length = lengths[b]
        h = h0[b].copy()
        for s in range(steps):
            if s >= length:
                out[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            g, y = gx[t, b], out[t, b]
            if variant == MINGRU:
                for k in range(hidden):
                    v = g[hidden + k]
                    c = max(v + half, sigmoid(v))
                    z = sigmoid(g[k])
                    hk = h[k]
                    hk = hk + z * (c - hk)
                    h[k] = hk
                    y[k] = hk
            else:
                for k in range(hidden):
                    v = g[2 * hidden + k]
                    c = max(v + half, sigmoid(v))
                    kf, ki = g[k], g[hidden + k]
                    m = max(max(-kf, -ki), zero)
                    em, ef, ei = exp(-m), exp(-kf - m), exp(-ki - m)
                    i = (em + ef) / (em + em + ef + ei)
                    hk = h[k]
                    hk = hk + i * (c - hk)
                    h[k] = hk
                    y[k] = hk
        h_n[b] = h


@njit(**KERNEL_OPTIONS)
def min_backward(gx, out, h0, lengths, reverse, variant, b0, b1, d_out, d_h_n, d_gx, d_h0):
    """The adjoint scan through rows b0:b1 of a minGRU/minLSTM layer.

    Args:
        gx: (T, B, G·H) as in :func:`min_forward`.  out: (T, B, H) its output.  h0: (B, H).
        lengths, reverse, variant, b0, b1: see the module docstring.
        d_out: (T, B, H).  d_h_n: (B, H).
        d_gx: (T, B, G·H) written: the gradient of every pre-activation (zero at padding).
        d_h0: (B, H) written.
    """
    steps, hidden = gx.shape[0], h0.shape[1]
    half = out.dtype.type(0.5)
    one = out.dtype.type(1.0)
    zero = out.dtype.type(0.0)
    for b in range(b0, b1):
        length = lengths[b]
        dh = d_h_n[b].copy()  # (H,) ∂L/∂h_t, carried to earlier steps
        for s in range(steps - 1, -1, -1):
            if s >= length:
                d_gx[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            if s == 0:
                hp = h0[b]
            else:
                hp = out[t + 1, b] if reverse else out[t - 1, b]
            g, e, dy = gx[t, b], d_gx[t, b], d_out[t, b]
            if variant == MINGRU:
                for k in range(hidden):
                    v = g[hidden + k]
                    sv = sigmoid(v)
                    c = max(v + half, sv)
                    dc = one if v >= 0 else sv * (one - sv)
                    d = dh[k] + dy[k]
                    z = sigmoid(g[k])
                    e[k] = d * (c - hp[k]) * z * (one - z)
                    e[hidden + k] = d * z * dc
                    dh[k] = d * (one - z)
            else:
                for k in range(hidden):
                    v = g[2 * hidden + k]
                    sv = sigmoid(v)
                    c = max(v + half, sv)
                    dc = one if v >= 0 else sv * (one - sv)
                    d = dh[k] + dy[k]
                    kf, ki = g[k], g[hidden + k]
                    m = max(max(-kf, -ki), zero)
                    em, ef, ei = exp(-m), exp(-kf - m), exp(-ki - m)
                    i = (em + ef) / (em + em + ef + ei)
                    dd = d * (c - hp[k]) * i * (one - i)
                    e[k] = -dd * ef / (em + ef)  # σ(−k_f)
                    e[hidden + k] = dd * ei / (em + ei)  # σ(−k_i)
                    e[2 * hidden + k] = d * i * dc
                    dh[k] = d * (one - i)
        d_h0[b] = dh


#: The compiled functions of this family, for :mod:`rnnkit.kernels.cpu.compile`.
KERNELS = {"forward": min_forward, "backward": min_backward}
PREPARE_WITH = ("products",)  # the input projection and weight gradients
