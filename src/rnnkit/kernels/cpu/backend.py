"""The ``numba`` backend: fused CPU kernels with hand-written BPTT, for every cell family.

It serves CPU calls in float32 and float64 for Elman (tanh, relu, σ), LSTM (with or without a
projection) and GRU, with or without biases (or with only ``b_ih``, as ``ElmanRNN`` has), with
per-sample lengths, reversed, with initial states that need gradients. It declines, with the
reason, anything else (CUDA tensors, half precision), and the whole backend declines when numba
or a BLAS library is missing — importing rnnkit never depends on numba being importable.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from rnnkit.functional import LayerWeights, Recurrence, State
from rnnkit.kernels.registry import LayerCall

DTYPES = (torch.float32, torch.float64)
_ELMAN_ACTIVATIONS = {"rnn_tanh": 0, "rnn_relu": 1, "rnn_sigmoid": 2}  # see cpu.elman


@functools.cache
def environment_problem() -> str | None:
    """Why the compiled kernels cannot run in this environment, or None when they can."""
    try:
        import numba  # noqa: F401
    except ImportError as err:
        return f"numba is not importable ({err}); install it with `pip install numba`"
    try:
        from rnnkit.kernels.cpu import blas
    except Exception as err:  # a broken numba/llvmlite install must not break rnnkit
        return f"the BLAS bindings failed to load ({type(err).__name__}: {err})"
    return blas.UNAVAILABLE_REASON


class NumbaBackend:
    """Compiled CPU loops (numba) with hand-written BPTT; see :mod:`rnnkit.kernels.cpu`."""

    name = "numba"

    def unsupported_reason(self, call: LayerCall) -> str | None:
        if call.device_type != "cpu":
            return f"runs on the CPU only, got a {call.device_type} tensor"
        if call.dtype not in DTYPES:
            return f"supports float32 and float64, got {str(call.dtype).removeprefix('torch.')}"
        if call.mode not in (*_ELMAN_ACTIVATIONS, "lstm", "gru"):
            return f"has no kernel for mode {call.mode!r}"
        return environment_problem()

    def run_layer(
        self,
        recurrence: Recurrence,
        x: Tensor,
        state: State,
        weights: LayerWeights,
        lengths: Tensor | None,
        reverse: bool,
    ) -> tuple[Tensor, State]:
        from rnnkit.kernels.cpu import functions as fn

        x = x.contiguous()  # (T, B, F); batch-first inputs arrive as a transposed view
        state = tuple(s.contiguous() for s in state)
        w_ih, w_hh, b_ih, b_hh, w_hr = (
            None if w is None else w.contiguous() for w in weights
        )
        lens = fn.lengths_array(lengths, x.shape[0], x.shape[1])
        tensors = (x, *state, w_ih, w_hh, b_ih, b_hh, w_hr)
        grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)
        mode = recurrence.mode
        if mode == "lstm":
            h0, c0 = state
            if grad:
                out, h_n, c_n = fn.LSTMFunction.apply(
                    x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lens, reverse
                )
            else:
                out, h_n, c_n, _ = fn.lstm_forward(
                    x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lens, reverse, False
                )
            return out, (h_n, c_n)
        (h0,) = state
        if mode == "gru":
            if grad:
                out, h_n = fn.GRUFunction.apply(x, h0, w_ih, w_hh, b_ih, b_hh, lens, reverse)
            else:
                out, h_n, _ = fn.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, lens, reverse, False)
            return out, (h_n,)
        act = _ELMAN_ACTIVATIONS[mode]
        if grad:
            out, h_n = fn.ElmanFunction.apply(x, h0, w_ih, w_hh, b_ih, b_hh, lens, reverse, act)
        else:
            out, h_n = fn.elman_forward(x, h0, w_ih, w_hh, b_ih, b_hh, lens, reverse, act)
        return out, (h_n,)
