"""Finite differences against the hand-written BPTT, in float64, through the numba backend.

Each case checks the gradients of the input, the initial state(s) and every weight at once, on
tiny sizes, for every cell family, with and without biases, with per-sample lengths and reversed.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.functional import LayerWeights, get_recurrence
from rnnkit.kernels import LayerCall, get_backend

T, B, F, H, P = 4, 3, 2, 3, 2
LENGTHS = torch.tensor([4, 1, 3])

CASES = list(itertools.product(
    ("rnn_tanh", "rnn_relu", "rnn_sigmoid", "gru", "lstm", "lstm_proj"),
    ("both", "none", "ih_only"),
    (False, True),  # lengths
    (False, True),  # reverse
))


def _weights(mode: str, biases: str) -> list[torch.Tensor | None]:
    gates = get_recurrence(mode.removesuffix("_proj")).gates
    out = P if mode == "lstm_proj" else H
    g = torch.Generator().manual_seed(7)

    def param(*shape):
        return (torch.rand(shape, generator=g, dtype=torch.float64) - 0.5).requires_grad_(True)

    return [
        param(gates * H, F),
        param(gates * H, out),
        param(gates * H) if biases in ("both", "ih_only") else None,
        param(gates * H) if biases == "both" else None,
        param(P, H) if mode == "lstm_proj" else None,
    ]


@pytest.mark.parametrize(
    ("mode", "biases", "with_lengths", "reverse"), CASES,
    ids=[f"{m}-{b}-{'lengths' if lens else 'full'}-{'rev' if r else 'fwd'}"
         for m, b, lens, r in CASES],
)
def test_gradcheck_through_numba_kernels(mode, biases, with_lengths, reverse) -> None:
    rec = get_recurrence(mode.removesuffix("_proj"))
    backend = get_backend("numba")
    weights = _weights(mode, biases)
    out_size = P if mode == "lstm_proj" else H
    x = torch.randn(T, B, F, dtype=torch.float64, requires_grad=True)
    states = [torch.randn(B, s, dtype=torch.float64, requires_grad=True)
              for s in rec.state_sizes(H, P if mode == "lstm_proj" else 0)]
    assert states[0].shape[1] == out_size
    lengths = LENGTHS if with_lengths else None
    call = LayerCall(rec.mode, "cpu", torch.float64, biases != "none", mode == "lstm_proj",
                     with_lengths, reverse, True)
    assert backend.unsupported_reason(call) is None
    present = [w for w in weights if w is not None]

    def fn(x, *rest):
        st, ws = rest[: len(states)], iter(rest[len(states):])
        w = LayerWeights(*(next(ws) if w is not None else None for w in weights))
        out, final = backend.run_layer(rec, x, tuple(st), w, lengths, reverse)
        return (out, *final)

    # relu: random pre-activations sit far (≫ eps) from the kink with probability ~1.
    assert torch.autograd.gradcheck(fn, (x, *states, *present), eps=1e-6, atol=1e-7, rtol=1e-5)
