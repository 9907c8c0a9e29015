"""The fused layer-normalised LSTM/GRU kernels ('lstm_ln', 'gru_ln') of the numba backend.

Against the reference backend (the cell's torch step in a Python loop) with the same weights,
inputs and upstream gradients: outputs, final states and the gradients of the input, the initial
states and every parameter (incl. the gains and shifts), over a covering option grid; against
the same cell written with ``torch.nn`` modules (``Linear`` + ``LayerNorm``); float64 gradcheck
of the fused Functions; and which backend ``auto`` picks.
"""

from __future__ import annotations

import itertools

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.bench.variants import LoopLayerNormGRU, LoopLayerNormLSTM
from rnnkit.functional import LayerWeights, get_recurrence
from rnnkit.kernels import LayerCall, explain_step, get_backend, select_backend
from rnnkit.kernels.cpu import parallel
from tests.kernels.helpers import assert_results_close, random_state, run_layer

LAYERS = {"lstm_ln": rnn.LSTM, "gru_ln": rnn.GRU}
T, B, F, H = 6, 4, 5, 7
LENGTHS = torch.tensor([6, 2, 5, 1])  # unsorted, with a length-1 sample and a full one
# float32: the normalisations divide by σ, which scales rounding differences up a little
# beyond the plain cells' 3e-5.
TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-10}

GRID = list(itertools.product(
    sorted(LAYERS), (torch.float32, torch.float64), (True, False), ("full", "lengths", "packed"),
    ((False, 1), (True, 2)),  # (bidirectional, layers): the reverse direction and layer 2 input
))


def _ids(case) -> str:
    mode, dtype, bias, lens, (bidir, layers) = case
    return "-".join([mode, str(dtype).removeprefix("torch."), "bias" if bias else "nobias",
                     lens, "bi" if bidir else "uni", f"L{layers}"])


def _randomise(layer: torch.nn.Module, seed: int) -> None:
    """Gains and shifts away from their 1/0 start, so that a wrong use of any of them shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) - 0.5)
            if name.startswith(("ln_weight", "norm")) and name.endswith("weight"):
                p.add_(1.0)  # a gain (rnnkit's ln_weight_*, or a torch.nn.LayerNorm's weight)


@pytest.mark.parametrize("case", GRID, ids=[_ids(c) for c in GRID])
def test_numba_matches_reference(case) -> None:
    mode, dtype, bias, lens, (bidir, layers) = case
    kwargs = dict(num_layers=layers, bias=bias, bidirectional=bidir, layer_norm=True,
                  dtype=dtype)
    fast = LAYERS[mode](F, H, backend="numba", **kwargs)
    _randomise(fast, seed=len(_ids(case)))
    ref = LAYERS[mode](F, H, backend="reference", **kwargs)
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(T, B, F, dtype=dtype)
    hx = random_state(fast, B, dtype)
    lengths = None if lens == "full" else LENGTHS

    got = run_layer(fast, x, hx, lengths, packed=lens == "packed")
    want = run_layer(ref, x, hx, lengths, packed=lens == "packed")
    assert_results_close(got, want, TOLERANCE[dtype], f"numba vs reference ({_ids(case)})")
    if lengths is not None:
        padding = torch.arange(T).unsqueeze(1) >= LENGTHS.unsqueeze(0)  # (T, B)
        assert got.output[padding].abs().max().item() == 0.0, "outputs past lengths must be zero"
    # Every gain and shift receives a gradient that is not zero (each one is used).
    for name, grad in got.grad_params.items():
        assert grad.abs().max().item() > 0, name


@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_numba_matches_the_torch_nn_loop(mode) -> None:
    """The same cell as nn.Linear + nn.LayerNorm in a loop (what users write), same weights."""
    loop = (LoopLayerNormLSTM if mode == "lstm_ln" else LoopLayerNormGRU)(F, H).double()
    _randomise(loop, seed=11)
    fast = LAYERS[mode](F, H, layer_norm=True, dtype=torch.float64, backend="numba")
    loop.copy_into(fast)
    x = torch.randn(T, B, F, dtype=torch.float64)
    xs = [x.clone().requires_grad_(), x.clone().requires_grad_()]
    outs = [loop(xs[0])[0], fast(xs[1])[0]]
    torch.testing.assert_close(outs[1], outs[0], rtol=0, atol=1e-10)
    upstream = torch.randn(outs[0].shape, dtype=torch.float64)
    for out in outs:
        (out * upstream).sum().backward()
    torch.testing.assert_close(xs[1].grad, xs[0].grad, rtol=0, atol=1e-10)
    theirs = dict(loop.named_parameters())
    pairs = {"weight_ih_l0": "ih.weight", "weight_hh_l0": "hh.weight",
             "ln_weight_ih_l0": "norm_ih.weight", "bias_ih_l0": "norm_ih.bias",
             "ln_weight_hh_l0": "norm_hh.weight", "bias_hh_l0": "norm_hh.bias"}
    if mode == "lstm_ln":
        pairs |= {"ln_weight_c_l0": "norm_c.weight", "ln_bias_c_l0": "norm_c.bias"}
    assert set(pairs) == {n for n, _ in fast.named_parameters()}
    for ours, their in pairs.items():
        torch.testing.assert_close(getattr(fast, ours).grad, theirs[their].grad, rtol=0,
                                   atol=1e-10, msg=f"grad {ours}")


GRADCHECK = list(itertools.product(sorted(LAYERS), (True, False), (False, True), (False, True)))


@pytest.mark.parametrize(
    ("mode", "bias", "with_lengths", "reverse"), GRADCHECK,
    ids=[f"{m}-{'bias' if b else 'nobias'}-{'lengths' if n else 'full'}-{'rev' if r else 'fwd'}"
         for m, b, n, r in GRADCHECK],
)
def test_gradcheck_of_the_fused_function(mode, bias, with_lengths, reverse) -> None:
    """Finite differences in float64 for the input, the initial state(s) and every weight,
    gain and shift of one layer call through the numba backend."""
    steps, batch, features, hidden = 4, 3, 2, 3
    gates = 4 if mode == "lstm_ln" else 3
    gen = torch.Generator().manual_seed(7)

    def param(*shape, around=0.0):
        p = torch.rand(shape, generator=gen, dtype=torch.float64) - 0.5 + around
        return p.requires_grad_(True)

    core = [param(gates * hidden, features), param(gates * hidden, hidden),
            param(gates * hidden) if bias else None, param(gates * hidden) if bias else None]
    extra = [param(gates * hidden, around=1.0), param(gates * hidden, around=1.0)]
    if mode == "lstm_ln":
        extra += [param(hidden, around=1.0), param(hidden) if bias else None]
    rec = get_recurrence(mode)
    x = torch.randn(steps, batch, features, dtype=torch.float64, requires_grad=True)
    states = [torch.randn(batch, hidden, dtype=torch.float64, requires_grad=True)
              for _ in range(rec.num_states)]
    lengths = torch.tensor([4, 1, 3]) if with_lengths else None
    backend = get_backend("numba")
    call = LayerCall(mode, "cpu", torch.float64, bias, False, with_lengths, reverse, True)
    assert backend.unsupported_reason(call) is None
    slots = core + extra
    present = [w for w in slots if w is not None]

    def fn(x, *rest):
        st, ws = rest[: len(states)], iter(rest[len(states):])
        filled = [next(ws) if w is not None else None for w in slots]
        w = LayerWeights(*filled[:4], extra=tuple(filled[4:]))
        out, final = backend.run_layer(rec, x, tuple(st), w, lengths, reverse)
        return (out, *final)

    assert torch.autograd.gradcheck(fn, (x, *states, *present), eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_auto_picks_numba_and_regularised_calls_stay_on_the_reference(mode) -> None:
    for grad in (False, True):
        call = LayerCall(mode, "cpu", torch.float32, True, False, True, True, grad)
        assert select_backend(call).name == "numba"
    regularised = LayerCall(mode, "cpu", torch.float32, True, False, False, False, True,
                            regularised=True)
    assert select_backend(regularised).name == "reference"
    # End to end: zoneout still gives the reference result (auto cannot take the kernel).
    torch.manual_seed(3)
    layer = LAYERS[mode](3, 4, layer_norm=True, zoneout=0.3, dtype=torch.float64).eval()
    ref = LAYERS[mode](3, 4, layer_norm=True, zoneout=0.3, dtype=torch.float64,
                       backend="reference").eval()
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(layer(x)[0], ref(x)[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_the_compiled_step_streams_the_sequence_call(mode, bias, dtype) -> None:
    """layer.step and layer.stream() run the compiled step of these cells (both
    normalisations, the cell state's for the LSTM, shifts or none) and equal the sequence call
    step by step, two layers deep."""
    call = LayerCall(mode, "cpu", dtype, bias, False, False, False, False)
    assert dict(explain_step(call))["numba"] is None
    torch.manual_seed(4)
    layer = LAYERS[mode](3, 6, num_layers=2, layer_norm=True, bias=bias, dtype=dtype).eval()
    _randomise(layer, seed=5)
    x = torch.randn(5, 2, 3, dtype=dtype)
    tol = dict(rtol=0, atol=1e-12) if dtype == torch.float64 else dict(rtol=0, atol=2e-5)
    with torch.no_grad():
        out, final = layer(x)
        stream = layer.stream(batch=2)
        state = None
        for t in range(5):
            y, state = layer.step(x[t], state)
            torch.testing.assert_close(y, out[t], **tol)
            torch.testing.assert_close(stream.step(x[t]), out[t], **tol)
    assert layer.__dict__.get("_rnnkit_step_runner") is not None  # the compiled step ran
    for got, want in zip(state if isinstance(state, tuple) else (state,),
                         final if isinstance(final, tuple) else (final,), strict=True):
        torch.testing.assert_close(got, want, **tol)


@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_batch_split_across_two_threads_matches_the_reference(mode, monkeypatch) -> None:
    """Each thread runs its own batch slice with its own scratch rows: two slices, float64."""
    monkeypatch.setattr(parallel, "MIN_WORK_PER_SLICE", 1)  # split whatever the size
    kwargs = dict(num_layers=2, bidirectional=True, layer_norm=True, dtype=torch.float64)
    fast = LAYERS[mode](F, H, backend="numba", **kwargs)
    _randomise(fast, seed=9)
    ref = LAYERS[mode](F, H, backend="reference", **kwargs)
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(T, B, F, dtype=torch.float64)
    hx = random_state(fast, B, torch.float64)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert len(parallel.batch_slices(B, 100.0)) == 2
        got = run_layer(fast, x, hx, LENGTHS)
    finally:
        torch.set_num_threads(threads)
    want = run_layer(ref, x, hx, LENGTHS)
    assert_results_close(got, want, TOLERANCE[torch.float64], f"{mode} two slices")
