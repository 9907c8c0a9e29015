"""``layer.step``: step by step it reproduces the full-sequence call, on and off the fast path."""

from __future__ import annotations

import itertools

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.nn.streaming import _CACHE
from tests.kernels.helpers import MODES, TOLERANCE

T, B, F, H = 7, 3, 5, 6

CASES = list(itertools.product(MODES, (1, 2), (True, False), (torch.float32, torch.float64)))


def _split(state):
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize(
    ("mode", "layers", "batched", "dtype"), CASES,
    ids=[f"{m}-L{n}-{'batched' if b else 'unbatched'}-{str(d).removeprefix('torch.')}"
         for m, n, b, d in CASES],
)
def test_step_by_step_equals_the_sequence(mode, layers, batched, dtype) -> None:
    cls, _, extra = MODES[mode]
    layer = cls(F, H, num_layers=layers, dtype=dtype, **extra).eval()
    x = torch.randn(T, B, F, dtype=dtype) if batched else torch.randn(T, F, dtype=dtype)
    hx = tuple(torch.randn(s, dtype=dtype) for s in layer._state_shapes(B))
    if not batched:
        hx = tuple(h[:, 0] for h in hx)
    hx = hx if len(hx) == 2 else hx[0]
    with torch.no_grad():
        out, final = layer(x, hx)
        state, ys = hx, []
        for t in range(T):
            before = [s.clone() for s in _split(state)]
            y, new_state = layer.step(x[t], state)
            for old, kept in zip(_split(state), before, strict=True):
                assert torch.equal(old, kept), "step must not modify the state passed in"
            ys.append(y)
            state = new_state
    assert _CACHE in layer.__dict__, "the compiled step was not used"
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(torch.stack(ys), out, rtol=0, atol=tol)
    for a, b in zip(_split(state), _split(final), strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=0, atol=tol)


@pytest.mark.parametrize("mode", ["gru", "lstm_proj", "rnn_relu"])
def test_step_with_autograd_goes_through_forward(mode) -> None:
    cls, _, extra = MODES[mode]
    layer = cls(F, H, num_layers=2, dtype=torch.float64, **extra)
    x = torch.randn(T, B, F, dtype=torch.float64, requires_grad=True)
    out, _ = layer(x)
    state, ys = None, []
    for t in range(T):
        y, state = layer.step(x[t], state)
        ys.append(y)
    stepped = torch.stack(ys)
    assert _CACHE not in layer.__dict__  # gradients needed: the compiled step is not used
    torch.testing.assert_close(stepped, out, rtol=0, atol=1e-12)
    (g_seq,) = torch.autograd.grad(out.square().sum(), x)
    (g_step,) = torch.autograd.grad(stepped.square().sum(), x)
    torch.testing.assert_close(g_step, g_seq, rtol=0, atol=1e-12)


def test_bidirectional_cannot_stream() -> None:
    layer = rnn.GRU(F, H, bidirectional=True)
    with pytest.raises(ValueError, match=r"GRU.step: a bidirectional layer cannot stream"):
        layer.step(torch.randn(F))


def test_parameter_changes_are_picked_up() -> None:
    layer = rnn.LSTM(F, H).eval()
    x = torch.randn(F)
    with torch.no_grad():
        layer.step(x)
        layer.weight_hh_l0.add_(0.5)  # in place: the version counter moves
        y, _ = layer.step(x, (torch.randn(1, H), torch.randn(1, H)))
        layer.weight_ih_l0 = torch.nn.Parameter(torch.randn(4 * H, F))  # a new parameter
        h0 = (torch.randn(1, H), torch.randn(1, H))
        y, _ = layer.step(x, h0)
        expected, _ = layer(x.unsqueeze(0), h0)
    torch.testing.assert_close(y, expected[0], rtol=0, atol=TOLERANCE[torch.float32])


def test_dtype_conversion_rebuilds_and_mismatch_still_raises() -> None:
    layer = rnn.GRU(F, H).eval()
    with torch.no_grad():
        layer.step(torch.randn(F))
        layer.double()
        y, _ = layer.step(torch.randn(F, dtype=torch.float64))
        assert y.dtype == torch.float64
        with pytest.raises(TypeError, match=r"must have the parameters' dtype torch\.float64"):
            layer.step(torch.randn(F))


def test_batch_first_layer_steps_with_batch_rows() -> None:
    layer = rnn.RNN(F, H, batch_first=True).eval()
    x = torch.randn(B, T, F)
    with torch.no_grad():
        out, _ = layer(x)
        state = None
        for t in range(T):
            y, state = layer.step(x[:, t].contiguous(), state)
            torch.testing.assert_close(y, out[:, t], rtol=0, atol=TOLERANCE[torch.float32])


def test_dropout_in_training_mode_uses_the_forward_path() -> None:
    layer = rnn.LSTM(F, H, num_layers=2, dropout=0.5).train()
    with torch.no_grad():
        y, (h, c) = layer.step(torch.randn(B, F))
    assert y.shape == (B, H) and h.shape == (2, B, H) and c.shape == (2, B, H)
    assert _CACHE not in layer.__dict__


def test_reference_backend_is_respected() -> None:
    layer = rnn.GRU(F, H, backend="reference").eval()
    with torch.no_grad():
        layer.step(torch.randn(F))
    assert _CACHE not in layer.__dict__


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_step_equals_forward(kind, bias, batched) -> None:
    cell = getattr(rnn, kind)(F, H, bias=bias)
    x = torch.randn(B, F) if batched else torch.randn(F)
    shape = (B, H) if batched else (H,)
    hx = (torch.randn(shape), torch.randn(shape)) if kind == "LSTMCell" else torch.randn(shape)
    with torch.no_grad():
        y, state = cell.step(x, hx)
        expected = cell(x, hx)
    assert _CACHE in cell.__dict__
    tol = TOLERANCE[torch.float32]
    if kind == "LSTMCell":
        assert y is state[0]
        for a, b in zip(state, expected, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=tol)
    else:
        assert y is state
        torch.testing.assert_close(y, expected, rtol=0, atol=tol)


def test_sigmoid_cell_and_zero_state() -> None:
    cell = rnn.RNNCell(F, H, nonlinearity="sigmoid")
    x = torch.randn(F)
    with torch.no_grad():
        y, _ = cell.step(x)
        torch.testing.assert_close(y, cell(x), rtol=0, atol=TOLERANCE[torch.float32])


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_elman_network_steps(activation) -> None:
    net = rnn.ElmanRNN(F, H, 3, hidden_activation=activation, output_activation="softmax")
    x = torch.randn(T, B, F)
    with torch.no_grad():
        o, h_last = net(x)
        h = None
        for t in range(T):
            o_t, h = net.step(x[t], h)
            torch.testing.assert_close(o_t, o[t], rtol=0, atol=TOLERANCE[torch.float32])
    torch.testing.assert_close(h, h_last, rtol=0, atol=TOLERANCE[torch.float32])
    assert _CACHE in net.__dict__


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("batch", [None, 2])
def test_stream_object_equals_the_sequence(mode, batch) -> None:
    cls, _, extra = MODES[mode]
    layer = cls(F, H, num_layers=2, **extra).eval()
    x = torch.randn(T, F) if batch is None else torch.randn(T, batch, F)
    with torch.no_grad():
        out, final = layer(x)
    stream = layer.stream(batch)
    ys = [stream.step(x[t].contiguous()).clone() for t in range(T)]
    tol = TOLERANCE[torch.float32]
    torch.testing.assert_close(torch.stack(ys), out, rtol=0, atol=tol)
    for a, b in zip(_split(stream.state), _split(final), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=tol)
    assert not ys[-1].requires_grad


def test_stream_output_is_a_reused_buffer_and_state_a_copy() -> None:
    layer = rnn.GRU(F, H).eval()
    stream = layer.stream()
    first = stream.step(torch.randn(F))
    kept = first.clone()
    state = stream.state
    second = stream.step(torch.randn(F))
    assert second is first and not torch.equal(second, kept)  # overwritten in place
    assert not torch.equal(state, stream.state)  # the copy did not follow


def test_stream_reset_and_initial_state() -> None:
    layer = rnn.LSTM(F, H, num_layers=2).eval()
    h0 = (torch.randn(2, H), torch.randn(2, H))
    x = torch.randn(T, F)
    with torch.no_grad():
        out, _ = layer(x, h0)
    stream = layer.stream(state=h0)
    stream.step(x[0])
    stream.reset(h0)
    ys = [stream.step(x[t]).clone() for t in range(T)]
    torch.testing.assert_close(torch.stack(ys), out, rtol=0, atol=TOLERANCE[torch.float32])
    with pytest.raises(ValueError, match=r"stream: state must have shape \(2, 6\), got \(2, 5\)"):
        stream.reset((torch.randn(2, 5), torch.randn(2, H)))


def test_stream_follows_parameter_updates() -> None:
    layer = rnn.RNN(F, H).eval()
    x = torch.randn(2, F)
    stream = layer.stream()
    stream.step(x[0])
    state = stream.state
    with torch.no_grad():
        layer.weight_hh_l0.mul_(0.5)
        expected, _ = layer(x[1:], state)
    torch.testing.assert_close(stream.step(x[1]), expected[0], rtol=0,
                               atol=TOLERANCE[torch.float32])


def test_stream_rejects_a_wrong_input() -> None:
    stream = rnn.GRU(F, H).stream(batch=3)
    with pytest.raises(ValueError, match=r"x_t must be a contiguous CPU torch\.float32 tensor "
                                         r"of shape \(3, 5\), got torch\.float32 cpu \(5,\)"):
        stream.step(torch.randn(F))
    with pytest.raises(ValueError, match="batch must be a positive int or None, got 0"):
        rnn.GRU(F, H).stream(batch=0)


@pytest.mark.parametrize("module", [
    rnn.GRU(F, H, backend="reference"), rnn.LSTMCell(F, H), rnn.RNNCell(F, H),
    rnn.ElmanRNN(F, H, 3),
], ids=["reference-backend", "LSTMCell", "RNNCell", "ElmanRNN"])
def test_stream_on_other_modules_equals_step(module) -> None:
    x = torch.randn(T, F)
    stream = module.stream()
    state = None
    with torch.no_grad():
        for t in range(T):
            expected, state = module.step(x[t], state)
            torch.testing.assert_close(stream.step(x[t]), expected, rtol=0,
                                       atol=TOLERANCE[torch.float32])
    for a, b in zip(_split(stream.state), _split(state), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=TOLERANCE[torch.float32])


def test_bidirectional_cannot_open_a_stream() -> None:
    with pytest.raises(ValueError, match="cannot stream"):
        rnn.LSTM(F, H, bidirectional=True).stream()


def test_the_compiled_step_is_called_without_numba_dispatch() -> None:
    """The runner calls the overload compiled for its dtype; a dispatcher whose internals differ
    from what this relies on is used as it is."""
    from rnnkit.kernels.cpu import compile as compiled
    from rnnkit.kernels.cpu.step import _entry_point

    for dtype in (torch.float32, torch.float64):
        layer = rnn.GRU(F, H, dtype=dtype).eval()
        with torch.no_grad():
            layer.step(torch.randn(B, F, dtype=dtype))
        dispatcher = compiled.kernels("step", dtype).step
        run = layer.__dict__[_CACHE].run.func
        expected = dispatcher.overloads[compiled.signature(dispatcher, compiled._REALS[dtype])]
        assert run is expected.entry_point

    class Unusual:  # no ``overloads``: a numba whose dispatcher is built differently
        py_func = compiled.kernels("step", torch.float32).step.py_func

    unusual = Unusual()
    assert _entry_point(unusual, torch.float32) is unusual


def test_a_stream_after_a_parameter_is_replaced_uses_the_new_one() -> None:
    layer = rnn.LSTM(F, H).eval()
    x = torch.randn(B, F)
    with torch.no_grad():
        stream = layer.stream(batch=B)
        stream.step(x)
        layer.weight_hh_l0 = torch.nn.Parameter(torch.randn_like(layer.weight_hh_l0))
        state = stream.state
        y = stream.step(x).clone()
        expected, _ = layer.step(x, state)
        out, _ = layer(x.unsqueeze(0), state)
    torch.testing.assert_close(y, out[0])
    torch.testing.assert_close(expected, out[0])
