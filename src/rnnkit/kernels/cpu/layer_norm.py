r"""Compiled loops of the layer-normalised LSTM and GRU ('lstm_ln', 'gru_ln'), forward and BPTT.

The cells are those of :mod:`rnnkit.functional.normalised`. The caller precomputes the raw input
projections :math:`p^x_t = W_{ih} x_t` (T, B, G·H) for all steps; per step these loops compute
:math:`p^h_t = W_{hh} h_{t-1}` (one product per thread slice), normalise both per sample,

.. math::
    \hat p = (p - \mu) \cdot r, \quad r = 1 / \sqrt{\sigma^2 + \epsilon}, \qquad
    u = \alpha_{ih} \odot \hat p^x + b_{ih}, \quad v = \alpha_{hh} \odot \hat p^h + b_{hh}

and run the gates on u and v (LSTM: :math:`a = u + v`, then :math:`\hat c_t = \mathrm{LN}(c_t)`
inside the output tanh; GRU: :math:`r = \sigma(u_r + v_r)`, ..., :math:`n = \tanh(u_n + r v_n)`).

Backward of a normalisation :math:`y = \alpha \odot \hat p + \beta` over N values, given
:math:`\bar y`: with :math:`g = \bar y \odot \alpha`,

.. math::
    \bar p = r \,\big(g - \mathrm{mean}(g) - \hat p \,\mathrm{mean}(g \odot \hat p)\big), \qquad
    \bar\alpha \mathrel{+}= \bar y \odot \hat p, \qquad \bar\beta \mathrel{+}= \bar y

:math:`\bar p^x` (``d_gx``) feeds dX and dW_ih through large products, :math:`\bar p^h`
(``d_gates``) feeds dW_hh and, through one product per step, :math:`\partial L/\partial h_{t-1}`.

What training stores: the statistics are **saved**, not recomputed. Recomputing them needs
:math:`p^h_t = W_{hh} h_{t-1}` again — a per-step product as expensive as the forward's — while
saving the normalised :math:`\hat p^x` (written over ``gx`` in place, no extra memory),
:math:`\hat p^h`, the activated gates and the few scalars per step costs about 2·G·H + 4 values per
sample and step (plus :math:`c_t` for the LSTM), the same order as what torch's autograd keeps
for the reference loop. ``saved`` (T, B, S) holds, per step:

* LSTM (G = 4, S = 8H + 4): :math:`\hat p^h` (4H), the gates i, f, g, o (4H), then
  :math:`r^x, r^h, \mu^c, r^c`; ``saved_c`` (T, B, H) holds :math:`c_t`;
* GRU (G = 3, S = 6H + 2): :math:`\hat p^h` (3H), r, z, n (3H), then :math:`r^x, r^h`.

``params`` packs every normalisation parameter in one vector (absent shifts are zeros):
:math:`[\alpha_{ih}, \alpha_{hh}, b_{ih}, b_{hh}]` (4·G·H) and, for the LSTM,
:math:`[\alpha_c, \beta_c]` (2H). ``d_bias`` (B, len(params)) receives, per sample, the
gradients of those parameters in the same layout (the caller sums over B).

Shapes: T steps, B batch, H hidden, G gate blocks. ``lengths`` (B,) int64 valid steps;
``reverse`` runs each sample backwards within its length (step s reads time
``lengths[b] - 1 - s``); rows ``b0:b1`` of the batch are this call's slice. Outputs past a length
are zero.
"""

from __future__ import annotations

import math

from numba import njit

from rnnkit.kernels.cpu import blas
from rnnkit.kernels.cpu._native import KERNEL_OPTIONS, data_ptr
from rnnkit.kernels.cpu.activations import sigmoid, tanh

#: ε added to every variance (torch.nn.LayerNorm's and :data:`rnnkit.functional.LN_EPS`).
EPS = 1e-5


@njit(**KERNEL_OPTIONS)
def _normalise(v, inv_n, eps):
    """Normalise v in place to (v − μ)·r and return (μ, r); two passes, for float32 accuracy."""
    n = v.shape[0]
    mean = v[0] - v[0]
    for k in range(n):
        mean += v[k]
    mean *= inv_n
    var = mean - mean
    for k in range(n):
        d = v[k] - mean
        var += d * d
    rstd = v.dtype.type(1.0 / math.sqrt(var * inv_n + eps))
    for k in range(n):
        v[k] = (v[k] - mean) * rstd
    return mean, rstd


@njit(**KERNEL_OPTIONS)
def _norm_backward(dy, xhat, gain, rstd, inv_n, dp, d_gain):
    """dp = ∂L/∂p of y = gain ⊙ x̂ + β given dy (all N wide); d_gain += dy ⊙ x̂."""
    n = dy.shape[0]
    s1 = rstd - rstd
    s2 = rstd - rstd
    for k in range(n):
        g = dy[k] * gain[k]
        s1 += g
        s2 += g * xhat[k]
        d_gain[k] += dy[k] * xhat[k]
    s1 *= inv_n
    s2 *= inv_n
    for k in range(n):
        dp[k] = rstd * (dy[k] * gain[k] - s1 - xhat[k] * s2)


@njit(**KERNEL_OPTIONS)
def lstm_ln_forward(gx, h0, c0, w_hh, params, lengths, reverse, b0, b1, out, h_n, c_n, store,
                    saved, saved_c):
    """Run rows b0:b1 of a layer-normalised LSTM layer over time.

    Args:
        gx: (T, B, 4H) raw input projections W_ih x_t; normalised in place (p̂^x) as visited.
        h0, c0: (B, H).  w_hh: (4H, H).  params: (16H + 2H,) see the module docstring.
        lengths, reverse, b0, b1: see the module docstring.
        out: (T, B, H) written (zero at padding).  h_n, c_n: (B, H) written.
        store: keep what backward needs in ``saved`` (T, B, 8H + 4) and ``saved_c`` (T, B, H).
    """
    steps, hidden = gx.shape[0], h0.shape[1]
    gates = 4 * hidden
    rows = b1 - b0
    inv_g = out.dtype.type(1.0 / gates)
    inv_h = out.dtype.type(1.0 / hidden)
    eps = out.dtype.type(EPS)
    a_ih, a_hh = params[:gates], params[gates:2 * gates]
    s_ih, s_hh = params[2 * gates:3 * gates], params[3 * gates:4 * gates]
    a_c, s_c = params[4 * gates:4 * gates + hidden], params[4 * gates + hidden:]
    previous_threads = blas.set_threads_local(1)
    h = h0[b0:b1].copy()  # (rows, H)
    c = c0[b0:b1].copy()  # (rows, H)
    gh = gx[0, b0:b1].copy()  # (rows, 4H) W_hh h_{t-1}, then normalised in place
    act = gx[0, b0].copy()  # (4H,) activated gates of one row
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
            px, ph, cj, hj = gx[t, b], gh[j], c[j], h[j]
            _, rx = _normalise(px, inv_g, eps)
            _, rh = _normalise(ph, inv_g, eps)
            for k in range(gates):
                act[k] = a_ih[k] * px[k] + s_ih[k] + a_hh[k] * ph[k] + s_hh[k]
            for k in range(hidden):
                i = sigmoid(act[k])
                f = sigmoid(act[hidden + k])
                g = tanh(act[2 * hidden + k])
                act[k] = i
                act[hidden + k] = f
                act[2 * hidden + k] = g
                act[3 * hidden + k] = sigmoid(act[3 * hidden + k])
                cj[k] = f * cj[k] + i * g
            # LN(c_t) goes through hj as scratch; c itself is carried un-normalised.
            hj[:] = cj
            mc, rc = _normalise(hj, inv_h, eps)
            for k in range(hidden):
                hj[k] = act[3 * hidden + k] * tanh(a_c[k] * hj[k] + s_c[k])
            out[t, b, :] = hj
            if store:
                w = saved[t, b]
                w[:gates] = ph
                w[gates:2 * gates] = act
                w[2 * gates] = rx
                w[2 * gates + 1] = rh
                w[2 * gates + 2] = mc
                w[2 * gates + 3] = rc
                saved_c[t, b, :] = cj
    h_n[b0:b1] = h
    c_n[b0:b1] = c
    blas.set_threads_local(previous_threads)


@njit(**KERNEL_OPTIONS)
def lstm_ln_backward(gx, saved, saved_c, c0, w_hh, params, lengths, reverse, b0, b1, d_out,
                     d_h_n, d_c_n, d_gx, d_gates, d_h0, d_c0, d_first, d_bias):
    """BPTT through rows b0:b1 of a layer-normalised LSTM layer.

    Args:
        gx: (T, B, 4H) p̂^x as left by :func:`lstm_ln_forward`.  saved: (T, B, 8H + 4).
        saved_c: (T, B, H).  c0: (B, H).  w_hh: (4H, H).  params: as in the forward.
        lengths, reverse, b0, b1: see the module docstring.
        d_out: (T, B, H).  d_h_n, d_c_n: (B, H).
        d_gx: (T, B, 4H) written: ∂L/∂p^x (zero at padding).
        d_gates: (T, B, 4H) written: ∂L/∂p^h (zero at padding).
        d_h0, d_c0: (B, H) written.  d_first: (B, 4H) written: ∂L/∂p^h at each sample's first
            step.  d_bias: (B, 18H) written: per-sample parameter gradients (params layout).
    """
    steps, hidden = gx.shape[0], c0.shape[1]
    gates = 4 * hidden
    rows = b1 - b0
    one = saved_c.dtype.type(1.0)  # typed constants keep float32 loops in float32
    inv_g = saved_c.dtype.type(1.0 / gates)
    inv_h = saved_c.dtype.type(1.0 / hidden)
    a_ih, a_hh = params[:gates], params[gates:2 * gates]
    a_c, s_c = params[4 * gates:4 * gates + hidden], params[4 * gates + hidden:]
    previous_threads = blas.set_threads_local(1)
    dh = d_h_n[b0:b1].copy()  # (rows, H) ∂L/∂h_t from later steps
    dc = d_c_n[b0:b1].copy()  # (rows, H)
    delta = d_gx[0, b0:b1].copy()  # (rows, 4H) ∂L/∂p^h of the current step
    da = d_gx[0, b0].copy()  # (4H,) ∂L/∂a, the gradient of both normalisations' outputs
    dn = c0[b0].copy()  # (H,) ∂L/∂LN(c_t)
    dch = c0[b0].copy()  # (H,) ∂L/∂c_t through the normalisation
    chat = c0[b0].copy()  # (H,) ĉ_t
    packed = blas.pack_b(w_hh, False, rows)
    d_bias[b0:b1] = 0.0
    for s in range(steps - 1, -1, -1):
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            ej = delta[j]
            if s >= length:
                # Padding: h and c pass through unchanged, so dh and dc pass back unchanged.
                ej[:] = 0.0
                d_gx[s, b, :] = 0.0
                d_gates[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            if s == 0:
                cp = c0[b]
            else:
                cp = saved_c[t + 1, b] if reverse else saved_c[t - 1, b]
            w, cc, dcj, db = saved[t, b], saved_c[t, b], dc[j], d_bias[b]
            mc, rc = w[2 * gates + 2], w[2 * gates + 3]
            dhj = dh[j]
            dhj += d_out[t, b]
            for k in range(hidden):
                o = w[gates + 3 * hidden + k]
                ck = (cc[k] - mc) * rc
                chat[k] = ck
                tn = tanh(a_c[k] * ck + s_c[k])
                da[3 * hidden + k] = dhj[k] * tn * o * (one - o)
                dn[k] = dhj[k] * o * (one - tn * tn)
                db[4 * gates + hidden + k] += dn[k]
            _norm_backward(dn, chat, a_c, rc, inv_h, dch, db[4 * gates:4 * gates + hidden])
            for k in range(hidden):
                i = w[gates + k]
                f = w[gates + hidden + k]
                g = w[gates + 2 * hidden + k]
                dck = dcj[k] + dch[k]
                da[k] = dck * g * i * (one - i)
                da[hidden + k] = dck * cp[k] * f * (one - f)
                da[2 * hidden + k] = dck * i * (one - g * g)
                dcj[k] = dck * f
            # a = u + v: both normalisations receive ∂L/∂a, and both shifts its sum.
            for k in range(gates):
                db[2 * gates + k] += da[k]
                db[3 * gates + k] += da[k]
            _norm_backward(da, gx[t, b], a_ih, w[2 * gates], inv_g, d_gx[t, b], db[:gates])
            _norm_backward(da, w[:gates], a_hh, w[2 * gates + 1], inv_g, ej,
                           db[gates:2 * gates])
            d_gates[t, b, :] = ej
            dhj[:] = 0.0  # the product below adds W_hhᵀ ∂L/∂p^h
        blas.gemm_packed_b(rows, hidden, gates, data_ptr(delta), gates, packed, 1.0,
                           data_ptr(dh), hidden)
    d_h0[b0:b1] = dh
    d_c0[b0:b1] = dc
    d_first[b0:b1] = delta
    blas.set_threads_local(previous_threads)


@njit(**KERNEL_OPTIONS)
def gru_ln_forward(gx, h0, w_hh, params, lengths, reverse, b0, b1, out, h_n, store, saved):
    """Run rows b0:b1 of a layer-normalised GRU layer over time.

    Args:
        gx: (T, B, 3H) raw input projections W_ih x_t; normalised in place (p̂^x) as visited.
        h0: (B, H).  w_hh: (3H, H).  params: (12H,) see the module docstring.
        lengths, reverse, b0, b1: see the module docstring.
        out: (T, B, H) written (zero at padding).  h_n: (B, H) written.
        store: keep what backward needs in ``saved`` (T, B, 6H + 2).
    """
    steps, hidden = gx.shape[0], h0.shape[1]
    gates = 3 * hidden
    rows = b1 - b0
    inv_g = out.dtype.type(1.0 / gates)
    eps = out.dtype.type(EPS)
    a_ih, a_hh = params[:gates], params[gates:2 * gates]
    s_ih, s_hh = params[2 * gates:3 * gates], params[3 * gates:]
    previous_threads = blas.set_threads_local(1)
    h = h0[b0:b1].copy()  # (rows, H)
    gh = gx[0, b0:b1].copy()  # (rows, 3H) W_hh h_{t-1}, then normalised in place
    act = gx[0, b0].copy()  # (3H,) r, z, n of one row
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
            px, ph, hj = gx[t, b], gh[j], h[j]
            _, rx = _normalise(px, inv_g, eps)
            _, rh = _normalise(ph, inv_g, eps)
            for k in range(hidden):
                kz, kn = hidden + k, 2 * hidden + k
                r = sigmoid(a_ih[k] * px[k] + s_ih[k] + a_hh[k] * ph[k] + s_hh[k])
                z = sigmoid(a_ih[kz] * px[kz] + s_ih[kz] + a_hh[kz] * ph[kz] + s_hh[kz])
                n = tanh(a_ih[kn] * px[kn] + s_ih[kn] + r * (a_hh[kn] * ph[kn] + s_hh[kn]))
                hj[k] = n + z * (hj[k] - n)
                act[k] = r
                act[kz] = z
                act[kn] = n
            out[t, b, :] = hj
            if store:
                w = saved[t, b]
                w[:gates] = ph
                w[gates:2 * gates] = act
                w[2 * gates] = rx
                w[2 * gates + 1] = rh
    h_n[b0:b1] = h
    blas.set_threads_local(previous_threads)


@njit(**KERNEL_OPTIONS)
def gru_ln_backward(gx, saved, out, h0, w_hh, params, lengths, reverse, b0, b1, d_out, d_h_n,
                    d_gx, d_gates, d_h0, d_first, d_bias):
    """BPTT through rows b0:b1 of a layer-normalised GRU layer.

    Args:
        gx: (T, B, 3H) p̂^x as left by :func:`gru_ln_forward`.  saved: (T, B, 6H + 2).
        out: (T, B, H) the forward's output (h_{t-1} of each step).  h0: (B, H).
        w_hh: (3H, H).  params: as in the forward.  lengths, reverse, b0, b1: see the module
            docstring.  d_out: (T, B, H).  d_h_n: (B, H).
        d_gx, d_gates: (T, B, 3H) written: ∂L/∂p^x and ∂L/∂p^h (zero at padding).
        d_h0: (B, H) written.  d_first: (B, 3H) written: ∂L/∂p^h at each sample's first step.
        d_bias: (B, 12H) written: per-sample parameter gradients (params layout).
    """
    steps, hidden = gx.shape[0], h0.shape[1]
    gates = 3 * hidden
    rows = b1 - b0
    one = out.dtype.type(1.0)  # typed constants keep float32 loops in float32
    inv_g = out.dtype.type(1.0 / gates)
    a_ih, a_hh = params[:gates], params[gates:2 * gates]
    s_hh = params[3 * gates:]
    previous_threads = blas.set_threads_local(1)
    dh = d_h_n[b0:b1].copy()  # (rows, H) ∂L/∂h_t from later steps
    delta = d_gx[0, b0:b1].copy()  # (rows, 3H) ∂L/∂p^h of the current step
    du = d_gx[0, b0].copy()  # (3H,) ∂L/∂u
    dv = d_gx[0, b0].copy()  # (3H,) ∂L/∂v
    packed = blas.pack_b(w_hh, False, rows)
    d_bias[b0:b1] = 0.0
    for s in range(steps - 1, -1, -1):
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            ej = delta[j]
            if s >= length:
                ej[:] = 0.0
                d_gx[s, b, :] = 0.0
                d_gates[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            if s == 0:
                hp = h0[b]
            else:
                hp = out[t + 1, b] if reverse else out[t - 1, b]
            w, db, dj = saved[t, b], d_bias[b], dh[j]
            dj += d_out[t, b]
            for k in range(hidden):
                kz, kn = hidden + k, 2 * hidden + k
                r = w[gates + k]
                z = w[gates + kz]
                n = w[gates + kn]
                vn = a_hh[kn] * w[kn] + s_hh[kn]
                dhk = dj[k]
                dnk = dhk * (one - z) * (one - n * n)
                dzk = dhk * (hp[k] - n) * z * (one - z)
                drk = dnk * vn * r * (one - r)
                du[k] = drk
                du[kz] = dzk
                du[kn] = dnk
                dv[k] = drk
                dv[kz] = dzk
                dv[kn] = r * dnk
                dj[k] = dhk * z  # direct path; the product below adds W_hhᵀ ∂L/∂p^h
            for k in range(gates):
                db[2 * gates + k] += du[k]
                db[3 * gates + k] += dv[k]
            _norm_backward(du, gx[t, b], a_ih, w[2 * gates], inv_g, d_gx[t, b], db[:gates])
            _norm_backward(dv, w[:gates], a_hh, w[2 * gates + 1], inv_g, ej,
                           db[gates:2 * gates])
            d_gates[t, b, :] = ej
        blas.gemm_packed_b(rows, hidden, gates, data_ptr(delta), gates, packed, 1.0,
                           data_ptr(dh), hidden)
    d_h0[b0:b1] = dh
    d_first[b0:b1] = delta
    blas.set_threads_local(previous_threads)


#: The compiled functions of this family, for :mod:`rnnkit.kernels.cpu.compile`.
KERNELS = {"lstm_forward": lstm_ln_forward, "lstm_backward": lstm_ln_backward,
           "gru_forward": gru_ln_forward, "gru_backward": gru_ln_backward}
PREPARE_WITH = ("products",)  # the input projection and weight gradients
