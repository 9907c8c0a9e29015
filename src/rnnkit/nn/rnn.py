"""Drop-in replacements for ``torch.nn.RNN``, ``torch.nn.LSTM`` and ``torch.nn.GRU``.

Same constructor arguments, parameter names and shapes, gate order, initialisation, forward
signature and return structure as torch, so state dicts load both ways. In addition:

* ``lengths=`` on ``forward`` for padded batches (outputs past a length are zero, the final state
  is taken at each sample's last real step; the reverse direction runs within each length);
* ``nonlinearity='sigmoid'`` for ``RNN`` (the tutorial's Elman network);
* ``backend=`` to pick an implementation from :mod:`rnnkit.kernels` ('auto' by default).

Shape legend: T sequence length, B batch, F = input_size, H = hidden_size, P = proj_size,
H_out = P if P > 0 else H, L = num_layers, D = 2 if bidirectional else 1.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.functional import (
    LN_CELLS,
    NONLINEARITIES,
    PARAMETER_KINDS,
    LayerWeights,
    cell_names,
    get_cell,
    get_recurrence,
)
from rnnkit.kernels import available_backends
from rnnkit.nn import _validation as v
from rnnkit.nn.driver import run_stack
from rnnkit.nn.streaming import LayerStreaming

#: Parameter kinds in the order of the LayerWeights fields (w_ih, w_hh, b_ih, b_hh, w_hr).
LAYER_WEIGHT_KINDS = PARAMETER_KINDS

_SHARED_ARGS_DOC = """
    Args:
        input_size: F, the number of features of each step of the input.
        hidden_size: H, the number of hidden units.
        num_layers: L, stacked recurrent layers (layer l > 0 reads the outputs of layer l − 1).
        bias: if False, the layers have no ``bias_ih``/``bias_hh``.
        batch_first: if True, input and output are (B, T, ·) instead of (T, B, ·); states are
            always (L·D, B, ·).
        dropout: probability of dropout on the outputs of every layer but the last, in training
            mode; in [0, 1).
        bidirectional: if True, each layer also runs backwards and outputs are concatenated.
        device, dtype: where and how the parameters are created.
        backend: 'auto' (fastest correct implementation) or a name from
            ``rnnkit.kernels.available_backends()``, e.g. 'reference'.

    Inputs of ``forward(input, hx=None, *, lengths=None)``:
        input: (T, B, F), (B, T, F) with ``batch_first``, unbatched (T, F), or a
            ``PackedSequence`` (sorted or not).
        lengths: optional per-sample valid lengths (B,) of a padded batched input.

    Initialisation: every weight and bias ~ U(−√k, √k) with k = 1 / H, as in torch.
"""

_REGULARISER_DOC = """
    Recurrent regularisation (keyword-only; off by default, so the layer is torch's):
        recurrent_dropout: p in [0, 1): variational dropout on the h_{t−1} the gates read, one
            mask per sequence, layer and direction (Gal & Ghahramani 2016), training mode only.
        zoneout: p in [0, 1]: in training each unit of h (and c) keeps its previous value with
            probability p, a fresh mask per step; in evaluation the state is the expectation
            p·s_{t−1} + (1 − p)·s_t (Krueger et al. 2016).
        See :mod:`rnnkit.functional.regularisation`. The numba backend runs both in fused
        loops for the LSTM (with or without proj_size), the GRU and the Elman RNN; other cells
        and the torch backend leave them to the reference backend. A layer with them streams through
        its forward.
"""

_LSTM_LN_DOC = """
    Layer normalisation (keyword-only):
        layer_norm: True for the layer-normalised cell 'lstm_ln' (Ba et al. 2016,
            :mod:`rnnkit.functional.normalised`): the input and the recurrent pre-activations
            are normalised separately, and the cell state before the output tanh; gains
            ``ln_weight_ih_l{k}``, ``ln_weight_hh_l{k}`` (4H,), ``ln_weight_c_l{k}`` (H,) start
            at 1 and the shift ``ln_bias_c_l{k}`` (H,) at 0; ``bias_ih``/``bias_hh`` are the
            shifts of the two gate normalisations. No ``proj_size``. Reference backend.
"""

_GRU_LN_DOC = """
    Layer normalisation (keyword-only):
        layer_norm: True for the layer-normalised cell 'gru_ln' (Ba et al. 2016,
            :mod:`rnnkit.functional.normalised`): the input and the recurrent pre-activations
            are normalised separately; gains ``ln_weight_ih_l{k}``, ``ln_weight_hh_l{k}``
            (3H,) start at 1; ``bias_ih``/``bias_hh`` are the shifts of the two
            normalisations. Reference backend.
"""


class RNNBase(LayerStreaming, nn.Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM`, :class:`GRU` and :class:`Recurrent`.

    Everything cell-specific — gate count, states, parameter shapes, whether ``proj_size`` is
    allowed — is read from the cell table entry of ``mode``
    (:func:`rnnkit.functional.cell_table.get_cell`).
    """

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
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        backend: str = "auto",
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self._recurrence = get_recurrence(mode)
        self.mode = mode
        self.input_size = v.check_size(name, "input_size", input_size)
        self.hidden_size = v.check_size(name, "hidden_size", hidden_size)
        self.num_layers = v.check_size(name, "num_layers", num_layers)
        self.proj_size = v.check_size(name, "proj_size", proj_size, allow_zero=True)
        self.layer_norm = mode in LN_CELLS
        if proj_size and not self._recurrence.supports_proj and mode not in LN_CELLS:
            projecting = [n for n in cell_names() if get_cell(n).supports_proj]
            cells = "LSTM" if projecting == ["lstm"] else f"the cells {projecting}"
            raise ValueError(f"{name}: proj_size is only supported by {cells}, got {proj_size}")
        if proj_size and mode in LN_CELLS:
            raise ValueError(f"{name}: proj_size needs layer_norm=False (the layer-normalised "
                             f"cell {mode!r} has no projection), got proj_size={proj_size}")
        if proj_size >= hidden_size:
            raise ValueError(
                f"{name}: proj_size must be smaller than hidden_size={hidden_size}, got {proj_size}"
            )
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = v.check_dropout(name, dropout)
        if self.dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout adds dropout after all but the last recurrent layer, so a "
                f"non-zero dropout expects num_layers > 1, got dropout={dropout} and "
                f"num_layers={num_layers}",
                UserWarning,
                stacklevel=2,
            )
        self.bidirectional = bool(bidirectional)
        self.recurrent_dropout, self.zoneout = v.check_recurrent_regularisers(
            name, recurrent_dropout, zoneout, self._recurrence
        )
        self.backend = v.check_choice(name, "backend", backend, available_backends())

        out_size = self._recurrence.output_size(hidden_size, proj_size)
        directions = 2 if bidirectional else 1
        factory = {"device": device, "dtype": dtype}
        self._weight_names: list[tuple[str, ...]] = []  # per (layer, direction), torch's order
        # Per (layer, direction): the parameter name of each LayerWeights field, or None when the
        # layer has no such parameter; fixed here so forward only looks the parameters up.
        self._layer_slots: list[tuple[str | None, ...]] = []
        # Per (layer, direction): the names of the cell's extra parameters (None if absent).
        self._extra_slots: list[tuple[str | None, ...] | None] = []
        extras = self._recurrence.extra_parameters
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = self._recurrence.parameter_shapes(layer_input, hidden_size, proj_size,
                                                           bias)
                names = []
                for kind, shape in shapes.items():
                    self.register_parameter(
                        kind + suffix, nn.Parameter(torch.empty(shape, **factory))
                    )
                    names.append(kind + suffix)
                self._weight_names.append(tuple(names))
                self._layer_slots.append(
                    tuple(k + suffix if k in shapes else None for k in LAYER_WEIGHT_KINDS)
                )
                self._extra_slots.append(
                    tuple(e.kind + suffix if e.kind in shapes else None for e in extras)
                    if extras else None
                )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter ~ U(−1/√H, 1/√H), drawn in torch's order (same seed, same values)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)
        # A cell's own gains and shifts start at their constant (a layer-norm gain at 1).
        for slots in self._extra_slots:
            for name, extra in zip(slots or (), self._recurrence.extra_parameters, strict=True):
                if name is not None and extra.init is not None:
                    nn.init.constant_(getattr(self, name), extra.init)

    def flatten_parameters(self) -> None:
        """Accepted for drop-in compatibility with torch; rnnkit keeps no flat weight buffer."""

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """Parameters per (layer, direction), in torch's order."""
        return [[getattr(self, n) for n in names] for names in self._weight_names]

    def _layer_weights(self) -> list[LayerWeights]:
        return [
            LayerWeights(
                *(None if n is None else getattr(self, n) for n in slots),
                None if extra is None else tuple(
                    None if n is None else getattr(self, n) for n in extra
                ),
            )
            for slots, extra in zip(self._layer_slots, self._extra_slots, strict=True)
        ]

    def _state_shapes(self, batch: int) -> list[tuple[int, ...]]:
        rows = self.num_layers * (2 if self.bidirectional else 1)
        sizes = self._recurrence.state_sizes(self.hidden_size, self.proj_size)
        return [(rows, batch, s) for s in sizes]

    def _prepare_state(
        self, hx: object, batch: int, batched: bool, ref: Tensor
    ) -> tuple[Tensor, ...]:
        """Validate ``hx`` (or make zeros) and return it batched: a tuple of (L·D, B, S)."""
        name = type(self).__name__
        shapes = self._state_shapes(batch)
        if hx is None:
            return tuple(torch.zeros(s, dtype=ref.dtype, device=ref.device) for s in shapes)
        states = self._recurrence.state_names
        if len(states) > 1:
            if not (isinstance(hx, tuple) and len(hx) == len(states)):
                listed = ", ".join(f"{s}_0" for s in states)
                count = {2: "two", 3: "three"}.get(len(states), str(len(states)))
                raise TypeError(
                    f"{name}: hx must be a tuple ({listed}) of {count} tensors, "
                    f"got {type(hx).__name__}"
                    + (f" of length {len(hx)}" if isinstance(hx, (tuple, list)) else "")
                )
            parts = hx
            labels = tuple(f"hx[{i}] ({s}_0)" for i, s in enumerate(states))
        else:
            parts, labels = (hx,), ("hx",)
        states = []
        for part, label, shape in zip(parts, labels, shapes, strict=True):
            part = v.check_tensor(name, label, part)
            want_rank = 3 if batched else 2
            if part.dim() != want_rank:
                kind = "batched 3-D" if batched else "unbatched 2-D"
                raise ValueError(
                    f"{name}: for {kind} input, {label} must be {want_rank}-D, "
                    f"got a {part.dim()}-D tensor of shape {tuple(part.shape)}"
                )
            expected = shape if batched else (shape[0], shape[2])
            v.check_shape(name, label, part, expected)
            v.check_like_parameters(name, label, part, ref)
            states.append(part if batched else part.unsqueeze(1))
        return tuple(states)

    def forward(self, input, hx=None, *, lengths=None):
        name = type(self).__name__
        ref = self.weight_ih_l0
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None:
                raise ValueError(f"{name}: lengths= cannot be combined with a PackedSequence input")
            v.check_features(name, input.data, self.input_size, what="PackedSequence data shape")
            x, lens = pad_packed_sequence(input)  # (T, B, F), original batch order
            lens = lens.to(torch.int64)
            batched = True
        else:
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
            lens = None
            if lengths is not None:
                lens = v.normalize_lengths(name, lengths, x.shape[1], x.shape[0])
        v.check_like_parameters(name, "input", x, ref)
        state = self._prepare_state(hx, x.shape[1], batched, ref)

        out, final = run_stack(
            self._recurrence,
            x,
            state,
            self._layer_weights(),
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            lengths=lens,
            dropout=self.dropout,
            training=self.training,
            backend=self.backend,
            recurrent_dropout=self.recurrent_dropout,
            zoneout=self.zoneout,
        )

        if packed:
            out = _repack(out, lens, input)
        elif not batched:
            out = out.squeeze(1)
            final = tuple(f.squeeze(1) for f in final)
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, (final if len(final) > 1 else final[0])

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if type(self) is Recurrent:
            s = f"{self.mode!r}, " + s
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.layer_norm and type(self) is not Recurrent:
            s += ", layer_norm=True"
        if self.recurrent_dropout:
            s += f", recurrent_dropout={self.recurrent_dropout}"
        if self.zoneout:
            s += f", zoneout={self.zoneout}"
        if self.backend != "auto":
            s += f", backend={self.backend!r}"
        return s


def _repack(out: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a time-major padded output (original batch order) the way ``like`` was packed."""
    if like.sorted_indices is not None:
        out = out.index_select(1, like.sorted_indices)
        lengths = lengths.index_select(0, like.sorted_indices.cpu())
    packed = pack_padded_sequence(out, lengths, enforce_sorted=True)
    return PackedSequence(
        packed.data, packed.batch_sizes, like.sorted_indices, like.unsorted_indices
    )


class RNN(RNNBase):
    __doc__ = (
        r"""Multi-layer Elman RNN, a drop-in for ``torch.nn.RNN``.

    .. math::
        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}),
        \quad \phi \in \{\tanh, \mathrm{relu}, \sigma\}

    ``nonlinearity='sigmoid'`` is rnnkit's addition (the tutorial's σ); torch has tanh and relu.

    Parameters per layer k (suffix ``_reverse`` for the backward direction):
    ``weight_ih_l{k}`` (H, F or D·H), ``weight_hh_l{k}`` (H, H),
    ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (H,).
    """
        + _SHARED_ARGS_DOC + _REGULARISER_DOC
        + """
    Returns ``(output, h_n)``: output (T, B, D·H) (or batch-first, unbatched, or packed like the
    input) and h_n (L·D, B, H) ((L·D, H) unbatched).

    Example:
        >>> rnn = RNN(10, 20, num_layers=2)
        >>> output, h_n = rnn(torch.randn(5, 3, 10))
        >>> output.shape, h_n.shape
        (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]))
    """
    )

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str = "auto",
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        self.nonlinearity = v.check_choice("RNN", "nonlinearity", nonlinearity, NONLINEARITIES)
        super().__init__(
            f"rnn_{nonlinearity}",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
            backend,
            recurrent_dropout,
            zoneout,
        )

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", nonlinearity={self.nonlinearity}" if self.nonlinearity != "tanh" else "")


class LSTM(RNNBase):
    __doc__ = (
        r"""Multi-layer LSTM, a drop-in for ``torch.nn.LSTM`` (gates stacked i, f, g, o).

    .. math::
        \begin{aligned}
        i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t &= o_t \odot \tanh(c_t) \quad (\text{times } W_{hr} \text{ when } P > 0)
        \end{aligned}

    Parameters per layer k: ``weight_ih_l{k}`` (4H, F or D·H_out) = W_ii|W_if|W_ig|W_io,
    ``weight_hh_l{k}`` (4H, H_out), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (4H,), and with
    ``proj_size`` > 0 ``weight_hr_l{k}`` (P, H).
    """
        + _SHARED_ARGS_DOC + _REGULARISER_DOC + _LSTM_LN_DOC
        + """        proj_size: P > 0 adds a projection h_t = W_hr (o_t ⊙ tanh c_t); P < H.

    ``hx`` is a tuple (h_0 (L·D, B, H_out), c_0 (L·D, B, H)). Returns
    ``(output, (h_n, c_n))``: output (T, B, D·H_out), h_n (L·D, B, H_out), c_n (L·D, B, H).

    Example:
        >>> lstm = LSTM(10, 20, batch_first=True)
        >>> output, (h_n, c_n) = lstm(torch.randn(3, 5, 10), lengths=[5, 2, 4])
        >>> output.shape, h_n.shape
        (torch.Size([3, 5, 20]), torch.Size([1, 3, 20]))
    """
    )

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str = "auto",
        layer_norm: bool = False,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        super().__init__(
            "lstm_ln" if v.check_flag("LSTM", "layer_norm", layer_norm) else "lstm",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
            backend,
            recurrent_dropout,
            zoneout,
        )


class GRU(RNNBase):
    __doc__ = (
        r"""Multi-layer GRU, a drop-in for ``torch.nn.GRU`` (gates stacked r, z, n; cuDNN form).

    .. math::
        \begin{aligned}
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{aligned}

    Parameters per layer k: ``weight_ih_l{k}`` (3H, F or D·H) = W_ir|W_iz|W_in,
    ``weight_hh_l{k}`` (3H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (3H,).
    """
        + _SHARED_ARGS_DOC + _REGULARISER_DOC + _GRU_LN_DOC
        + """
    Returns ``(output, h_n)``: output (T, B, D·H), h_n (L·D, B, H).
    """
    )

    def __init__(
        self,
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
        layer_norm: bool = False,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        super().__init__(
            "gru_ln" if v.check_flag("GRU", "layer_norm", layer_norm) else "gru",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
            backend,
            recurrent_dropout,
            zoneout,
        )


class Recurrent(RNNBase):
    __doc__ = (
        r"""Multi-layer stack of any cell in the cell table, e.g. ``Recurrent('gru', 10, 20)``.

    ``RNN``, ``LSTM`` and ``GRU`` are this with their cell fixed; a cell registered with
    :func:`rnnkit.functional.cell_table.register_cell` gets a layer, streaming (``step``,
    ``stream``) and every backend that has an entry for it (the reference backend always)
    without any code of its own here. Per layer k the parameters are those of the cell's
    :meth:`~rnnkit.functional.cell_table.CellSpec.parameter_shapes`: ``weight_ih_l{k}``
    (G·H, F or D·H_out), ``weight_hh_l{k}`` (G·H, H_out), ``bias_ih_l{k}``, ``bias_hh_l{k}``
    (G·H,) and, for a projecting cell with P > 0, ``weight_hr_l{k}`` (P, H).

    Args:
        cell: a name from :func:`rnnkit.functional.cell_table.cell_names`.
        proj_size: P, for cells that support a projection (LSTM), else 0."""
        + _SHARED_ARGS_DOC + _REGULARISER_DOC
        + """
    ``hx`` is the initial state: one tensor (L·D, B, H_out) for a one-state cell, else a tuple
    in the cell's ``state_names`` order (h first, the others (L·D, B, H)). Returns
    ``(output, h_n)`` or ``(output, (h_n, ...))`` in the same format.
    """
    )

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str = "auto",
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        get_cell(cell, argument="Recurrent: cell")
        super().__init__(
            cell,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
            backend,
            recurrent_dropout,
            zoneout,
        )
