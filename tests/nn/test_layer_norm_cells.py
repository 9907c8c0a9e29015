"""Layer-normalised LSTM and GRU ('lstm_ln', 'gru_ln'): the equations by hand, gradients,
lengths and reversal, streaming, parameters and the errors at the boundary."""

from __future__ import annotations

import math

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.errors import BackendUnavailableError
from rnnkit.export.recurrent import ExportableRecurrent, ExportError
from rnnkit.functional import get_cell
from rnnkit.kernels import LayerCall, explain
from rnnkit.models.backbone import model_cells, recurrent_layer
from tests.nn.helpers import assert_close

LAYERS = {"lstm_ln": rnn.LSTM, "gru_ln": rnn.GRU}


def _ln(v: list[float], gain: list[float], shift: list[float]) -> list[float]:
    """Layer norm of one vector by its definition, in plain Python floats."""
    mean = sum(v) / len(v)
    var = sum((a - mean) ** 2 for a in v) / len(v)
    return [g * (a - mean) / math.sqrt(var + 1e-5) + s
            for a, g, s in zip(v, gain, shift, strict=True)]


def _sig(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


def _randomise(layer: torch.nn.Module, seed: int = 0) -> None:
    """Gains and shifts away from their 1/0 start, so a test sees whether each one is used."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) - 0.5)
            if name.startswith("ln_weight"):
                p.add_(1.0)  # gains around 1 (0.5 .. 1.5)


def test_one_lstm_ln_step_by_hand() -> None:
    """H = 2, F = 1: every number of the step computed from the equations in Python floats."""
    lstm = rnn.LSTM(1, 2, layer_norm=True, dtype=torch.float64)
    w_ih = [0.5, -0.3, 0.8, 0.1, -0.6, 0.4, 0.2, -0.9]
    w_hh = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6], [0.7, -0.8],
            [0.2, 0.1], [-0.3, 0.5], [0.6, -0.1], [0.4, 0.3]]
    b_ih = [0.05 * k for k in range(8)]
    b_hh = [-0.03 * k for k in range(8)]
    g_ih = [1.0 + 0.1 * k for k in range(8)]
    g_hh = [1.5 - 0.1 * k for k in range(8)]
    g_c, b_c = [0.7, 1.3], [0.2, -0.1]
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.tensor(w_ih).view(8, 1))
        lstm.weight_hh_l0.copy_(torch.tensor(w_hh))
        for name, value in (("bias_ih", b_ih), ("bias_hh", b_hh), ("ln_weight_ih", g_ih),
                            ("ln_weight_hh", g_hh), ("ln_weight_c", g_c), ("ln_bias_c", b_c)):
            getattr(lstm, name + "_l0").copy_(torch.tensor(value))
    x, h0, c0 = 0.9, [0.3, -0.4], [0.5, -1.2]
    a_x = _ln([w * x for w in w_ih], g_ih, b_ih)
    a_h = _ln([sum(r[j] * h0[j] for j in range(2)) for r in w_hh], g_hh, b_hh)
    a = [p + q for p, q in zip(a_x, a_h, strict=True)]
    i, f, g, o = a[0:2], a[2:4], a[4:6], a[6:8]
    c1 = [_sig(f[j]) * c0[j] + _sig(i[j]) * math.tanh(g[j]) for j in range(2)]
    c_norm = _ln(c1, g_c, b_c)
    h1 = [_sig(o[j]) * math.tanh(c_norm[j]) for j in range(2)]

    hx = (torch.tensor([[h0]], dtype=torch.float64), torch.tensor([[c0]], dtype=torch.float64))
    out, (h_n, c_n) = lstm(torch.tensor([[[x]]], dtype=torch.float64), hx)
    assert torch.allclose(out[0, 0], torch.tensor(h1, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(h_n[0, 0], torch.tensor(h1, dtype=torch.float64), atol=1e-12)
    # c is carried un-normalised (the normalisation is only on the way to the output).
    assert torch.allclose(c_n[0, 0], torch.tensor(c1, dtype=torch.float64), atol=1e-12)


def test_one_gru_ln_step_by_hand() -> None:
    gru = rnn.GRU(1, 2, layer_norm=True, bias=False, dtype=torch.float64)
    w_ih = [0.5, -0.3, 0.8, 0.1, -0.6, 0.4]
    w_hh = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6], [0.7, -0.8], [0.2, 0.1], [-0.3, 0.5]]
    g_ih = [1.0 + 0.1 * k for k in range(6)]
    g_hh = [1.5 - 0.1 * k for k in range(6)]
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.tensor(w_ih).view(6, 1))
        gru.weight_hh_l0.copy_(torch.tensor(w_hh))
        gru.ln_weight_ih_l0.copy_(torch.tensor(g_ih))
        gru.ln_weight_hh_l0.copy_(torch.tensor(g_hh))
    x, h0 = -0.7, [0.3, -0.4]
    zeros = [0.0] * 6
    u = _ln([w * x for w in w_ih], g_ih, zeros)
    v = _ln([sum(r[j] * h0[j] for j in range(2)) for r in w_hh], g_hh, zeros)
    r = [_sig(u[j] + v[j]) for j in range(2)]
    z = [_sig(u[2 + j] + v[2 + j]) for j in range(2)]
    n = [math.tanh(u[4 + j] + r[j] * v[4 + j]) for j in range(2)]
    h1 = [(1 - z[j]) * n[j] + z[j] * h0[j] for j in range(2)]
    out, _ = gru(torch.tensor([[[x]]], dtype=torch.float64),
                 torch.tensor([[h0]], dtype=torch.float64))
    assert torch.allclose(out[0, 0], torch.tensor(h1, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_parameters_names_shapes_and_start(mode) -> None:
    layer = LAYERS[mode](3, 5, num_layers=2, bidirectional=True, layer_norm=True)
    g = 4 if mode == "lstm_ln" else 3
    shapes = dict((n, tuple(p.shape)) for n, p in layer.named_parameters())
    assert shapes["weight_ih_l1_reverse"] == (g * 5, 10)
    assert shapes["ln_weight_ih_l0"] == shapes["ln_weight_hh_l1_reverse"] == (g * 5,)
    assert all(torch.equal(p, torch.ones_like(p))
               for n, p in layer.named_parameters() if n.startswith("ln_weight"))
    if mode == "lstm_ln":
        assert shapes["ln_weight_c_l1"] == shapes["ln_bias_c_l0_reverse"] == (5,)
        assert torch.equal(layer.ln_bias_c_l0, torch.zeros(5))
    assert layer.mode == mode and "layer_norm=True" in repr(layer)
    no_bias = LAYERS[mode](3, 5, layer_norm=True, bias=False)
    assert not any("bias" in n for n, _ in no_bias.named_parameters())


@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_float64_gradcheck_with_lengths_and_both_directions(mode) -> None:
    """Every parameter, the input and the initial state, through lengths and the reverse
    direction, against finite differences."""
    torch.manual_seed(1)
    layer = LAYERS[mode](2, 3, bidirectional=True, layer_norm=True, dtype=torch.float64)
    _randomise(layer)
    names = [n for n, _ in layer.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    states = 2 if mode == "lstm_ln" else 1
    hx = [torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True) for _ in range(states)]

    def run(x, *rest):
        h = tuple(rest[:states])
        weights = dict(zip(names, rest[states:], strict=True))
        out, final = torch.func.functional_call(
            layer, weights, (x, h if states == 2 else h[0]), {"lengths": [4, 2]})
        return (out, *(final if isinstance(final, tuple) else (final,)))

    # fast_mode: vᵀJu for random u, v — any wrong gradient entry shows, at a fraction of the time.
    assert torch.autograd.gradcheck(run, (x, *hx, *params), eps=1e-6, atol=1e-6, fast_mode=True)


@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_padded_equals_each_sample_alone_and_reverse_runs_within_lengths(mode) -> None:
    torch.manual_seed(2)
    layer = LAYERS[mode](3, 5, bidirectional=True, layer_norm=True, batch_first=True,
                         dtype=torch.float64)
    _randomise(layer, seed=3)
    lengths = [6, 3, 1]
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    out, final = layer(x, lengths=lengths)
    h_n = final[0] if isinstance(final, tuple) else final
    for b, n in enumerate(lengths):
        alone, fin = layer(x[b:b + 1, :n])
        h_alone = fin[0] if isinstance(fin, tuple) else fin
        assert_close(out[b, :n], alone[0], torch.float64, f"sample {b} within its length")
        assert torch.count_nonzero(out[b, n:]) == 0
        assert_close(h_n[:, b], h_alone[:, 0], torch.float64, f"sample {b} final state")
        # The reverse half is the forward cell run over the sample's own steps backwards.
        one_way = LAYERS[mode](3, 5, layer_norm=True, batch_first=True, dtype=torch.float64)
        with torch.no_grad():
            for name, p in one_way.named_parameters():
                p.copy_(getattr(layer, name + "_reverse"))
        backwards, _ = one_way(x[b:b + 1, :n].flip(1))
        assert_close(out[b, :n, 5:], backwards[0].flip(0), torch.float64, f"reverse {b}")


@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_step_equals_the_sequence_call(mode) -> None:
    torch.manual_seed(4)
    layer = LAYERS[mode](3, 6, num_layers=2, layer_norm=True).eval()
    _randomise(layer, seed=5)
    x = torch.randn(7, 2, 3)
    out, final = layer(x)
    state = None
    with torch.no_grad():
        for t in range(7):
            y, state = layer.step(x[t], state)
            assert_close(y, out[t], torch.float32, f"step {t}")
        stream = layer.stream(batch=2)
        for t in range(7):
            y = stream.step(x[t])
        assert_close(y, out[6], torch.float32, "stream")
    finals = final if isinstance(final, tuple) else (final,)
    states = state if isinstance(state, tuple) else (state,)
    for f, s in zip(finals, states, strict=True):
        assert_close(s, f, torch.float32, "final state")


def test_cell_and_recurrent_and_task_backbone_read_the_same_table_entry() -> None:
    torch.manual_seed(6)
    layer = rnn.Recurrent("lstm_ln", 3, 4)
    cell = rnn.Cell("lstm_ln", 3, 4)
    _randomise(layer, seed=7)
    with torch.no_grad():
        for name, p in cell.named_parameters():
            p.copy_(getattr(layer, name + "_l0"))
    x = torch.randn(2, 3)
    h, c = cell(x)
    out, (_, c_n) = layer(x.unsqueeze(0))
    assert_close(h, out[0], torch.float32, "cell h")
    assert_close(c, c_n[0], torch.float32, "cell c")
    assert {"lstm_ln", "gru_ln"} <= set(model_cells())
    backbone = recurrent_layer("gru_ln", 3, 4, batch_first=True)
    assert backbone.mode == "gru_ln" and backbone(torch.randn(2, 5, 3))[0].shape == (2, 5, 4)


def test_numba_serves_torch_declines_by_name_and_reference_serves() -> None:
    call = LayerCall("lstm_ln", "cpu", torch.float32, True, False, False, False, True)
    reasons = dict(explain(call))
    assert reasons["reference"] is None
    assert reasons["numba"] is None  # the fused kernel (tests/kernels/test_layer_norm_kernels.py)
    assert "no fused kernel for mode 'lstm_ln'" in reasons["torch"]
    with pytest.raises(BackendUnavailableError, match="backend 'torch' cannot run"):
        rnn.LSTM(2, 3, layer_norm=True, backend="torch")(torch.randn(4, 1, 2))


def test_errors_name_the_argument() -> None:
    with pytest.raises(TypeError, match=r"LSTM: layer_norm must be True or False, got int 1"):
        rnn.LSTM(2, 3, layer_norm=1)
    with pytest.raises(ValueError, match=r"LSTM: proj_size needs layer_norm=False .* "
                                         r"got proj_size=2"):
        rnn.LSTM(2, 4, proj_size=2, layer_norm=True)
    with pytest.raises(ExportError, match="cell 'gru_ln' has no ONNX recurrence operator"):
        ExportableRecurrent(rnn.GRU(2, 3, layer_norm=True))
    assert get_cell("lstm_ln").parameter_shapes(2, 3, bias=False) == {
        "weight_ih": (12, 2), "weight_hh": (12, 3), "ln_weight_ih": (12,),
        "ln_weight_hh": (12,), "ln_weight_c": (3,)}
