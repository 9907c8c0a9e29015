"""The tutorial's Elman network, exactly: a recurrent hidden layer and an output layer.

.. math::
    h_t = \\sigma_h(W x_t + U h_{t-1} + b), \\qquad o_t = \\sigma_o(V h_t + c)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.functional import NONLINEARITIES, LayerWeights, get_recurrence
from rnnkit.kernels import available_backends
from rnnkit.nn import _validation as v
from rnnkit.nn.driver import run_stack
from rnnkit.nn.streaming import ElmanStreaming

OUTPUT_ACTIVATIONS = ("sigmoid", "tanh", "softmax", "identity")


class ElmanRNN(ElmanStreaming, nn.Module):
    r"""Elman network of the tutorial: h_t = σ_h(W x_t + U h_{t−1} + b), o_t = σ_o(V h_t + c).

    Unlike :class:`rnnkit.nn.RNN` it has a single hidden bias ``b`` (as in the equations) and its
    own output layer. The hidden recurrence runs through the same driver and backends as ``RNN``.

    Args:
        input_size: F. hidden_size: H. output_size: O.
        hidden_activation: σ_h, one of 'sigmoid' (the tutorial's default), 'tanh', 'relu'.
        output_activation: σ_o, one of 'sigmoid', 'tanh', 'softmax' (over O), 'identity'.
        batch_first: (B, T, ·) instead of (T, B, ·) for input and outputs.
        device, dtype, backend: as for :class:`rnnkit.nn.RNN`.

    Parameters: ``W`` (H, F), ``U`` (H, H), ``b`` (H,), ``V`` (O, H), ``c`` (O,), all
    ~ U(−1/√H, 1/√H).

    ``forward(input, h0=None, *, lengths=None) -> (o, h_T)``: input (T, B, F) (or (B, T, F),
    or unbatched (T, F)); o (T, B, O), zero past each length; h_T (B, H) (or (H,)).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        hidden_activation: str = "sigmoid",
        output_activation: str = "sigmoid",
        batch_first: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        name = "ElmanRNN"
        self.input_size = v.check_size(name, "input_size", input_size)
        self.hidden_size = v.check_size(name, "hidden_size", hidden_size)
        self.output_size = v.check_size(name, "output_size", output_size)
        self.hidden_activation = v.check_choice(
            name, "hidden_activation", hidden_activation, NONLINEARITIES
        )
        self.output_activation = v.check_choice(
            name, "output_activation", output_activation, OUTPUT_ACTIVATIONS
        )
        self.batch_first = bool(batch_first)
        self.backend = v.check_choice(name, "backend", backend, available_backends())
        self._recurrence = get_recurrence(f"rnn_{hidden_activation}")
        factory = {"device": device, "dtype": dtype}
        self.W = nn.Parameter(torch.empty(hidden_size, input_size, **factory))
        self.U = nn.Parameter(torch.empty(hidden_size, hidden_size, **factory))
        self.b = nn.Parameter(torch.empty(hidden_size, **factory))
        self.V = nn.Parameter(torch.empty(output_size, hidden_size, **factory))
        self.c = nn.Parameter(torch.empty(output_size, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def output_layer(self, h: Tensor) -> Tensor:
        """o = σ_o(V h + c) for hidden states h (..., H) -> (..., O)."""
        z = F.linear(h, self.V, self.c)
        if self.output_activation == "sigmoid":
            return torch.sigmoid(z)
        if self.output_activation == "tanh":
            return torch.tanh(z)
        if self.output_activation == "softmax":
            return torch.softmax(z, dim=-1)
        return z

    def forward(self, input: Tensor, h0: Tensor | None = None, *, lengths=None):
        name = "ElmanRNN"
        x = v.check_tensor(name, "input", input)
        batched = v.check_rank(name, "input", x, 3)
        v.check_features(name, x, self.input_size, v.input_layout(x, self.batch_first))
        if not batched:
            if lengths is not None:
                raise ValueError(f"{name}: lengths= needs batched 3-D input, got 2-D input")
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[0] == 0:
            raise ValueError(f"{name}: input must have at least one time step, got 0")
        v.check_like_parameters(name, "input", x, self.W)
        batch = x.shape[1]
        lens = None if lengths is None else v.normalize_lengths(name, lengths, batch, x.shape[0])
        if h0 is None:
            h = torch.zeros(1, batch, self.hidden_size, dtype=x.dtype, device=x.device)
        else:
            h0 = v.check_tensor(name, "h0", h0)
            v.check_shape(
                name, "h0", h0, (batch, self.hidden_size) if batched else (self.hidden_size,)
            )
            v.check_like_parameters(name, "h0", h0, self.W)
            h = h0.reshape(1, batch, self.hidden_size)
        hidden, (h_last,) = run_stack(
            self._recurrence,
            x,
            (h,),
            [LayerWeights(self.W, self.U, self.b, None)],
            num_layers=1,
            bidirectional=False,
            lengths=lens,
            backend=self.backend,
        )  # hidden (T, B, H), h_last (1, B, H)
        o = self.output_layer(hidden)  # (T, B, O)
        if lens is not None:
            steps = torch.arange(x.shape[0], device=x.device).unsqueeze(1)
            o = o * (steps < lens.to(x.device)).unsqueeze(-1).to(o.dtype)  # zero past lengths
        h_last = h_last[0]
        if not batched:
            return o.squeeze(1), h_last.squeeze(0)
        if self.batch_first:
            o = o.transpose(0, 1)
        return o, h_last

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, {self.output_size}, "
            f"hidden_activation={self.hidden_activation!r}, "
            f"output_activation={self.output_activation!r}"
            + (", batch_first=True" if self.batch_first else "")
        )
