"""The ``torch`` backend: torch's own fused RNN kernels (cuDNN on CUDA, oneDNN/ATen on the CPU).

``backend="auto"`` prefers it for CUDA tensors, where cuDNN is the fastest implementation
rnnkit can offer until it has GPU kernels of its own; on the CPU the ``numba`` backend comes
first, and this one serves what numba declines (e.g. when numba is missing) and the calls the
cost model predicts it runs faster (:mod:`rnnkit.kernels.cost_model`).

Each call runs one layer in one direction through ``torch._VF`` (what ``torch.nn.RNN/LSTM/GRU``
call internally). A reversed direction is run as a forward pass over the input reversed within
each length, and per-sample lengths go through a ``PackedSequence``, so the results follow
:func:`rnnkit.functional.run_sequence`'s contract exactly. torch has no σ Elman cell, so
``rnn_sigmoid`` is declined.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import _VF, Tensor
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.functional import LayerWeights, Recurrence, State, reverse_padded
from rnnkit.kernels.registry import LayerCall

_FUNCTIONS = {"rnn_tanh": _VF.rnn_tanh, "rnn_relu": _VF.rnn_relu, "lstm": _VF.lstm, "gru": _VF.gru}
_CPU_DTYPES = (torch.float32, torch.float64)
_CUDA_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class TorchBackend:
    """torch's fused recurrent kernels, one layer and direction per call."""

    name = "torch"

    def unsupported_reason(self, call: LayerCall) -> str | None:
        if call.mode not in _FUNCTIONS:
            return f"torch has no fused kernel for mode {call.mode!r}"
        dtypes = {"cpu": _CPU_DTYPES, "cuda": _CUDA_DTYPES}.get(call.device_type)
        if dtypes is None:
            return f"serves cpu and cuda tensors, got a {call.device_type} tensor"
        if call.dtype not in dtypes:
            names = ", ".join(str(d).removeprefix("torch.") for d in dtypes)
            return f"serves {names} on {call.device_type}, got {call.dtype}"
        return None

    def run_stack(
        self,
        recurrence: Recurrence,
        x: Tensor,
        state: State,
        weights: Sequence[LayerWeights],
        *,
        num_layers: int,
        bidirectional: bool,
        lengths: Tensor | None,
        dropout: float,
        training: bool,
    ) -> tuple[Tensor, State]:
        """A whole stack (every layer and direction) in one torch call, as ``torch.nn`` runs it.

        One ``_VF`` call over x (T, B, F) with the flat weights of all L·D (layer, direction)
        pairs in ``torch.nn``'s order (layer-major, direction-minor), per-sample lengths as one
        ``PackedSequence`` and dropout between layers in training: no per-direction input
        reversal, packing or concatenation in Python, which is what running the stack call by
        call costs on top of torch's kernels (a few tenths of a millisecond per packed call).
        ``state`` is a tuple of (L·D, B, S); returns output (T, B, D·H_out) and the final state.
        """
        has_bias = any(w.b_ih is not None or w.b_hh is not None for w in weights)
        params = [p for w in weights for p in _flat_params(w, has_bias)]
        hx: Tensor | tuple[Tensor, ...] = state if len(state) > 1 else state[0]
        return _run_vf(_FUNCTIONS[recurrence.mode], x, hx, params, lengths, has_bias=has_bias,
                       num_layers=num_layers, dropout=dropout if training else 0.0,
                       train=training, bidirectional=bidirectional)

    def run_layer(
        self,
        recurrence: Recurrence,
        x: Tensor,
        state: State,
        weights: LayerWeights,
        lengths: Tensor | None,
        reverse: bool,
    ) -> tuple[Tensor, State]:
        has_bias = weights.b_ih is not None or weights.b_hh is not None
        params = _flat_params(weights, has_bias)
        # cuDNN keeps the buffers backward needs only in training mode.
        train = torch.is_grad_enabled() and any(
            t.requires_grad for t in (x, *state, *params)
        )
        # (1, B, ·) each; torch takes a two-state cell's (h, c) as a tuple, one state bare.
        hx: Tensor | tuple[Tensor, ...] = (
            tuple(s.unsqueeze(0) for s in state) if len(state) > 1 else state[0].unsqueeze(0)
        )
        if lengths is not None and x.shape[1] == 0:
            lengths = None  # an empty batch has nothing to pack (torch cannot pack it)
        if reverse:
            x = reverse_padded(x, lengths)
        out, final = _run_vf(_FUNCTIONS[recurrence.mode], x, hx, params, lengths,
                             has_bias=has_bias, num_layers=1, dropout=0.0, train=train,
                             bidirectional=False)
        if reverse:
            out = reverse_padded(out, lengths)
        return out, tuple(f.squeeze(0) for f in final)


def _flat_params(w: LayerWeights, has_bias: bool) -> list[Tensor]:
    """One (layer, direction)'s weights in torch's flat order: W_ih, W_hh[, b_ih, b_hh][, W_hr].

    torch wants both biases; a missing one (ElmanRNN has only b_ih) is a constant zero.
    """
    params = [w.w_ih, w.w_hh]
    if has_bias:
        params += [b if b is not None else torch.zeros_like(w.w_ih[:, 0]) for b in (w.b_ih, w.b_hh)]
    if w.w_hr is not None:
        params.append(w.w_hr)
    return params


def _run_vf(fn, x: Tensor, hx, params: list[Tensor], lengths: Tensor | None, *, has_bias: bool,
            num_layers: int, dropout: float, train: bool,
            bidirectional: bool) -> tuple[Tensor, State]:
    """One ``_VF`` call over x (T, B, F), dense or (with ``lengths``) packed once.

    hx is (L·D, B, S), a tuple for a two-state cell; returns output (T, B, D·H_out) in the
    original batch order, zero past each length, and the final state at each length.
    """
    if lengths is None:
        out, *final = fn(x, hx, params, has_bias, num_layers, dropout, train, bidirectional,
                         False)
        return out, tuple(final)
    packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
    order = packed.sorted_indices
    hx = tuple(h.index_select(1, order) for h in hx) if isinstance(hx, tuple) else (
        hx.index_select(1, order)
    )
    data, *final = fn(packed.data, packed.batch_sizes, hx, params, has_bias, num_layers, dropout,
                      train, bidirectional)
    out, _ = pad_packed_sequence(packed._replace(data=data), total_length=x.shape[0])
    return out, tuple(f.index_select(1, packed.unsorted_indices) for f in final)
