"""Single-step cells, drop-in replacements for ``torch.nn.RNNCell``, ``LSTMCell`` and ``GRUCell``.

Parameters ``weight_ih`` (G·H, F), ``weight_hh`` (G·H, H), ``bias_ih`` and ``bias_hh`` (G·H,),
with G = 1 (Elman), 4 (LSTM, gates i, f, g, o) or 3 (GRU, gates r, z, n), all initialised
U(−1/√H, 1/√H) as in torch. Input (B, F) or unbatched (F,); state (B, H) or (H,).

:class:`Cell` steps any cell of the table (:mod:`rnnkit.functional.cell_table`) by name.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnkit.functional import (
    NONLINEARITIES,
    LayerWeights,
    elman_cell,
    get_cell,
    gru_cell,
    lstm_cell,
)
from rnnkit.nn import _validation as v
from rnnkit.nn.streaming import CellStreaming


class _CellBase(CellStreaming, nn.Module):
    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        bias: bool,
        device: torch.device | str | None,
        dtype: torch.dtype | None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.mode = mode  # the cell table entry this cell steps (streaming reads it)
        self._cell = get_cell(mode)
        self.input_size = v.check_size(name, "input_size", input_size)
        self.hidden_size = v.check_size(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        factory = {"device": device, "dtype": dtype}
        shapes = self._cell.parameter_shapes(input_size, hidden_size, 0, bias)
        extras = tuple(e.kind for e in self._cell.extra_parameters)  # e.g. layer-norm gains
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", *extras):
            shape = shapes.get(kind)
            self.register_parameter(
                kind, None if shape is None else nn.Parameter(torch.empty(shape, **factory))
            )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter ~ U(−1/√H, 1/√H), drawn in torch's order; a cell's own gains and
        shifts then start at their constant (a layer-norm gain at 1)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)
        for extra in self._cell.extra_parameters:
            if extra.init is not None and self._parameters[extra.kind] is not None:
                nn.init.constant_(self._parameters[extra.kind], extra.init)

    def _check_input(self, x: object) -> tuple[Tensor, bool]:
        name = type(self).__name__
        x = v.check_tensor(name, "input", x)
        batched = v.check_rank(name, "input", x, 2)
        v.check_features(name, x, self.input_size)
        v.check_like_parameters(name, "input", x, self.weight_ih)
        return (x if batched else x.unsqueeze(0)), batched

    def _check_state(self, h: object, label: str, batch: int, batched: bool) -> Tensor:
        name = type(self).__name__
        h = v.check_tensor(name, label, h)
        expected = (batch, self.hidden_size) if batched else (self.hidden_size,)
        v.check_shape(name, label, h, expected)
        v.check_like_parameters(name, label, h, self.weight_ih)
        return h if batched else h.unsqueeze(0)

    def _weights(self) -> LayerWeights:
        extras = self._cell.extra_parameters
        extra = tuple(self._parameters[e.kind] for e in extras) if extras else None
        return LayerWeights(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                            extra=extra)

    def _zeros(self, x: Tensor) -> Tensor:
        return torch.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        return s + (", bias=False" if not self.bias else "")


class RNNCell(_CellBase):
    r"""One Elman step: :math:`h' = \phi(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})`.

    Args: input_size F, hidden_size H, bias, nonlinearity ('tanh', 'relu' or 'sigmoid'),
    device, dtype. ``forward(input (B, F), hx (B, H) = zeros) -> h' (B, H)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.nonlinearity = v.check_choice("RNNCell", "nonlinearity", nonlinearity, NONLINEARITIES)
        super().__init__(f"rnn_{nonlinearity}", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._check_input(input)
        h = self._zeros(x) if hx is None else self._check_state(hx, "hx", x.shape[0], batched)
        h = elman_cell(
            x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity
        )
        return h if batched else h.squeeze(0)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", nonlinearity={self.nonlinearity}" if self.nonlinearity != "tanh" else "")


class LSTMCell(_CellBase):
    r"""One LSTM step (gates i, f, g, o); see :func:`rnnkit.functional.lstm_cell`.

    ``forward(input (B, F), hx = (h (B, H), c (B, H)) = zeros) -> (h', c')``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__("lstm", input_size, hidden_size, bias, device, dtype)

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        x, batched = self._check_input(input)
        if hx is None:
            h, c = self._zeros(x), self._zeros(x)
        else:
            if not (isinstance(hx, tuple) and len(hx) == 2):
                raise TypeError(
                    f"LSTMCell: hx must be a tuple (h, c) of two tensors, got {type(hx).__name__}"
                )
            h = self._check_state(hx[0], "hx[0] (h)", x.shape[0], batched)
            c = self._check_state(hx[1], "hx[1] (c)", x.shape[0], batched)
        h, c = lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellBase):
    r"""One GRU step (gates r, z, n, cuDNN form); see :func:`rnnkit.functional.gru_cell`.

    ``forward(input (B, F), hx (B, H) = zeros) -> h' (B, H)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__("gru", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._check_input(input)
        h = self._zeros(x) if hx is None else self._check_state(hx, "hx", x.shape[0], batched)
        h = gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)


class Cell(_CellBase):
    r"""One step of any cell in the cell table, e.g. ``Cell('gru', 10, 20)``.

    Parameters are the cell's (:meth:`~rnnkit.functional.cell_table.CellSpec.parameter_shapes`
    without projection): ``weight_ih`` (G·H, F), ``weight_hh`` (G·H, H), ``bias_ih``,
    ``bias_hh`` (G·H,). The step is the cell's reference step.

    ``forward(input (B, F), hx=None)``: ``hx`` is None (zeros), one (B, H) tensor for a
    one-state cell, else a tuple in the cell's ``state_names`` order; returns the new state in
    the same format (h' first). Unbatched (F,) input takes and returns (H,) states.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        get_cell(cell, argument="Cell: cell")
        super().__init__(cell, input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx=None):
        x, batched = self._check_input(input)
        names = self._cell.state_names
        if hx is None:
            states = tuple(self._zeros(x) for _ in names)
        else:
            parts = hx if len(names) > 1 else (hx,)
            if len(names) > 1 and not (isinstance(hx, tuple) and len(hx) == len(names)):
                raise TypeError(f"Cell({self.mode!r}): hx must be a tuple ({', '.join(names)}) "
                                f"of {len(names)} tensors, got {type(hx).__name__}")
            states = tuple(
                self._check_state(p, f"hx[{i}] ({n})" if len(names) > 1 else "hx", x.shape[0],
                                  batched)
                for i, (p, n) in enumerate(zip(parts, names, strict=True))
            )
        _, new = self._cell.step(x, states, self._weights())
        if not batched:
            new = tuple(s.squeeze(0) for s in new)
        return new if len(new) > 1 else new[0]

    def extra_repr(self) -> str:
        return f"{self.mode!r}, " + super().extra_repr()
