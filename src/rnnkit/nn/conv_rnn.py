"""ConvLSTM and ConvGRU layers (Shi et al. 2015): recurrent layers over image sequences.

torch has no convolutional recurrent layer (Keras has ``ConvLSTM2D``). These keep the
conventions of :mod:`rnnkit.nn`'s other layers: time-major by default (``batch_first=False``),
per-sample ``lengths`` (outputs past a length are zero, the final state is the state at the last
real step), stacked layers with dropout between them, and the final states returned. The math is
:mod:`rnnkit.functional.conv_cells`; autograd does the backward pass.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnkit.functional.conv_cells import CONV_CELLS, conv_sequence
from rnnkit.nn._validation import check_dropout, check_size, check_tensor


class _ConvRNN(nn.Module):
    cell_name = ""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        kernel_size: int = 3,
        num_layers: int = 1,
        *,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layer = type(self).__name__
        self.in_channels = check_size(layer, "in_channels", in_channels)
        self.hidden_channels = check_size(layer, "hidden_channels", hidden_channels)
        self.kernel_size = check_size(layer, "kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(
                f"{layer}: kernel_size must be odd (so 'same' padding keeps H × W), got "
                f"{kernel_size}"
            )
        self.num_layers = check_size(layer, "num_layers", num_layers)
        self.dropout = check_dropout(layer, dropout)
        self.batch_first, self.bias = bool(batch_first), bool(bias)
        self.step, gates, self.n_states = CONV_CELLS[self.cell_name]
        k = kernel_size
        for n in range(num_layers):
            c_in = in_channels if n == 0 else hidden_channels
            self.register_parameter(
                f"weight_ih_l{n}", nn.Parameter(torch.empty(gates * hidden_channels, c_in, k, k))
            )
            self.register_parameter(
                f"weight_hh_l{n}",
                nn.Parameter(torch.empty(gates * hidden_channels, hidden_channels, k, k)),
            )
            for name in (f"bias_ih_l{n}", f"bias_hh_l{n}"):
                self.register_parameter(
                    name, nn.Parameter(torch.empty(gates * hidden_channels)) if bias else None
                )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias U(−√s, √s), s = 1 / (K·k²): torch's RNN rule with the fan-in
        of a recurrent convolution in place of the hidden size."""
        bound = 1.0 / math.sqrt(self.hidden_channels * self.kernel_size**2)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _weights(self, n: int) -> tuple[Tensor | None, ...]:
        return tuple(
            getattr(self, f"{w}_l{n}") for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )

    def forward(
        self,
        x: Tensor,
        hx: Tensor | tuple[Tensor, ...] | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | tuple[Tensor, ...]]:
        layer = type(self).__name__
        check_tensor(layer, "input", x)
        layout = "(B, T, C, H, W)" if self.batch_first else "(T, B, C, H, W)"
        if x.dim() != 5 or x.shape[2] != self.in_channels:
            raise ValueError(
                f"{layer}: input must be 5-D {layout} with C = in_channels = {self.in_channels}, "
                f"got shape {tuple(x.shape)}"
            )
        if self.batch_first:
            x = x.transpose(0, 1)  # (T, B, C, H, W)
        t, b, _, h, w = x.shape
        if lengths is not None:
            lengths = torch.as_tensor(lengths, device=x.device).long()
            if lengths.shape != (b,) or (lengths < 1).any() or (lengths > t).any():
                raise ValueError(
                    f"{layer}: lengths must be (B,) = ({b},) integers in [1, {t}], got "
                    f"{lengths.tolist() if lengths.numel() <= 8 else tuple(lengths.shape)}"
                )
        states = self._initial(hx, b, h, w, x)
        finals: list[tuple[Tensor, ...]] = []
        for n in range(self.num_layers):
            if n > 0 and self.dropout and self.training:
                x = nn.functional.dropout(x, self.dropout, training=True)
            x, final = conv_sequence(self.step, x, states[n], self._weights(n), lengths)
            finals.append(final)
        out = x.transpose(0, 1) if self.batch_first else x
        stacked = tuple(torch.stack([f[i] for f in finals]) for i in range(self.n_states))
        return out, stacked[0] if self.n_states == 1 else stacked

    def _initial(self, hx, b: int, h: int, w: int, x: Tensor) -> list[tuple[Tensor, ...]]:
        """Per layer, the initial state tensors (B, K, H, W)."""
        layer = type(self).__name__
        shape = (self.num_layers, b, self.hidden_channels, h, w)
        if hx is None:
            zero = x.new_zeros(shape)
            return [tuple(zero[n] for _ in range(self.n_states)) for n in range(self.num_layers)]
        given = (hx,) if isinstance(hx, Tensor) else tuple(hx)
        if len(given) != self.n_states or any(tuple(s.shape) != shape for s in given):
            what = "h_0" if self.n_states == 1 else "(h_0, c_0)"
            raise ValueError(
                f"{layer}: hx must be {what}, each of shape (L, B, K, H, W) = {shape}, got "
                f"{[tuple(s.shape) for s in given]}"
            )
        return [tuple(s[n] for s in given) for n in range(self.num_layers)]

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.hidden_channels}, kernel_size={self.kernel_size}, "
            f"num_layers={self.num_layers}, batch_first={self.batch_first}"
        )


class ConvLSTM(_ConvRNN):
    """A stack of ConvLSTM layers (equations in :mod:`rnnkit.functional.conv_cells`).

    Args:
        in_channels: C, channels of each input frame.
        hidden_channels: K, channels of h and c.
        kernel_size: k, odd; 'same' padding keeps H × W.
        num_layers: L stacked layers.
        bias: learn b_ih and b_hh.
        batch_first: input and output (B, T, ...) instead of (T, B, ...).
        dropout: on the outputs of every layer but the last, in training.

    Shape: input (T, B, C, H, W) (or batch-first), optional ``hx`` = (h_0, c_0) each
    (L, B, K, H, W) and ``lengths`` (B,) → output (T, B, K, H, W), zero past each length, and
    (h_n, c_n) each (L, B, K, H, W) at each sample's last real step.

    Parameters: ``weight_ih_l{n}`` (4K, C or K, k, k), ``weight_hh_l{n}`` (4K, K, k, k),
    ``bias_ih_l{n}``, ``bias_hh_l{n}`` (4K,), gates stacked (i, f, g, o) as in torch's LSTM.
    """

    cell_name = "convlstm"


class ConvGRU(_ConvRNN):
    """A stack of ConvGRU layers (equations in :mod:`rnnkit.functional.conv_cells`); arguments
    as :class:`ConvLSTM`.

    Shape: input (T, B, C, H, W) (or batch-first), optional ``hx`` = h_0 (L, B, K, H, W) and
    ``lengths`` (B,) → output (T, B, K, H, W) and h_n (L, B, K, H, W).

    Parameters: as :class:`ConvLSTM` with 3K output channels, gates stacked (r, z, n) as in
    torch's GRU.
    """

    cell_name = "convgru"
