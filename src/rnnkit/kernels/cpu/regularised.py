r"""Compiled LSTM, GRU and Elman loops with recurrent dropout and zoneout, forward and BPTT
backward.

The cells are those of :mod:`.lstm` (with or without a projection), :mod:`.gru` and
:mod:`.elman`; the regularisers are those of :mod:`rnnkit.functional.regularisation`, with masks
drawn by the caller:

* recurrent dropout: the gates read :math:`r_{t-1} = m \odot h_{t-1}` with one mask m
  (B, H_out) per sequence (``h_mask``; an empty (0, H_out) array for none); the state carried
  forward is the unmasked :math:`h_{t-1}`. For the GRU the masked read is also the h of
  :math:`\tilde h_t = (1 - z_t) n_t + z_t r_{t-1}` (it is the state the cell was given).
* zoneout on every state tensor s (h, and c for the LSTM), with keep coefficients
  :math:`d_t` — the training masks ``zone_h``/``zone_c`` (T, B, S) indexed by processing step,
  or, when those are empty (0, 0, 0), the constant ``zoneout_p`` (evaluation; 0 for none):

.. math::
    s_t = d_t\, s_{t-1} + (1 - d_t)\, \tilde s_t, \qquad y_t = h_t

Backward, with :math:`\bar h_t = \bar y_t + \partial L/\partial h_t` from the later steps and
:math:`\bar c_t` carried back: the cell's own BPTT (:mod:`.lstm`, :mod:`.gru`, :mod:`.elman`)
runs on :math:`\bar{\tilde h}_t = (1 - d^h_t) \bar h_t` and (LSTM)
:math:`\bar{\tilde c}_t = (1 - d^c_t)\bar c_t + \bar{\tilde h}_t o_t (1 - \tanh^2 \tilde c_t)`,
and the gradient of what the gates read, :math:`\bar r_{t-1} = W_{hh}^\top \delta_t` (GRU: plus
:math:`z_t \bar{\tilde h}_t`), reaches the carried state through the mask:

.. math::
    \partial L/\partial h_{t-1} = d^h_t \bar h_t + m \odot \bar r_{t-1}, \qquad
    \partial L/\partial c_{t-1} = d^c_t \bar c_t + f_t \bar{\tilde c}_t

dW_hh pairs δ with the masked reads :math:`m \odot h_{t-1}` (the caller's product).

With a projection the LSTM's :math:`\tilde h_t = W_{hr} m_t` (P wide) is zoned, and
:math:`\bar m_t = W_{hr}^\top \bar{\tilde h}_t` replaces :math:`\bar{\tilde h}_t` in the cell's
BPTT (dW_hr pairs :math:`\bar{\tilde h}_t` with :math:`m_t`).

Shapes: T steps, B batch, H hidden, H_out = P or H; ``lengths``/``reverse``/``b0:b1`` as in
:mod:`rnnkit.kernels.cpu.elman` (a padded step leaves the state unchanged and outputs zero).
"""

from __future__ import annotations

from numba import njit

from rnnkit.kernels.cpu import blas
from rnnkit.kernels.cpu._native import KERNEL_OPTIONS, data_ptr
from rnnkit.kernels.cpu.activations import sigmoid, tanh


@njit(cache=True, fastmath=True, inline="always")
def _zone(d, old, new):
    """d·old + (1 − d)·new, exactly ``old`` for d = 1 and ``new`` for d = 0 (a 0/1 mask must
    select, and fastmath may reassociate the blend)."""
    if d == 0:
        return new
    if d == 1:
        return old
    return d * old + (new - d * new)


@njit(**KERNEL_OPTIONS)
def lstm_forward(gx, h0, c0, w_hh, w_hr, h_mask, zone_h, zone_c, zoneout_p, lengths, reverse,
                 b0, b1, out, h_n, c_n, store, saved_c, saved_ct, saved_m):
    """Run rows b0:b1 of a regularised LSTM layer over time.

    Args:
        gx: (T, B, 4H) input projections with both biases; with ``store`` it is overwritten by
            the activated gates (i, f, g, o).
        h0: (B, H_out).  c0: (B, H).  w_hh: (4H, H_out).  w_hr: (P, H) or (0, H) (no
            projection: H_out = H; with one, h̃_t = W_hr m_t and H_out = P).
        h_mask: (B, H_out) or (0, H_out).
        zone_h: (T, B, H_out), zone_c: (T, B, H) keep masks per processing step, or
            (0, 0, 0) each to use ``zoneout_p`` for every unit.
        lengths, reverse, b0, b1: see the module docstring.
        out: (T, B, H_out) written (zero at padding).  h_n: (B, H_out), c_n: (B, H) written.
        store: keep what backward needs: the gates in ``gx``, the zoned c_t in ``saved_c``,
            the cell's own c̃_t in ``saved_ct`` (T, B, H each; the same array without zoneout)
            and, with a projection, m_t = o_t tanh c̃_t in ``saved_m`` (T, B, H).
    """
    steps, hidden, out_size = gx.shape[0], c0.shape[1], h0.shape[1]
    gates = 4 * hidden
    proj = w_hr.shape[0] > 0
    rows = b1 - b0
    drop = h_mask.shape[0] > 0
    sampled = zone_h.shape[0] > 0
    p = gx.dtype.type(zoneout_p)
    previous_threads = blas.set_threads_local(1)
    h = h0[b0:b1].copy()  # (rows, H_out) the carried state
    c = c0[b0:b1].copy()  # (rows, H)
    read = h0[b0:b1].copy()  # (rows, H_out) m ⊙ h_{t-1}, what the gates read
    gh = gx[0, b0:b1].copy()  # (rows, 4H) W_hh r_{t-1}
    m = c0[b0:b1].copy()  # (rows, H) o ⊙ tanh(c̃) before the projection
    hp = h0[b0:b1].copy()  # (rows, P) W_hr m_t, used only with a projection
    packed = blas.pack_b(w_hh, True, rows)
    packed_r = blas.pack_b(w_hr, True, rows) if proj else packed
    for s in range(steps):
        if drop:
            for j in range(rows):
                mask, hj, rj = h_mask[b0 + j], h[j], read[j]
                for k in range(out_size):
                    rj[k] = mask[k] * hj[k]
            source = read
        else:
            source = h
        blas.gemm_packed_b(rows, gates, out_size, data_ptr(source), out_size, packed, 0.0,
                           data_ptr(gh), gates)
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            if s >= length:
                out[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            a, r, cj, hj, mj, y = gx[t, b], gh[j], c[j], h[j], m[j], out[t, b]
            for k in range(hidden):
                i = sigmoid(a[k] + r[k])
                f = sigmoid(a[hidden + k] + r[hidden + k])
                g = tanh(a[2 * hidden + k] + r[2 * hidden + k])
                o = sigmoid(a[3 * hidden + k] + r[3 * hidden + k])
                ct = f * cj[k] + i * g
                mt = o * tanh(ct)
                kc = zone_c[s, b, k] if sampled else p
                cj[k] = _zone(kc, cj[k], ct)
                if proj:
                    mj[k] = mt
                else:
                    kh = zone_h[s, b, k] if sampled else p
                    hn = _zone(kh, hj[k], mt)
                    hj[k] = hn
                    y[k] = hn
                if store:
                    saved_ct[t, b, k] = ct
                    saved_c[t, b, k] = cj[k]  # after c̃: the arrays may be one
                    if proj:
                        saved_m[t, b, k] = mt
                    a[k] = i
                    a[hidden + k] = f
                    a[2 * hidden + k] = g
                    a[3 * hidden + k] = o
        if proj:
            blas.gemm_packed_b(rows, out_size, hidden, data_ptr(m), hidden, packed_r, 0.0,
                               data_ptr(hp), out_size)
            for j in range(rows):
                b = b0 + j
                length = lengths[b]
                if s >= length:
                    if store:
                        saved_m[s, b, :] = 0.0
                    continue
                t = length - 1 - s if reverse else s
                hj, pj, y = h[j], hp[j], out[t, b]
                for k in range(out_size):
                    kh = zone_h[s, b, k] if sampled else p
                    hn = _zone(kh, hj[k], pj[k])
                    hj[k] = hn
                    y[k] = hn
    h_n[b0:b1] = h
    c_n[b0:b1] = c
    blas.set_threads_local(previous_threads)


@njit(**KERNEL_OPTIONS)
def lstm_backward(gates_saved, saved_c, saved_ct, saved_m, c0, w_hh, w_hr, h_mask, zone_h,
                  zone_c, zoneout_p, lengths, reverse, b0, b1, d_out, d_h_n, d_c_n, d_gates,
                  d_proj, d_h0, d_c0, d_gates_first, d_bias):
    """BPTT through rows b0:b1 of a regularised LSTM layer.

    Args:
        gates_saved: (T, B, 4H) activated gates.  saved_c: (T, B, H) zoned c_t.
        saved_ct: (T, B, H) the cell's c̃_t.  saved_m: (T, B, H) m_t (with a projection).
        c0: (B, H).  w_hh: (4H, H_out).  w_hr: (P, H) or (0, H).
        h_mask, zone_h, zone_c, zoneout_p: as given to :func:`lstm_forward`.
        lengths, reverse, b0, b1: see the module docstring.
        d_out: (T, B, H_out).  d_h_n: (B, H_out).  d_c_n: (B, H).
        d_gates: (T, B, 4H) written: δ per step (zero at padding).
        d_proj: (T, B, P) written with a projection: the gradient of the projected h̃_t (for
            dW_hr); may be ``d_out`` itself (each unit reads d_out before writing d_proj).
        d_h0: (B, H_out), d_c0: (B, H) written.  d_gates_first: (B, 4H) written: δ at each
            sample's first step.  d_bias: (B, 4H) written: Σ_t δ_t per sample.
    """
    steps, hidden, out_size = gates_saved.shape[0], c0.shape[1], d_h_n.shape[1]
    gates = 4 * hidden
    proj = w_hr.shape[0] > 0
    rows = b1 - b0
    drop = h_mask.shape[0] > 0
    sampled = zone_h.shape[0] > 0
    one = saved_c.dtype.type(1.0)
    p = saved_c.dtype.type(zoneout_p)
    previous_threads = blas.set_threads_local(1)
    dh = d_h_n[b0:b1].copy()  # (rows, H_out) gradient of the carried h_t from later steps
    dc = d_c_n[b0:b1].copy()  # (rows, H)
    dread = d_h_n[b0:b1].copy()  # (rows, H_out) W_hhᵀ δ: gradient of what the gates read
    dht = d_h_n[b0:b1].copy()  # (rows, P) gradient of the projected h̃_t
    dm = d_c_n[b0:b1].copy()  # (rows, H) gradient of m_t (with a projection)
    delta = d_gates[0, b0:b1].copy()  # (rows, 4H)
    packed = blas.pack_b(w_hh, False, rows)
    packed_r = blas.pack_b(w_hr, False, rows) if proj else packed
    d_bias[b0:b1] = 0.0
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
                dhj, dtj, yo, dp = dh[j], dht[j], d_out[t, b], d_proj[t, b]
                for k in range(out_size):
                    kh = zone_h[s, b, k] if sampled else p
                    hbar = dhj[k] + yo[k]
                    dtj[k] = (one - kh) * hbar
                    dp[k] = dtj[k]
                    dhj[k] = kh * hbar  # the product below adds m ⊙ W_hhᵀ δ
            blas.gemm_packed_b(rows, hidden, out_size, data_ptr(dht), out_size, packed_r, 0.0,
                               data_ptr(dm), hidden)
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            ej = delta[j]
            if s >= length:
                # Padding: the state passes through unchanged, so its gradient passes back.
                ej[:] = 0.0
                d_gates[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            if s == 0:
                cp = c0[b]
            else:
                cp = saved_c[t + 1, b] if reverse else saved_c[t - 1, b]
            w, cc, e, dcj, dhj = gates_saved[t, b], saved_ct[t, b], d_gates[t, b], dc[j], dh[j]
            yo, db, dmj = d_out[t, b], d_bias[b], dm[j]
            for k in range(hidden):
                kc = zone_c[s, b, k] if sampled else p
                if proj:
                    dmt = dmj[k]
                else:
                    kh = zone_h[s, b, k] if sampled else p
                    hbar = dhj[k] + yo[k]
                    dmt = (one - kh) * hbar  # gradient of the cell's own h̃_t = m_t
                    dhj[k] = kh * hbar  # the product below adds m ⊙ W_hhᵀ δ
                i = w[k]
                f = w[hidden + k]
                g = w[2 * hidden + k]
                o = w[3 * hidden + k]
                tc = tanh(cc[k])
                dct = (one - kc) * dcj[k] + dmt * o * (one - tc * tc)
                di = dct * g * i * (one - i)
                df = dct * cp[k] * f * (one - f)
                dg = dct * i * (one - g * g)
                do = dmt * tc * o * (one - o)
                dcj[k] = kc * dcj[k] + dct * f
                e[k] = di
                e[hidden + k] = df
                e[2 * hidden + k] = dg
                e[3 * hidden + k] = do
                db[k] += di
                db[hidden + k] += df
                db[2 * hidden + k] += dg
                db[3 * hidden + k] += do
            ej[:] = e
        blas.gemm_packed_b(rows, out_size, gates, data_ptr(delta), gates, packed, 0.0,
                           data_ptr(dread), out_size)
        # Padded rows have δ = 0, so they add nothing.
        for j in range(rows):
            dhj, drj = dh[j], dread[j]
            if drop:
                mask = h_mask[b0 + j]
                for k in range(out_size):
                    dhj[k] += mask[k] * drj[k]
            else:
                dhj += drj
    d_h0[b0:b1] = dh
    d_c0[b0:b1] = dc
    d_gates_first[b0:b1] = delta
    blas.set_threads_local(previous_threads)


@njit(**KERNEL_OPTIONS)
def gru_forward(gx, h0, w_hh, b_hn, h_mask, zone_h, zoneout_p, lengths, reverse, b0, b1, out,
                h_n, store, saved):
    """Run rows b0:b1 of a regularised GRU layer over time.

    Args:
        gx: (T, B, 3H) input projections with b_ih and the r, z blocks of b_hh folded in.
        h0: (B, H).  w_hh: (3H, H).  b_hn: (H,) the n block of b_hh (zeros without bias).
        h_mask: (B, H) or (0, H).  zone_h: (T, B, H) keep masks per processing step, or
            (0, 0, 0) to use ``zoneout_p`` for every unit.
        lengths, reverse, b0, b1: see the module docstring.
        out: (T, B, H) written (zero at padding).  h_n: (B, H) written.
        store: keep (r, z, n, n̂) per step in ``saved`` (T, B, 4H) for backward.
    """
    steps, hidden = gx.shape[0], h0.shape[1]
    gates = 3 * hidden
    rows = b1 - b0
    drop = h_mask.shape[0] > 0
    sampled = zone_h.shape[0] > 0
    p = gx.dtype.type(zoneout_p)
    previous_threads = blas.set_threads_local(1)
    h = h0[b0:b1].copy()  # (rows, H) the carried state
    read = h0[b0:b1].copy()  # (rows, H) m ⊙ h_{t-1}
    gh = gx[0, b0:b1].copy()  # (rows, 3H) W_hh r_{t-1}
    packed = blas.pack_b(w_hh, True, rows)
    for s in range(steps):
        if drop:
            for j in range(rows):
                m, hj, rj = h_mask[b0 + j], h[j], read[j]
                for k in range(hidden):
                    rj[k] = m[k] * hj[k]
            source = read
        else:
            source = h
        blas.gemm_packed_b(rows, gates, hidden, data_ptr(source), hidden, packed, 0.0,
                           data_ptr(gh), gates)
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            if s >= length:
                out[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            a, g, hj, rj, y = gx[t, b], gh[j], h[j], source[j], out[t, b]
            for k in range(hidden):
                r = sigmoid(a[k] + g[k])
                z = sigmoid(a[hidden + k] + g[hidden + k])
                nh = g[2 * hidden + k] + b_hn[k]
                n = tanh(a[2 * hidden + k] + r * nh)
                v = n + z * (rj[k] - n)  # reads rj[k] before hj[k] (maybe the same) is written
                kh = zone_h[s, b, k] if sampled else p
                hn = _zone(kh, hj[k], v)
                hj[k] = hn
                y[k] = hn
                if store:
                    w = saved[t, b]
                    w[k] = r
                    w[hidden + k] = z
                    w[2 * hidden + k] = n
                    w[3 * hidden + k] = nh
    h_n[b0:b1] = h
    blas.set_threads_local(previous_threads)


@njit(**KERNEL_OPTIONS)
def gru_backward(saved, out, h0, w_hh, h_mask, zone_h, zoneout_p, lengths, reverse, b0, b1,
                 d_out, d_h_n, d_gx, d_hn, d_h0, d_gh_first, d_bias):
    """BPTT through rows b0:b1 of a regularised GRU layer.

    Args:
        saved: (T, B, 4H) from :func:`gru_forward`.  out: (T, B, H) the zoned h_t.
        h0: (B, H).  w_hh: (3H, H).
        h_mask, zone_h, zoneout_p: as given to :func:`gru_forward`.
        lengths, reverse, b0, b1: see the module docstring.
        d_out: (T, B, H).  d_h_n: (B, H).
        d_gx: (T, B, 3H) written: δ^x per step (zero at padding).
        d_hn: (T, B, H) written: r ⊙ δ^n (zero at padding); may be ``d_out`` itself (each
            unit reads d_out before writing d_hn).
        d_h0: (B, H) written.  d_gh_first: (B, 3H) written: δ^h at each sample's first step.
        d_bias: (B, 4H) written: per sample Σ_t of (δ^x, r ⊙ δ^n).
    """
    steps, hidden = out.shape[0], out.shape[2]
    gates = 3 * hidden
    rows = b1 - b0
    drop = h_mask.shape[0] > 0
    sampled = zone_h.shape[0] > 0
    one = out.dtype.type(1.0)
    p = out.dtype.type(zoneout_p)
    previous_threads = blas.set_threads_local(1)
    dh = d_h_n[b0:b1].copy()  # (rows, H) gradient of the carried h_t from later steps
    dread = d_h_n[b0:b1].copy()  # (rows, H) gradient of what the step read, m ⊙ h_{t-1}
    delta = d_gx[0, b0:b1].copy()  # (rows, 3H) δ^h of the current step
    packed = blas.pack_b(w_hh, False, rows)
    d_bias[b0:b1] = 0.0
    for s in range(steps - 1, -1, -1):
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            dj, drj, ej, db = dh[j], dread[j], delta[j], d_bias[b]
            if s >= length:
                ej[:] = 0.0
                drj[:] = 0.0
                d_gx[s, b, :] = 0.0
                d_hn[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            if s == 0:
                hp = h0[b]
            else:
                hp = out[t + 1, b] if reverse else out[t - 1, b]
            w, ex, en, yo = saved[t, b], d_gx[t, b], d_hn[t, b], d_out[t, b]
            for k in range(hidden):
                r = w[k]
                z = w[hidden + k]
                n = w[2 * hidden + k]
                nh = w[3 * hidden + k]
                rp = h_mask[b, k] * hp[k] if drop else hp[k]
                kh = zone_h[s, b, k] if sampled else p
                hbar = dj[k] + yo[k]
                dv = (one - kh) * hbar  # gradient of the cell's own h̃_t
                dn = dv * (one - z) * (one - n * n)
                dz = dv * (rp - n) * z * (one - z)
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
                drj[k] = dv * z  # direct path; the product below adds W_hhᵀ δ^h
                dj[k] = kh * hbar
        blas.gemm_packed_b(rows, hidden, gates, data_ptr(delta), gates, packed, 1.0,
                           data_ptr(dread), hidden)
        # Padded rows have a zero read gradient, so they add nothing.
        for j in range(rows):
            dj, drj = dh[j], dread[j]
            if drop:
                m = h_mask[b0 + j]
                for k in range(hidden):
                    dj[k] += m[k] * drj[k]
            else:
                dj += drj
    d_h0[b0:b1] = dh
    d_gh_first[b0:b1] = delta
    blas.set_threads_local(previous_threads)


@njit(**KERNEL_OPTIONS)
def elman_forward(gx, h0, w_hh, h_mask, zone_h, zoneout_p, lengths, reverse, act, b0, b1, out,
                  h_n, store, saved):
    """Run rows b0:b1 of a regularised Elman layer over time: h̃_t = φ(g^x_t + W_hh r_{t-1}).

    Args:
        gx: (T, B, H) input projections with both biases.  h0: (B, H).  w_hh: (H, H).
        h_mask, zone_h, zoneout_p: as in :func:`gru_forward`.
        lengths, reverse, b0, b1: see the module docstring.  act: the code of
            :data:`rnnkit.kernels.cpu.elman.ACTIVATIONS`.
        out: (T, B, H) written (zero at padding).  h_n: (B, H) written.
        store: keep the cell's own h̃_t in ``saved`` (T, B, H) for backward.
    """
    steps, hidden = gx.shape[0], h0.shape[1]
    rows = b1 - b0
    drop = h_mask.shape[0] > 0
    sampled = zone_h.shape[0] > 0
    zero = gx.dtype.type(0.0)
    p = gx.dtype.type(zoneout_p)
    previous_threads = blas.set_threads_local(1)
    h = h0[b0:b1].copy()  # (rows, H) the carried state
    read = h0[b0:b1].copy()  # (rows, H) m ⊙ h_{t-1}
    gh = h0[b0:b1].copy()  # (rows, H) W_hh r_{t-1}
    packed = blas.pack_b(w_hh, True, rows)
    for s in range(steps):
        if drop:
            for j in range(rows):
                m, hj, rj = h_mask[b0 + j], h[j], read[j]
                for k in range(hidden):
                    rj[k] = m[k] * hj[k]
            source = read
        else:
            source = h
        blas.gemm_packed_b(rows, hidden, hidden, data_ptr(source), hidden, packed, 0.0,
                           data_ptr(gh), hidden)
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            if s >= length:
                out[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            a, g, hj, y = gx[t, b], gh[j], h[j], out[t, b]
            for k in range(hidden):
                if act == 0:
                    v = tanh(a[k] + g[k])
                elif act == 1:
                    v = max(a[k] + g[k], zero)
                else:
                    v = sigmoid(a[k] + g[k])
                kh = zone_h[s, b, k] if sampled else p
                hn = _zone(kh, hj[k], v)
                hj[k] = hn
                y[k] = hn
                if store:
                    saved[t, b, k] = v
    h_n[b0:b1] = h
    blas.set_threads_local(previous_threads)


@njit(**KERNEL_OPTIONS)
def elman_backward(saved, w_hh, h_mask, zone_h, zoneout_p, lengths, reverse, act, b0, b1, d_out,
                   d_h_n, d_pre, d_h0, d_pre_first, d_bias):
    """BPTT through rows b0:b1 of a regularised Elman layer.

    Args:
        saved: (T, B, H) the cell's own h̃_t (φ' is read off it).  w_hh: (H, H).
        h_mask, zone_h, zoneout_p, act: as given to :func:`elman_forward`.
        lengths, reverse, b0, b1: see the module docstring.
        d_out: (T, B, H).  d_h_n: (B, H).
        d_pre: (T, B, H) written: δ_t (zero at padding); may be ``d_out`` itself (each unit
            reads d_out before writing d_pre).
        d_h0: (B, H) written.  d_pre_first: (B, H) written: δ at each sample's first step.
        d_bias: (B, H) written: Σ_t δ_t per sample.
    """
    steps, hidden = saved.shape[0], saved.shape[2]
    rows = b1 - b0
    drop = h_mask.shape[0] > 0
    sampled = zone_h.shape[0] > 0
    zero, one = saved.dtype.type(0.0), saved.dtype.type(1.0)
    p = saved.dtype.type(zoneout_p)
    previous_threads = blas.set_threads_local(1)
    dh = d_h_n[b0:b1].copy()  # (rows, H) gradient of the carried h_t from later steps
    dread = d_h_n[b0:b1].copy()  # (rows, H) W_hhᵀ δ: gradient of what the step read
    delta = d_h_n[b0:b1].copy()  # (rows, H) δ of the current step
    packed = blas.pack_b(w_hh, False, rows)
    d_bias[b0:b1] = 0.0
    for s in range(steps - 1, -1, -1):
        for j in range(rows):
            b = b0 + j
            length = lengths[b]
            dj, ej, db = dh[j], delta[j], d_bias[b]
            if s >= length:
                ej[:] = 0.0
                d_pre[s, b, :] = 0.0
                continue
            t = length - 1 - s if reverse else s
            g, e, yo = saved[t, b], d_pre[t, b], d_out[t, b]
            for k in range(hidden):
                kh = zone_h[s, b, k] if sampled else p
                hbar = dj[k] + yo[k]
                dv = (one - kh) * hbar  # gradient of the cell's own h̃_t
                if act == 0:
                    v = dv * (one - g[k] * g[k])
                elif act == 1:
                    v = dv if g[k] > zero else zero
                else:
                    v = dv * g[k] * (one - g[k])
                e[k] = v
                ej[k] = v
                db[k] += v
                dj[k] = kh * hbar  # the product below adds m ⊙ W_hhᵀ δ
        blas.gemm_packed_b(rows, hidden, hidden, data_ptr(delta), hidden, packed, 0.0,
                           data_ptr(dread), hidden)
        # Padded rows have δ = 0, so they add nothing.
        for j in range(rows):
            dj, drj = dh[j], dread[j]
            if drop:
                m = h_mask[b0 + j]
                for k in range(hidden):
                    dj[k] += m[k] * drj[k]
            else:
                dj += drj
    d_h0[b0:b1] = dh
    d_pre_first[b0:b1] = delta
    blas.set_threads_local(previous_threads)


#: The compiled functions of this family, for :mod:`rnnkit.kernels.cpu.compile`.
KERNELS = {"lstm_forward": lstm_forward, "lstm_backward": lstm_backward,
           "gru_forward": gru_forward, "gru_backward": gru_backward,
           "elman_forward": elman_forward, "elman_backward": elman_backward}
PREPARE_WITH = ("products",)  # the input projection and weight gradients
