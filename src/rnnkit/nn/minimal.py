r"""Layers of the parallel-in-time cells minGRU and minLSTM (Feng et al. 2024).

Both are :class:`rnnkit.nn.Recurrent` with the cell fixed, so they take the usual options
(``num_layers``, ``bidirectional``, ``batch_first``, ``dropout``, ``lengths=``,
``PackedSequence``) and stream (``step``, ``stream``). Their gates read x_t only; see
:mod:`rnnkit.functional.minimal` for the equations, the parallel scan and why they train fast.

Shape legend: T sequence length, B batch, F = input_size, H = hidden_size, L = num_layers,
D = 2 if bidirectional else 1.
"""

from __future__ import annotations

import torch

from rnnkit.nn.rnn import _SHARED_ARGS_DOC, RNNBase

_MIN_RETURNS = """
    ``hx`` is h_0 (L·D, B, H). Returns ``(output, h_n)``: output (T, B, D·H), h_n (L·D, B, H).
    Unlike GRU/LSTM, h does not go through a tanh: it is a convex combination of h_{t−1} and
    the positive candidate g(h̃), so it stays within the range of h_0 and the candidates.
"""


class _MinBase(RNNBase):
    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str = "auto",
    ) -> None:
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype, backend)


class MinGRU(_MinBase):
    __doc__ = (
        r"""Multi-layer minGRU (Feng et al. 2024): a GRU whose gates do not read h_{t−1}.

    .. math::
        z_t = \sigma(W_{iz} x_t + b_{iz}), \quad \tilde h_t = g(W_{ih} x_t + b_{ih}), \quad
        h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t

    with :math:`g(v) = v + 1/2` (v ≥ 0), :math:`\sigma(v)` (v < 0). All products of a sequence
    are one product; time is an elementwise linear scan (fused on the CPU, a log-space parallel
    scan on other devices).

    Parameters per layer k: ``weight_ih_l{k}`` (2H, F or D·H) = W_iz|W_ih and
    ``bias_ih_l{k}`` (2H,); no recurrent weights.
    """
        + _SHARED_ARGS_DOC
        + _MIN_RETURNS
        + """
    Example:
        >>> layer = MinGRU(10, 20, num_layers=2, batch_first=True)
        >>> output, h_n = layer(torch.randn(3, 5, 10), lengths=[5, 2, 4])
        >>> output.shape, h_n.shape
        (torch.Size([3, 5, 20]), torch.Size([2, 3, 20]))
    """
    )

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None, *, backend: str = "auto") -> None:
        super().__init__("mingru", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device, dtype, backend=backend)


class MinLSTM(_MinBase):
    __doc__ = (
        r"""Multi-layer minLSTM (Feng et al. 2024): an LSTM without h_{t−1} in its gates, whose
    forget and input gates are normalised to sum to one (so no separate cell state).

    .. math::
        f_t = \sigma(W_{if} x_t + b_{if}), \quad i_t = \sigma(W_{ii} x_t + b_{ii}), \quad
        \tilde h_t = g(W_{ih} x_t + b_{ih}), \quad
        h_t = \frac{f_t}{f_t + i_t} \odot h_{t-1} + \frac{i_t}{f_t + i_t} \odot \tilde h_t

    Parameters per layer k: ``weight_ih_l{k}`` (3H, F or D·H) = W_if|W_ii|W_ih and
    ``bias_ih_l{k}`` (3H,); no recurrent weights.
    """
        + _SHARED_ARGS_DOC
        + _MIN_RETURNS
    )

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None, *, backend: str = "auto") -> None:
        super().__init__("minlstm", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device, dtype, backend=backend)
