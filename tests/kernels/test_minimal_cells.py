"""minGRU and minLSTM: the parallel scan against the sequential loop, the fused numba kernels
against the reference (outputs and every gradient), float64 gradcheck, streaming, backend
selection, extreme gates, and learning the adding problem."""

from __future__ import annotations

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.data import ADDING_ZERO_MSE, BatchLoader, adding_problem
from rnnkit.functional import LayerWeights, get_cell, run_sequence
from rnnkit.functional.minimal import (
    candidate,
    log_candidate,
    log_coefficients,
    min_sequence_parallel,
    parallel_scan_log,
)
from rnnkit.kernels import LayerCall, explain, select_backend
from rnnkit.models import SequenceRegressor
from rnnkit.train import TrainConfig, Trainer
from tests.kernels.helpers import TOLERANCE, assert_results_close, run_layer

CELLS = ("mingru", "minlstm")
LAYERS = {"mingru": rnn.MinGRU, "minlstm": rnn.MinLSTM}
LENGTHS = torch.tensor([9, 3, 1, 6])


def _weights(cell: str, features: int, hidden: int, dtype=torch.float64, scale=1.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    gates = get_cell(cell).gate_count * hidden
    w = torch.randn(gates, features, generator=gen, dtype=dtype) * scale
    b = torch.randn(gates, generator=gen, dtype=dtype) * scale
    return LayerWeights(w, None, b)


# ---- the math ---------------------------------------------------------------------------------

def test_the_table_entries_have_no_recurrent_weights() -> None:
    gru, lstm = get_cell("mingru"), get_cell("minlstm")
    assert (gru.gate_count, lstm.gate_count) == (2, 3)
    assert gru.state_names == lstm.state_names == ("h",)
    assert gru.parameter_shapes(5, 8) == {"weight_ih": (16, 5), "bias_ih": (16,)}
    assert lstm.parameter_shapes(5, 8, bias=False) == {"weight_ih": (24, 5)}
    layer = rnn.MinLSTM(5, 8, num_layers=2, bidirectional=True)
    assert [n for n, _ in layer.named_parameters()] == [
        "weight_ih_l0", "bias_ih_l0", "weight_ih_l0_reverse", "bias_ih_l0_reverse",
        "weight_ih_l1", "bias_ih_l1", "weight_ih_l1_reverse", "bias_ih_l1_reverse"]
    assert layer.weight_ih_l1.shape == (24, 16)


def test_candidate_is_continuous_positive_and_its_log_matches() -> None:
    v = torch.tensor([-30.0, -2.0, -1e-6, 0.0, 1e-6, 3.0], dtype=torch.float64)
    g = candidate(v)
    assert torch.all(g > 0)
    assert g[3].item() == 0.5 and abs(g[2].item() - 0.5) < 1e-6 and abs(g[4].item() - 0.5) < 2e-6
    assert g[5].item() == 3.5 and abs(g[1].item() - 1 / (1 + 2.718281828459045**2)) < 1e-12
    torch.testing.assert_close(log_candidate(v), torch.log(g), rtol=1e-12, atol=1e-12)


def test_parallel_scan_solves_the_linear_recurrence() -> None:
    gen = torch.Generator().manual_seed(3)
    a = torch.rand(50, 3, 4, generator=gen, dtype=torch.float64) * 0.9 + 0.05
    b = torch.rand(50, 3, 4, generator=gen, dtype=torch.float64) * 2 + 0.01
    h0 = torch.randn(3, 4, generator=gen, dtype=torch.float64)  # either sign
    h, expected = h0, []
    for t in range(50):
        h = a[t] * h + b[t]
        expected.append(h)
    scanned = parallel_scan_log(a.log(), b.log(), h0)
    torch.testing.assert_close(scanned, torch.stack(expected), rtol=1e-10, atol=1e-10)


def test_log_coefficients_are_those_of_the_steps() -> None:
    """a_t h + b_t, with the logs from log_coefficients, is one reference step (any h)."""
    for cell in CELLS:
        w = _weights(cell, 3, 5, scale=3.0)
        x = torch.randn(6, 3, dtype=torch.float64) * 3
        h = torch.randn(6, 5, dtype=torch.float64)
        gx = torch.nn.functional.linear(x, w.w_ih, w.b_ih)
        log_a, log_b = log_coefficients(cell, gx)
        expected, _ = get_cell(cell).step(x, (h,), w)
        torch.testing.assert_close(log_a.exp() * h + log_b.exp(), expected, rtol=1e-12,
                                   atol=1e-12)
    with pytest.raises(ValueError, match=r"cell must be one of \['mingru', 'minlstm'\], got "
                                         r"'gru'"):
        log_coefficients("gru", gx)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_parallel_scan_equals_the_sequential_loop(cell, reverse, lengths) -> None:
    gen = torch.Generator().manual_seed(1)
    w = _weights(cell, 5, 7, scale=2.0)
    x = torch.randn(9, 4, 5, generator=gen, dtype=torch.float64)
    h0 = torch.randn(4, 7, generator=gen, dtype=torch.float64)
    seq, (seq_h,) = run_sequence(cell, x, (h0,), w, lengths, reverse)
    par, par_h = min_sequence_parallel(cell, x, h0, w, lengths, reverse)
    torch.testing.assert_close(par, seq, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(par_h, seq_h, rtol=1e-10, atol=1e-10)
    if lengths is not None:
        assert par[3:, 1].abs().max().item() == 0.0  # zero past the length
        torch.testing.assert_close(par_h[1], seq[0 if reverse else 2, 1])


# ---- the kernels ------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_numba_and_scan_equal_the_reference_with_every_gradient(cell, dtype, bidirectional,
                                                                lengths) -> None:
    torch.manual_seed(0)
    kwargs = dict(num_layers=2, bidirectional=bidirectional, dtype=dtype)
    ref = LAYERS[cell](5, 7, backend="reference", **kwargs)
    x = torch.randn(9, 4, 5, dtype=dtype) * 3
    hx = [torch.randn(2 * (2 if bidirectional else 1), 4, 7, dtype=dtype)]
    expected = run_layer(ref, x, hx, lengths)
    for backend in ("numba", "scan"):
        fast = LAYERS[cell](5, 7, backend=backend, **kwargs)
        fast.load_state_dict(ref.state_dict())
        actual = run_layer(fast, x, hx, lengths)
        # The float32 scan goes through exp/log: a little more rounding than the loops.
        tol = TOLERANCE[dtype] * (10 if backend == "scan" else 1)
        assert_results_close(actual, expected, tol, f"{cell} {backend}")
    assert select_backend(_call(cell, dtype=dtype)).name == "numba"


@pytest.mark.parametrize("cell", CELLS)
def test_packed_batch_first_and_no_bias(cell) -> None:
    torch.manual_seed(1)
    ref = LAYERS[cell](3, 4, bias=False, backend="reference", dtype=torch.float64)
    fast = LAYERS[cell](3, 4, bias=False, backend="numba", dtype=torch.float64)
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(9, 4, 3, dtype=torch.float64)
    hx = [torch.zeros(1, 4, 4, dtype=torch.float64)]
    assert_results_close(run_layer(fast, x, hx, LENGTHS, packed=True),
                         run_layer(ref, x, hx, LENGTHS, packed=True), 1e-10, cell)
    first = LAYERS[cell](3, 4, bias=False, batch_first=True, dtype=torch.float64)
    first.load_state_dict(ref.state_dict())
    out, h_n = first(x.transpose(0, 1), lengths=LENGTHS)
    expected, expected_h = ref(x, lengths=LENGTHS)
    torch.testing.assert_close(out, expected.transpose(0, 1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_n, expected_h, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("backend", ["numba", "scan"])
def test_float64_gradcheck(cell, backend) -> None:
    torch.manual_seed(2)
    layer = LAYERS[cell](3, 4, bidirectional=True, dtype=torch.float64, backend=backend)
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 2, 4, dtype=torch.float64, requires_grad=True)
    params = tuple(layer.parameters())
    lengths = torch.tensor([6, 4])

    def f(x, h0, *weights):
        out, h_n = torch.func.functional_call(
            layer, dict(zip([n for n, _ in layer.named_parameters()], weights, strict=True)),
            (x, h0), {"lengths": lengths})
        return out, h_n

    weights = tuple(p.detach().clone().requires_grad_(True) for p in params)
    assert torch.autograd.gradcheck(f, (x, h0, *weights), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("cell", CELLS)
def test_saturated_gates_stay_finite_and_exact(cell) -> None:
    """Pre-activations of ±200: σ underflows to 0 in float32; f/(f+i) must not become 0/0."""
    x = torch.tensor([[[1.0]], [[-1.0]], [[1.0]]])  # (T=3, B=1, F=1)
    for dtype in (torch.float32, torch.float64):
        ref = LAYERS[cell](1, 2, backend="reference", dtype=torch.float64)
        with torch.no_grad():
            ref.weight_ih_l0.copy_(torch.linspace(-200, 200, ref.weight_ih_l0.numel())
                                   .view_as(ref.weight_ih_l0))
            ref.bias_ih_l0.zero_()
        fast = LAYERS[cell](1, 2, backend="numba", dtype=dtype)
        fast.load_state_dict(ref.state_dict())
        x_in = x.to(dtype).detach().clone().requires_grad_(True)
        out, _ = fast(x_in)
        out.sum().backward()
        assert torch.isfinite(out).all() and torch.isfinite(x_in.grad).all()
        # The reference's literal f/(f+i) is exact in float64 for these values.
        expected, _ = ref(x.double())
        torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)


# ---- streaming and selection ------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_step_and_stream_equal_forward(cell, dtype) -> None:
    torch.manual_seed(3)
    layer = LAYERS[cell](5, 8, num_layers=2, dtype=dtype)
    x = torch.randn(7, 3, 5, dtype=dtype) * 2
    with torch.no_grad():
        out, h_n = layer(x)
        state, steps = None, []
        for t in range(7):
            y, state = layer.step(x[t], state)
            steps.append(y)
        assert layer.__dict__.get("_rnnkit_step_runner") is not None  # the compiled step ran
        stream = layer.stream(3)
        streamed = [stream.step(x[t]).clone() for t in range(7)]
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(torch.stack(steps), out, rtol=tol, atol=tol)
    torch.testing.assert_close(state, h_n, rtol=tol, atol=tol)
    torch.testing.assert_close(torch.stack(streamed), out, rtol=tol, atol=tol)


def _call(mode, **changes) -> LayerCall:
    fields = dict(mode=mode, device_type="cpu", dtype=torch.float32, has_bias=True,
                  has_proj=False, has_lengths=False, reverse=False, requires_grad=True)
    fields.update(changes)
    return LayerCall(**fields)


def test_cuda_calls_go_to_the_scan_and_torch_says_why_not() -> None:
    call = _call("mingru", device_type="cuda")
    assert select_backend(call).name == "scan"
    reasons = dict(explain(call))
    assert reasons["numba"] == "runs on the CPU only, got a cuda tensor"
    assert reasons["torch"] == "torch has no fused kernel for mode 'mingru'"
    assert dict(explain(_call("gru")))["scan"] == (
        "serves the parallel-in-time cells ['mingru', 'minlstm'] only, got 'gru'")


# ---- learning ---------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
def test_learns_the_adding_problem(cell) -> None:
    # T = 30, 1,000 sequences, 6 epochs, two layers of 16. Observed test MSE for seeds 0 and 1:
    # minGRU 0.005, 0.006; minLSTM 0.008, 0.008 (predicting 0 scores 2/3; the bound is 0.067).
    x, y = adding_problem(1000, 30, seed=1)
    xt, yt = adding_problem(500, 30, seed=2)
    losses = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = SequenceRegressor(2, 16, cell=cell, num_layers=2)
        trainer = Trainer(model, TrainConfig(epochs=6, lr=2e-2, clip_norm=1.0, quiet=True,
                                             seed=seed, plots=False))
        trainer.fit(BatchLoader(x, y, batch_size=32, target_at="last", seed=seed))
        test = BatchLoader(xt, yt, batch_size=500, target_at="last", shuffle=False)
        losses.append(trainer.evaluate(test)["test_loss"])
    assert max(losses) < 0.1 * ADDING_ZERO_MSE, losses


def test_a_minimal_cell_trains_the_classifier_task(tmp_path) -> None:
    pytest.importorskip("sklearn")
    from rnnkit.tasks import classify as C

    config = C.ClassifyConfig(data="digits", max_train=500, hidden_size=32, cell="mingru")
    training = C.default_training(epochs=6, lr=1e-2, plots=False)
    result = C.train(config, tmp_path, training=training, quiet=True)
    # Chance is 0.10; a minGRU over 8 rows of 8 pixels gets far above it.
    assert result.metrics["test"]["model"]["accuracy"] > 0.6
    assert C.evaluate(result.artifact_path)["confusion_matrix"] == (
        result.metrics["test"]["model"]["confusion_matrix"])


def test_the_float32_exp_of_the_kernels_is_within_an_ulp_or_two() -> None:
    import numpy as np
    from numba import njit

    from rnnkit.kernels.cpu.activations import exp

    @njit
    def apply(x, y):
        for i in range(x.shape[0]):
            y[i] = exp(x[i])

    x = np.linspace(-87.0, 88.0, 200_001, dtype=np.float32)
    y = np.empty_like(x)
    apply(x, y)
    exact = np.exp(x.astype(np.float64))
    assert np.max(np.abs(y - exact) / exact) < 2.4e-7  # two float32 ulps
    small = np.array([-200.0, -87.0], dtype=np.float32)
    out = np.empty_like(small)
    apply(small, out)
    assert 0 < out[0] == out[1] < 2e-38  # clamped, positive: never 0 in a denominator
