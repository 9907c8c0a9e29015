"""The numba backend against the reference backend and torch.nn, over the whole option grid.

Same weights, same inputs, same upstream gradients: outputs, final states and the gradients of
the input, the initial states and every parameter must agree within the dtype's tolerance.
"""

from __future__ import annotations

import itertools

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.kernels.cpu import compile as compiled
from tests.kernels.helpers import (
    MODES,
    TOLERANCE,
    assert_results_close,
    random_state,
    run_layer,
)

T, B, F, H = 6, 4, 5, 7
LENGTHS = torch.tensor([6, 2, 5, 1])  # unsorted, with a length-1 sample and a full one

GRID = list(itertools.product(
    MODES, (True, False), (False, True), (1, 2), ("full", "lengths", "packed"),
    (torch.float32, torch.float64),
))


def _ids(case) -> str:
    mode, bias, bidir, layers, lens, dtype = case
    return "-".join([mode, "bias" if bias else "nobias", "bi" if bidir else "uni", f"L{layers}",
                     lens, str(dtype).removeprefix("torch.")])


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("case", GRID, ids=[_ids(c) for c in GRID])
def test_numba_matches_reference_and_torch(case) -> None:
    mode, bias, bidir, layers, lens, dtype = case
    ours_cls, torch_cls, extra = MODES[mode]
    kwargs = dict(num_layers=layers, bias=bias, bidirectional=bidir, dtype=dtype, **extra)
    fast = ours_cls(F, H, backend="numba", **kwargs)
    ref = ours_cls(F, H, backend="reference", **kwargs)
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(T, B, F, dtype=dtype)
    hx = random_state(fast, B, dtype)
    lengths = None if lens == "full" else LENGTHS
    packed = lens == "packed"

    got = run_layer(fast, x, hx, lengths, packed)
    want = run_layer(ref, x, hx, lengths, packed)
    tol = TOLERANCE[dtype]
    assert_results_close(got, want, tol, f"numba vs reference ({_ids(case)})")
    if lengths is not None:
        padding = torch.arange(T).unsqueeze(1) >= lengths.unsqueeze(0)  # (T, B)
        assert got.output[padding].abs().max().item() == 0.0, "outputs past lengths must be zero"

    if torch_cls is not None:
        theirs = torch_cls(F, H, **{k: v for k, v in kwargs.items()})
        theirs.load_state_dict(fast.state_dict())
        # torch takes lengths only through a PackedSequence
        oracle = run_layer(theirs, x, hx, lengths, packed=lengths is not None)
        assert_results_close(got, oracle, tol, f"numba vs torch.nn ({_ids(case)})")


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_elman_network_with_input_bias_only(activation, dtype) -> None:
    """ElmanRNN hands the backend b_ih alone (b_hh None): values and gradients still agree."""
    fast = rnn.ElmanRNN(F, H, 3, hidden_activation=activation, backend="numba", dtype=dtype)
    ref = rnn.ElmanRNN(F, H, 3, hidden_activation=activation, backend="reference", dtype=dtype)
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(T, B, F, dtype=dtype)
    h0 = torch.randn(B, H, dtype=dtype)
    got = run_layer(fast, x, [h0])
    want = run_layer(ref, x, [h0])
    assert_results_close(got, want, TOLERANCE[dtype], f"ElmanRNN {activation}")


@pytest.mark.parametrize("mode", list(MODES))
def test_inference_matches_training_forward(mode) -> None:
    """The no-grad path (no saved buffers) gives the same values as the autograd path."""
    ours_cls, _, extra = MODES[mode]
    layer = ours_cls(F, H, num_layers=2, backend="numba", **extra)
    x = torch.randn(T, B, F)
    out_train, state_train = layer(x, lengths=LENGTHS)
    with torch.no_grad():
        out_eval, state_eval = layer(x, lengths=LENGTHS)
    # Not bitwise: the two loop variants are vectorised (and FMA-contracted) independently.
    torch.testing.assert_close(out_train.detach(), out_eval, rtol=0, atol=1e-6)
    for a, b in zip(state_train if isinstance(state_train, tuple) else (state_train,),
                    state_eval if isinstance(state_eval, tuple) else (state_eval,), strict=True):
        torch.testing.assert_close(a.detach(), b, rtol=0, atol=1e-6)


def test_batch_first_and_unbatched_inputs() -> None:
    torch.manual_seed(3)
    fast = rnn.GRU(F, H, batch_first=True, backend="numba")
    ref = rnn.GRU(F, H, batch_first=True, backend="reference")
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(B, T, F)  # a transposed view reaches the backend: it must copy, not misread
    torch.testing.assert_close(fast(x)[0], ref(x)[0], rtol=0, atol=TOLERANCE[torch.float32])
    torch.testing.assert_close(fast(x[0])[0], ref(x[0])[0], rtol=0,
                               atol=TOLERANCE[torch.float32])


def test_retain_graph_allows_a_second_backward() -> None:
    layer = rnn.LSTM(F, H, backend="numba", dtype=torch.float64)
    x = torch.randn(T, B, F, dtype=torch.float64, requires_grad=True)
    out, _ = layer(x)
    out.sum().backward(retain_graph=True)
    first = x.grad.clone()
    out.sum().backward()
    torch.testing.assert_close(x.grad, 2 * first, rtol=0, atol=1e-12)


def test_double_backward_is_refused() -> None:
    layer = rnn.GRU(F, H, backend="numba", dtype=torch.float64)
    x = torch.randn(T, B, F, dtype=torch.float64, requires_grad=True)
    out, _ = layer(x)
    # The upstream gradient 2·out depends on x, so a second-order graph is requested.
    (grad,) = torch.autograd.grad(out.square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        grad.sum().backward()


def test_no_unexpected_specialisations() -> None:
    """Every call used the signatures compiled up front (one per dtype that was used)."""
    for family in ("elman", "gru", "lstm"):
        for name, count in compiled.compiled_signatures(family).items():
            assert count <= 2, f"{family}.{name} holds {count} signatures, expected ≤ 2"
