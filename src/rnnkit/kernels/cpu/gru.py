r"""Compiled GRU loops (gates r, z, n; the reset gate applied after the recurrent product).

Forward, with :math:`g^x_t = W_{ih} x_t + b_{ih} + [b_{hr}, b_{hz}, 0]` precomputed by the caller
and :math:`g^h_t = W_{hh} h_{t-1}`:

.. math::
    \begin{aligned}
    r_t &= \sigma(g^x_{r} + g^h_{r}), \quad z_t = \sigma(g^x_{z} + g^h_{z}), \quad
    \hat n_t = g^h_{n} + b_{hn} \\
    n_t &= \tanh(g^x_{n} + r_t \odot \hat n_t), \quad
    h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}
    \end{aligned}

Training stores :math:`(r_t, z_t, n_t, \hat n_t)` per step. Backward, with
:math:`\bar h_t = \bar y_t + \partial L/\partial h_t` from the later steps:

.. math::
    \begin{aligned}
    \delta^n &= \bar h_t (1 - z_t)(1 - n_t^2), \quad
    \delta^z = \bar h_t (h_{t-1} - n_t)\, z_t (1 - z_t), \quad
    \delta^r = \delta^n \hat n_t\, r_t (1 - r_t) \\
    \delta^x_t &= [\delta^r, \delta^z, \delta^n] \;(\text{w.r.t. } g^x_t), \qquad
    \delta^h_t = [\delta^r, \delta^z, r_t \delta^n] \;(\text{w.r.t. } g^h_t) \\
    \partial L/\partial h_{t-1} &= \bar h_t z_t + W_{hh}^\top \delta^h_t
    \end{aligned}

:math:`\delta^x` feeds dW_ih, db_ih and dx; :math:`\delta^h` differs only in its n block, so only
that block (:math:`r_t \delta^n`, H wide) is stored separately for dW_hh and db_hn.

Shapes: T steps, B batch, H hidden; ``lengths``/``reverse``/``b0:b1`` as in
:mod:`rnnkit.kernels.cpu.elman`.
"""

from __future__ import annotations

from numba import njit

from rnnkit.kernels.cpu import blas
from rnnkit.kernels.cpu._native import KERNEL_OPTIONS, data_ptr
from rnnkit.kernels.cpu.activations import sigmoid, tanh


@njit(**KERNEL_OPTIONS)
def gru_forward(gx, h0, w_hh, b_hn, lengths, reverse, b0, b1, out, h_n, store, saved):
    """Run rows b0:b1 of a GRU layer over time.

    Args:
        gx: (T, B, 3H) input projections with b_ih and the r, z blocks of b_hh folded in.
        h0: (B, H).  w_hh: (3H, H).  b_hn: (H,) the n block of b_hh (zeros without bias).
        lengths, reverse, b0, b1: see the module docstring.
        out: (T, B, H) written (zero at padding).  h_n: (B, H) written.
        store: keep what backward needs in ``saved``, (T, B, 4H) = (r, z, n, n̂) per step.
    """
    steps, hidden = gx.shape[0], h0.shape[1]
    gates = 3 * hidden
    rows = b1 - b0
    previous_threads = blas.set_threads_local(1)
    h = h0[b0:b1].copy()  # (rows, H)
    gh = gx[0, b0:b1].copy()  # (rows, 3H) W_hh h_{t-1}
    packed = blas.pack_b(w_hh, True, rows)
    for s in range(steps):
        blas.gemm_packed_b(rows, gates, hidden, data_ptr(h), hidden, packed, 0.0,
                           data_ptr(gh), gates)
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            if s >= length:
                out[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            a, g, hj, y = gx[t, b], gh[j], h[j], out[t, b]
            if store:
                w = saved[t, b]
                for k in range(hidden):
                    r = sigmoid(a[k] + g[k])
                    z = sigmoid(a[hidden + k] + g[hidden + k])
                    nh = g[2 * hidden + k] + b_hn[k]
                    n = tanh(a[2 * hidden + k] + r * nh)
                    v = n + z * (hj[k] - n)
                    hj[k] = v
                    y[k] = v
                    w[k] = r
                    w[hidden + k] = z
                    w[2 * hidden + k] = n
                    w[3 * hidden + k] = nh
            else:
                for k in range(hidden):
                    r = sigmoid(a[k] + g[k])
                    z = sigmoid(a[hidden + k] + g[hidden + k])
                    n = tanh(a[2 * hidden + k] + r * (g[2 * hidden + k] + b_hn[k]))
                    v = n + z * (hj[k] - n)
                    hj[k] = v
                    y[k] = v
    h_n[b0:b1] = h
    blas.set_threads_local(previous_threads)


@njit(**KERNEL_OPTIONS)
def gru_backward(saved, out, h0, w_hh, lengths, reverse, b0, b1, d_out, d_h_n, d_gx, d_hn,
                 d_h0, d_gh_first, d_bias):
    """BPTT through rows b0:b1 of a GRU layer.

    Args:
        saved: (T, B, 4H) from :func:`gru_forward`.  out: (T, B, H).  h0: (B, H).
        w_hh: (3H, H).  lengths, reverse, b0, b1: see the module docstring.
        d_out: (T, B, H).  d_h_n: (B, H).
        d_gx: (T, B, 3H) written: δ^x per step (zero at padding).
        d_hn: (T, B, H) written: r ⊙ δ^n, the n block of δ^h (zero at padding); may be
            ``d_out`` itself (each step reads d_out before writing d_hn).
        d_h0: (B, H) written.  d_gh_first: (B, 3H) written: δ^h at each sample's first step.
        d_bias: (B, 4H) written: per sample Σ_t of (δ^x, r ⊙ δ^n) — db_ih and the n block of
            db_hh once the caller sums over B.
    """
    steps, hidden = out.shape[0], out.shape[2]
    gates = 3 * hidden
    rows = b1 - b0
    one = out.dtype.type(1.0)  # a typed constant keeps float32 loops in float32
    previous_threads = blas.set_threads_local(1)
    dh = d_h_n[b0:b1].copy()  # (rows, H)
    delta = d_gx[0, b0:b1].copy()  # (rows, 3H) δ^h of the current step
    packed = blas.pack_b(w_hh, False, rows)
    d_bias[b0:b1] = 0.0
    for s in range(steps - 1, -1, -1):
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            dj, ej, db = dh[j], delta[j], d_bias[b]
            if s >= length:
                ej[:] = 0.0
                d_gx[s, b, :] = 0.0
                d_hn[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            if s == 0:
                hp = h0[b]
            else:
                hp = out[t + 1, b] if reverse else out[t - 1, b]
            w, ex, en = saved[t, b], d_gx[t, b], d_hn[t, b]
            # Read d_out in a pass of its own: d_hn may then share its memory (see backward).
            dj += d_out[t, b]
            for k in range(hidden):
                r = w[k]
                z = w[hidden + k]
                n = w[2 * hidden + k]
                nh = w[3 * hidden + k]
                dhk = dj[k]
                dn = dhk * (one - z) * (one - n * n)
                dz = dhk * (hp[k] - n) * z * (one - z)
                dr = dn * nh * r * (one - r)
                ex[k] = dr
                ex[hidden + k] = dz
                ex[2 * hidden + k] = dn
                en[k] = r * dn
                ej[k] = dr
                ej[hidden + k] = dz
                ej[2 * hidden + k] = r * dn
                db[k] += dr
                db[hidden + k] += dz
                db[2 * hidden + k] += dn
                db[3 * hidden + k] += r * dn
                dj[k] = dhk * z  # direct path; the product below adds W_hhᵀ δ^h
        blas.gemm_packed_b(rows, hidden, gates, data_ptr(delta), gates, packed, 1.0,
                           data_ptr(dh), hidden)
    d_h0[b0:b1] = dh
    d_gh_first[b0:b1] = delta
    blas.set_threads_local(previous_threads)


#: The compiled functions of this family, for :mod:`rnnkit.kernels.cpu.compile`.
KERNELS = {"forward": gru_forward, "backward": gru_backward}
PREPARE_WITH = ("products",)  # the input projection and weight gradients
