"""The fused numba LSTM/GRU/Elman with recurrent dropout and zoneout (kernels/cpu/regularised.py)
against the reference step fed the same masks, against torch.nn cells in a loop holding the
same weights and masks, and by float64 gradcheck."""

from __future__ import annotations

import itertools

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.errors import BackendUnavailableError
from rnnkit.functional import draw_masks, get_cell, regularised_cell, run_sequence
from rnnkit.kernels import get_backend
from rnnkit.kernels.cpu import compile as compiled
from rnnkit.kernels.cpu import parallel
from rnnkit.kernels.cpu.backend import CellKernel, cell_kernel, register_cell_kernel
from tests.kernels.helpers import TOLERANCE, random_state, run_layer

NUMBA = get_backend("numba")
# mode -> (layer class, constructor options)
CLASSES = {"lstm": (rnn.LSTM, {}), "lstm_proj": (rnn.LSTM, {"proj_size": 2}),
           "gru": (rnn.GRU, {}), "rnn_tanh": (rnn.RNN, {"nonlinearity": "tanh"})}
# (recurrent_dropout, zoneout)
REGULARISERS = {"dropout": (0.4, 0.0), "zoneout": (0.0, 0.3), "both": (0.4, 0.3)}


def _assert_results_close(actual, expected, dtype, label) -> None:
    """Every field of two results agrees within TOLERANCE relative to the field's largest
    value (at least 1): float32 gradients here reach |g| ≈ 40 (masks scale h by 1 / (1 − p))
    and are sums over T·B terms in another order."""
    pairs = [("output", actual.output, expected.output),
             ("grad input", actual.grad_input, expected.grad_input)]
    pairs += [(f"state {i}", a, e) for i, (a, e) in enumerate(zip(actual.states,
              expected.states, strict=True))]
    pairs += [(f"grad state {i}", a, e) for i, (a, e) in enumerate(zip(actual.grad_states,
              expected.grad_states, strict=True))]
    assert actual.grad_params.keys() == expected.grad_params.keys()
    pairs += [(f"grad {n}", actual.grad_params[n], expected.grad_params[n])
              for n in expected.grad_params]
    for what, a, e in pairs:
        assert a.shape == e.shape, f"{label}: {what} shape {tuple(a.shape)} != {tuple(e.shape)}"
        tol = TOLERANCE[dtype] * max(1.0, e.abs().max().item())
        diff = (a - e).abs().max().item()
        assert diff <= tol, f"{label}: {what} max |difference| {diff:.3e} > tolerance {tol:.1e}"


def _pair(mode, dtype, bidirectional, recurrent_dropout, zoneout):
    """The same two-layer layer on the numba and on the reference backend (same weights)."""
    torch.manual_seed(0)
    cls, options = CLASSES[mode]
    options = dict(options, num_layers=2, bidirectional=bidirectional, dtype=dtype,
                   recurrent_dropout=recurrent_dropout, zoneout=zoneout)
    fused = cls(3, 4, backend="numba", **options)
    reference = cls(3, 4, backend="reference", **options)
    reference.load_state_dict(fused.state_dict())
    return fused, reference


@pytest.mark.parametrize(
    "mode,dtype,lengths,bidirectional,regulariser,training",
    list(itertools.product(["lstm", "lstm_proj", "gru", "rnn_tanh"],
                           [torch.float32, torch.float64],
                           [None, [5, 2, 4]], [False, True], list(REGULARISERS),
                           [True, False])),
)
def test_fused_equals_reference_with_the_same_masks(mode, dtype, lengths, bidirectional,
                                                    regulariser, training) -> None:
    """Outputs, final states and every gradient (input, states, all weights and biases)."""
    fused, reference = _pair(mode, dtype, bidirectional, *REGULARISERS[regulariser])
    fused.train(training)
    reference.train(training)
    x = torch.randn(5, 3, 3, dtype=dtype)
    hx = random_state(fused, 3, dtype)
    # The driver draws the masks from torch's generator before picking a backend, so the same
    # seed gives both backends the same masks.
    torch.manual_seed(11)
    got = run_layer(fused, x, hx, lengths=lengths)
    torch.manual_seed(11)
    expected = run_layer(reference, x, hx, lengths=lengths)
    _assert_results_close(got, expected, dtype, f"{mode} {regulariser} training={training}")
    if training or regulariser != "dropout":  # recurrent dropout is off in evaluation
        # These rates always drop or zone out something: the result is not the plain cell's.
        fused.recurrent_dropout = fused.zoneout = 0.0
        plain = run_layer(fused, x, hx, lengths=lengths)
        assert (plain.output - got.output).abs().max() > 1e-3


def _layer_inputs(mode, dtype, batch=3, steps=6, features=3, hidden=4):
    """(cell, one layer's weights, x (T, B, F), initial state) for ``mode`` ('lstm_proj': an
    LSTM with P = 2)."""
    torch.manual_seed(2)
    proj = 2 if mode == "lstm_proj" else 0
    mode = mode.removesuffix("_proj")
    layer = rnn.Recurrent(mode, features, hidden, proj_size=proj, dtype=dtype)
    (weights,) = layer._layer_weights()
    spec = get_cell(mode)
    x = torch.randn(steps, batch, features, dtype=dtype)
    state = tuple(torch.randn(batch, size, dtype=dtype)
                  for size in spec.state_sizes(hidden, proj))
    return spec, weights, x, state


@pytest.mark.parametrize("mode", ["lstm", "lstm_proj", "gru", "rnn_tanh", "rnn_relu",
                                  "rnn_sigmoid"])
@pytest.mark.parametrize("reverse", [False, True])
def test_one_direction_within_lengths_equals_the_reference_step(mode, reverse) -> None:
    """run_layer_regularised on the drawn masks == run_sequence of the regularised reference
    step on the same masks, reversed within each sample's length too (zoneout masks are
    indexed by processing step)."""
    spec, w, x, state = _layer_inputs(mode, torch.float64)
    lengths = torch.tensor([6, 1, 4])
    masks = draw_masks(state, x.shape[0], 0.5, 0.4, training=True)
    out, final = NUMBA.run_layer_regularised(spec, x, state, w, lengths, reverse, masks)
    cell = regularised_cell(spec, h_mask=masks.h_mask, zoneout_p=0.4, training=True,
                            zone=masks.zone)
    out_ref, final_ref = run_sequence(cell, x, state, w, lengths, reverse)
    assert torch.allclose(out, out_ref, atol=1e-12)
    for got, ref in zip(final, final_ref, strict=True):
        assert torch.allclose(got, ref, atol=1e-12)
    assert torch.count_nonzero(out[1:, 1]) == 0  # zero past the length


def _torch_loop(mode, x, state, w, masks, p, training):
    """The cell as users write it: torch.nn.LSTMCell/GRUCell/RNNCell in a loop, the h mask on
    the h it reads, zoneout by the given per-step masks (training) or the expectation
    (evaluation)."""
    features, hidden = x.shape[2], state[0].shape[1]
    if mode.startswith("rnn_"):
        cell = torch.nn.RNNCell(features, hidden, nonlinearity=mode[4:], dtype=x.dtype)
    else:
        cell = (torch.nn.LSTMCell if mode == "lstm" else torch.nn.GRUCell)(
            features, hidden, dtype=x.dtype)
    with torch.no_grad():
        cell.weight_ih.copy_(w.w_ih)
        cell.weight_hh.copy_(w.w_hh)
        cell.bias_ih.copy_(w.b_ih)
        cell.bias_hh.copy_(w.b_hh)
    ys = []
    for t in range(x.shape[0]):
        read = state[0] if masks.h_mask is None else state[0] * masks.h_mask
        new = cell(x[t], (read, state[1])) if mode == "lstm" else (cell(x[t], read),)
        if training and masks.zone is not None:
            new = tuple(torch.where(z[t].bool(), s, n)
                        for n, s, z in zip(new, state, masks.zone, strict=True))
        elif p:
            new = tuple(p * s + (1 - p) * n for n, s in zip(new, state, strict=True))
        state = tuple(new)
        ys.append(state[0])
    return torch.stack(ys), state, cell


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("training", [True, False])
def test_fused_equals_torch_nn_cells_in_a_loop(mode, training) -> None:
    """Outputs and all gradients against torch.nn cells holding the same weights and masks."""
    spec, w, x, state = _layer_inputs(mode, torch.float64)
    w = type(w)(*(None if t is None else t.detach().requires_grad_(True) for t in w))
    x = x.requires_grad_(True)
    masks = draw_masks(state, x.shape[0], 0.3, 0.25, training)
    out, final = NUMBA.run_layer_regularised(spec, x, state, w, None, False, masks)
    theirs, final_theirs, cell = _torch_loop(mode, x, state, w, masks, 0.25, training)
    assert torch.allclose(out, theirs, atol=1e-12)
    for got, ref in zip(final, final_theirs, strict=True):
        assert torch.allclose(got, ref, atol=1e-12)
    upstream = torch.randn_like(out)
    grads = torch.autograd.grad((out * upstream).sum() + final[-1].sum(),
                                (x, w.w_ih, w.w_hh, w.b_ih, w.b_hh))
    grads_theirs = torch.autograd.grad(
        (theirs * upstream).sum() + final_theirs[-1].sum(),
        (x, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))
    for name, got, ref in zip(("x", "w_ih", "w_hh", "b_ih", "b_hh"), grads, grads_theirs,
                              strict=True):
        assert torch.allclose(got, ref, atol=1e-11), name


@pytest.mark.parametrize("mode", ["lstm", "lstm_proj", "gru", "rnn_tanh", "rnn_sigmoid"])
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck_float64(mode, training) -> None:
    spec, w, x, state = _layer_inputs(mode, torch.float64, batch=2, steps=4, hidden=3)
    lengths = torch.tensor([4, 2])
    masks = draw_masks(state, x.shape[0], 0.3, 0.3, training)
    present = [i for i, t in enumerate(w[:5]) if t is not None]  # w_ih … w_hr
    leaves = tuple(t.detach().requires_grad_(True)
                   for t in (x, *state, *(w[i] for i in present)))
    n_states = len(state)

    def run(x, *rest):
        states, given = rest[:n_states], rest[n_states:]
        weights = [None] * 5
        for i, t in zip(present, given, strict=True):
            weights[i] = t
        out, final = NUMBA.run_layer_regularised(
            spec, x, states, type(w)(*weights), lengths, True, masks)
        return (out, *final)

    assert torch.autograd.gradcheck(run, leaves, eps=1e-6, atol=1e-7)


def test_recurrent_dropout_mask_is_fixed_per_sequence_on_the_fused_path() -> None:
    """One h mask for all steps: the fused GRU equals a loop with the mask of step 0 at every
    step, and differs from a loop that redraws the mask per step."""
    spec, w, x, state = _layer_inputs("gru", torch.float64)
    masks = draw_masks(state, x.shape[0], 0.5, 0.0, training=True)
    assert set(masks.h_mask.unique().tolist()) == {0.0, 2.0}
    out, _ = NUMBA.run_layer_regularised(spec, x, state, w, None, False, masks)
    fixed, _, _ = _torch_loop("gru", x, state, w, masks, 0.0, True)
    assert torch.allclose(out, fixed, atol=1e-12)
    h, ys = state[0], []
    for t in range(x.shape[0]):
        fresh = draw_masks(state, 1, 0.5, 0.0, training=True).h_mask
        h = torch.gru_cell(x[t], h * fresh, w.w_ih, w.w_hh, w.b_ih, w.b_hh)
        ys.append(h)
    assert (torch.stack(ys) - out).abs().max() > 1e-3


def test_zoneout_masks_are_redrawn_per_step_and_used_by_the_fused_path() -> None:
    torch.manual_seed(4)
    state = (torch.zeros(50, 40), torch.zeros(50, 40))
    masks = draw_masks(state, 8, 0.0, 0.3, training=True)
    assert masks.h_mask is None and len(masks.zone) == 2
    for zone in masks.zone:
        assert zone.shape == (8, 50, 40)
        assert set(zone.unique().tolist()) == {0.0, 1.0}
        assert 0.27 < zone.mean().item() < 0.33  # 16 000 draws of Bernoulli(0.3)
        for t in range(1, 8):
            assert not torch.equal(zone[t], zone[0])
    assert not torch.equal(masks.zone[0], masks.zone[1])  # h and c have their own masks
    # A kept unit of the fused LSTM's c equals its previous value exactly.
    spec, w, x, st = _layer_inputs("lstm", torch.float32, batch=3, steps=2, hidden=4)
    masks = draw_masks(st, 2, 0.0, 0.5, training=True)
    out, (h_n, c_n) = NUMBA.run_layer_regularised(spec, x, st, w, None, False, masks)
    _, (_, c_1) = NUMBA.run_layer_regularised(
        spec, x[:1], st, w, None, False, type(masks)(None, tuple(z[:1] for z in masks.zone),
                                                     0.5, True))
    keep_c = masks.zone[1][1].bool()
    assert torch.equal(c_n[keep_c], c_1[keep_c])
    assert torch.equal(out[1], h_n)


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_evaluation_is_deterministic_and_draws_nothing(mode) -> None:
    cls, options = CLASSES[mode]
    layer = cls(3, 4, num_layers=2, recurrent_dropout=0.5, zoneout=0.3, backend="numba",
                **options).eval()
    x = torch.randn(6, 2, 3)
    rng = torch.get_rng_state()
    first, _ = layer(x)
    second, _ = layer(x)
    assert torch.equal(first, second)
    assert torch.equal(torch.get_rng_state(), rng)
    # The expectation p·s_{t−1} + (1 − p)·s̃_t, not the plain cell.
    layer.zoneout = 0.0
    plain, _ = layer(x)
    assert (plain - first).abs().max() > 1e-3


def test_numba_declines_what_it_has_no_loop_for() -> None:
    # A cell whose kernel registers no regularised runner.
    plain = cell_kernel("gru")
    register_cell_kernel("gru", CellKernel(plain.run_layer, step=plain.step))
    try:
        with pytest.raises(BackendUnavailableError,
                           match="no recurrent-dropout/zoneout kernel for mode 'gru'"):
            rnn.GRU(3, 4, zoneout=0.1, backend="numba")(torch.randn(3, 1, 3))
        assert rnn.GRU(3, 4, zoneout=0.1)(torch.randn(3, 1, 3))[0].shape == (3, 1, 4)  # auto
    finally:
        register_cell_kernel("gru", plain)


def test_no_unexpected_specialisations() -> None:
    """Every call, in both dtypes, with and without masks, uses the signatures compiled up
    front: exactly one per dtype (a Python int for p, say, would add another)."""
    for dtype, (mode, rates, training) in itertools.product(
        [torch.float32, torch.float64],
        [("lstm", (0.3, 0.2), True), ("gru", (0.3, 0.0), True), ("lstm", (0.0, 1), False),
         ("lstm_proj", (0.3, 0.2), True), ("lstm_proj", (0.0, 0.2), False),
         ("gru", (0.0, 0.2), False), ("rnn_tanh", (0.3, 0.2), True),
         ("rnn_tanh", (0.0, 0.2), False)],
    ):
        cls, options = CLASSES[mode]
        layer = cls(2, 3, recurrent_dropout=rates[0], zoneout=rates[1], dtype=dtype,
                    backend="numba", **options).train(training)
        out, _ = layer(torch.randn(4, 2, 2, dtype=dtype), lengths=[4, 2])
        out.sum().backward()
    assert compiled.compiled_signatures("regularised") == dict.fromkeys(
        ("lstm_forward", "lstm_backward", "gru_forward", "gru_backward", "elman_forward",
         "elman_backward"), 2)


@pytest.mark.parametrize("mode", ["lstm", "lstm_proj", "gru", "rnn_tanh"])
def test_batch_split_across_threads_reads_each_rows_masks(mode, monkeypatch) -> None:
    """Slices b0:b1 with b0 > 0 index the masks by their global rows: 2 threads, the batch
    split whatever the work, equal the reference (float64, lengths, both directions)."""
    monkeypatch.setattr(parallel, "MIN_WORK_PER_SLICE", 1)
    fused, reference = _pair(mode, torch.float64, True, *REGULARISERS["both"])
    x = torch.randn(5, 7, 3, dtype=torch.float64)
    hx = random_state(fused, 7, torch.float64)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert len(parallel.batch_slices(7, 100.0)) == 2  # the split is real
        torch.manual_seed(12)
        got = run_layer(fused, x, hx, lengths=[5, 2, 4, 1, 5, 3, 2])
    finally:
        torch.set_num_threads(threads)
    torch.manual_seed(12)
    expected = run_layer(reference, x, hx, lengths=[5, 2, 4, 1, 5, 3, 2])
    _assert_results_close(got, expected, torch.float64, f"{mode} split in 2")


def test_manual_seed_reproduces_the_fused_training_run() -> None:
    layer = rnn.LSTM(3, 4, num_layers=2, recurrent_dropout=0.3, zoneout=0.2, backend="numba")
    x = torch.randn(6, 2, 3)
    torch.manual_seed(5)
    first, _ = layer(x)
    torch.manual_seed(5)
    second, _ = layer(x)
    assert torch.equal(first, second)
    assert not torch.equal(layer(x)[0], first)  # the generator moved on: new masks
