r"""Compiled LSTM loops (gates i, f, g, o; optional projection W_hr), forward and BPTT backward.

Forward, with :math:`g^x_t = W_{ih} x_t + b_{ih} + b_{hh}` precomputed by the caller:

.. math::
    \begin{aligned}
    [i, f, g, o]_t &= [\sigma, \sigma, \tanh, \sigma](g^x_t + W_{hh} h_{t-1}) \\
    c_t &= f_t c_{t-1} + i_t g_t, \qquad m_t = o_t \tanh c_t, \qquad
    h_t = m_t \;\text{or}\; W_{hr} m_t \;(\text{projection, P wide})
    \end{aligned}

Training overwrites :math:`g^x_t` in place with the activated gates and stores :math:`c_t`
(and :math:`m_t` with a projection). Backward, with :math:`\bar h_t = \bar y_t + \partial L/\partial
h_t` from the later steps and :math:`\bar c` carried back in time:

.. math::
    \begin{aligned}
    \bar m_t &= \bar h_t \;\text{or}\; W_{hr}^\top \bar h_t, \qquad
    \bar c_t \mathrel{+}= \bar m_t\, o_t (1 - \tanh^2 c_t) \\
    \delta &= [\bar c_t g_t\, i(1-i),\; \bar c_t c_{t-1} f(1-f),\; \bar c_t i_t (1-g^2),\;
              \bar m_t \tanh c_t\, o(1-o)] \\
    \partial L/\partial c_{t-1} &= \bar c_t f_t, \qquad
    \partial L/\partial h_{t-1} = W_{hh}^\top \delta_t
    \end{aligned}

Shapes: T steps, B batch, H hidden, P projection (H_out = P or H); ``lengths``/``reverse``/``b0:b1``
as in :mod:`rnnkit.kernels.cpu.elman`. Without a projection ``w_hr`` is an empty (0, H) array.
"""

from __future__ import annotations

from numba import njit

from rnnkit.kernels.cpu import blas
from rnnkit.kernels.cpu._native import KERNEL_OPTIONS, data_ptr
from rnnkit.kernels.cpu.activations import sigmoid, tanh


@njit(**KERNEL_OPTIONS)
def lstm_forward(gx, h0, c0, w_hh, w_hr, lengths, reverse, b0, b1, out, h_n, c_n, store,
                 saved_c, saved_m):
    """Run rows b0:b1 of an LSTM layer over time.

    Args:
        gx: (T, B, 4H) input projections with both biases; with ``store`` it is overwritten by
            the activated gates (i, f, g, o).
        h0: (B, H_out).  c0: (B, H).  w_hh: (4H, H_out).  w_hr: (P, H) or (0, H).
        lengths, reverse, b0, b1: see the module docstring.
        out: (T, B, H_out) written (zero at padding).  h_n: (B, H_out), c_n: (B, H) written.
        store: keep what backward needs: the gates in ``gx``, c_t in ``saved_c`` (T, B, H) and,
            with a projection, m_t in ``saved_m`` (T, B, H) (zero at padding).
    """
    steps, hidden, out_size = gx.shape[0], c0.shape[1], h0.shape[1]
    gates = 4 * hidden
    proj = w_hr.shape[0] > 0
    rows = b1 - b0
    previous_threads = blas.set_threads_local(1)
    h = h0[b0:b1].copy()  # (rows, H_out)
    c = c0[b0:b1].copy()  # (rows, H)
    gh = gx[0, b0:b1].copy()  # (rows, 4H) W_hh h_{t-1}
    m = c0[b0:b1].copy()  # (rows, H) o ⊙ tanh(c) before the projection
    hp = h0[b0:b1].copy()  # (rows, P) the projected m, used only with a projection
    packed = blas.pack_b(w_hh, True, rows)
    packed_r = blas.pack_b(w_hr, True, rows) if proj else packed
    for s in range(steps):
        blas.gemm_packed_b(rows, gates, out_size, data_ptr(h), out_size, packed, 0.0,
                           data_ptr(gh), gates)
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            if s >= length:
                out[s, b, :] = 0.0
                if store and proj:
                    saved_m[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            a, r, cj = gx[t, b], gh[j], c[j]
            mj = m[j] if proj else h[j]
            if store:
                sc = saved_c[t, b]
                for k in range(hidden):
                    i = sigmoid(a[k] + r[k])
                    f = sigmoid(a[hidden + k] + r[hidden + k])
                    g = tanh(a[2 * hidden + k] + r[2 * hidden + k])
                    o = sigmoid(a[3 * hidden + k] + r[3 * hidden + k])
                    cn = f * cj[k] + i * g
                    cj[k] = cn
                    sc[k] = cn
                    mj[k] = o * tanh(cn)
                    a[k] = i
                    a[hidden + k] = f
                    a[2 * hidden + k] = g
                    a[3 * hidden + k] = o
                if proj:
                    saved_m[t, b, :] = mj
            else:
                for k in range(hidden):
                    i = sigmoid(a[k] + r[k])
                    f = sigmoid(a[hidden + k] + r[hidden + k])
                    g = tanh(a[2 * hidden + k] + r[2 * hidden + k])
                    o = sigmoid(a[3 * hidden + k] + r[3 * hidden + k])
                    cn = f * cj[k] + i * g
                    cj[k] = cn
                    mj[k] = o * tanh(cn)
            if not proj:
                out[t, b, :] = mj
        if proj:
            blas.gemm_packed_b(rows, out_size, hidden, data_ptr(m), hidden, packed_r, 0.0,
                               data_ptr(hp), out_size)
            for j in range(rows):
                b = b0 + j
                length = lengths[b]
                if s < length:
                    t = length - 1 - s if reverse else s
                    h[j] = hp[j]
                    out[t, b, :] = hp[j]
    h_n[b0:b1] = h
    c_n[b0:b1] = c
    blas.set_threads_local(previous_threads)


@njit(**KERNEL_OPTIONS)
def lstm_backward(gates_saved, saved_c, saved_m, c0, w_hh, w_hr, lengths, reverse, b0, b1,
                  d_out, d_h_n, d_c_n, d_gates, d_proj, d_h0, d_c0, d_gates_first, d_bias):
    """BPTT through rows b0:b1 of an LSTM layer.

    Args:
        gates_saved: (T, B, 4H) activated gates.  saved_c: (T, B, H).  saved_m: (T, B, H) or
            unused without a projection.  c0: (B, H).  w_hh: (4H, H_out).  w_hr: (P, H) or (0, H).
        lengths, reverse, b0, b1: see the module docstring.
        d_out: (T, B, H_out).  d_h_n: (B, H_out).  d_c_n: (B, H).
        d_gates: (T, B, 4H) written: δ per step (zero at padding).
        d_proj: (T, B, P) written with a projection: the total gradient of h_t (for dW_hr);
            may be ``d_out`` itself (each step reads d_out before writing d_proj).
        d_h0: (B, H_out), d_c0: (B, H), d_gates_first: (B, 4H) written.
        d_bias: (B, 4H) written: Σ_t δ_t per sample (the caller sums over B for db).
    """
    steps, hidden, out_size = gates_saved.shape[0], c0.shape[1], d_h_n.shape[1]
    gates = 4 * hidden
    proj = w_hr.shape[0] > 0
    rows = b1 - b0
    one = saved_c.dtype.type(1.0)  # a typed constant keeps float32 loops in float32
    previous_threads = blas.set_threads_local(1)
    dh = d_h_n[b0:b1].copy()  # (rows, H_out) gradient flowing into h_t from later steps
    dc = d_c_n[b0:b1].copy()  # (rows, H)
    dht = d_h_n[b0:b1].copy()  # (rows, H_out) total gradient of h_t
    dm = d_c_n[b0:b1].copy()  # (rows, H) gradient of m_t (with a projection)
    delta = d_gates[0, b0:b1].copy()  # (rows, 4H)
    packed = blas.pack_b(w_hh, False, rows)
    packed_r = blas.pack_b(w_hr, False, rows) if proj else packed
    d_bias[b0:b1] = 0.0
    # When every row of the slice runs all T steps, step s of all rows sits at the same time t,
    # so δ of the step is the contiguous block d_gates[t, b0:b1]: the per-step product reads it
    # there and the copy into ``delta`` is skipped.
    aligned = True
    for b in range(b0, b1):
        aligned = aligned and lengths[b] == steps
    for s in range(steps - 1, -1, -1):
        if proj:
            for j in range(rows):
                b = b0 + j
                length = lengths[b]
                if s >= length:
                    dht[j, :] = 0.0
                    d_proj[s, b, :] = 0.0
                    continue
                t = length - 1 - s if reverse else s
                # In place, in two passes: ``dh[j] + d_out[t, b]`` would allocate a temporary.
                dht[j, :] = dh[j]
                dht[j, :] += d_out[t, b]
                d_proj[t, b, :] = dht[j]
            blas.gemm_packed_b(rows, hidden, out_size, data_ptr(dht), out_size, packed_r, 0.0,
                               data_ptr(dm), hidden)
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            ej = delta[j]
            if s >= length:
                # Padding: h and c pass through unchanged, so dh and dc pass back unchanged.
                ej[:] = 0.0
                d_gates[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            if s == 0:
                cp = c0[b]
            else:
                cp = saved_c[t + 1, b] if reverse else saved_c[t - 1, b]
            w, cc, e, dcj, db = gates_saved[t, b], saved_c[t, b], d_gates[t, b], dc[j], d_bias[b]
            if proj:
                dmj = dm[j]
            else:
                dmj = dh[j]  # becomes the total gradient of h_t, then is reset below
                dmj += d_out[t, b]
            for k in range(hidden):
                i = w[k]
                f = w[hidden + k]
                g = w[2 * hidden + k]
                o = w[3 * hidden + k]
                tc = tanh(cc[k])
                dck = dcj[k] + dmj[k] * o * (one - tc * tc)
                di = dck * g * i * (one - i)
                df = dck * cp[k] * f * (one - f)
                dg = dck * i * (one - g * g)
                do = dmj[k] * tc * o * (one - o)
                dcj[k] = dck * f
                e[k] = di
                e[hidden + k] = df
                e[2 * hidden + k] = dg
                e[3 * hidden + k] = do
                db[k] += di
                db[hidden + k] += df
                db[2 * hidden + k] += dg
                db[3 * hidden + k] += do
            if not aligned:
                ej[:] = e
            dh[j, :] = 0.0  # the product below adds W_hhᵀ δ
        if aligned:
            t = steps - 1 - s if reverse else s
            operand = d_gates[t, b0:b1]
        else:
            operand = delta
        blas.gemm_packed_b(rows, out_size, gates, data_ptr(operand), gates, packed, 1.0,
                           data_ptr(dh), out_size)
    d_h0[b0:b1] = dh
    d_c0[b0:b1] = dc
    if aligned:
        d_gates_first[b0:b1] = d_gates[steps - 1 if reverse else 0, b0:b1]
    else:
        d_gates_first[b0:b1] = delta
    blas.set_threads_local(previous_threads)


#: The compiled functions of this family, for :mod:`rnnkit.kernels.cpu.compile`.
KERNELS = {"forward": lstm_forward, "backward": lstm_backward}
PREPARE_WITH = ("products",)  # the input projection and weight gradients
