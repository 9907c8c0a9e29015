r"""The cell table: every recurrent cell family rnnkit knows, each defined once.

A :class:`CellSpec` is the math part of a cell: its name (the ``mode`` the layers use, e.g.
``'lstm'``), how many gate blocks its weights stack, the names of its state tensors, its
reference step and — derived from those — its parameter shapes and state widths. Everything
else reads this table: the sequence loop (:func:`rnnkit.functional.run_sequence`), the layers
(:mod:`rnnkit.nn`), the backend registry and ``rnnkit info``. Fast kernels live a layer up and
register their entry points for a cell *name* (:mod:`rnnkit.kernels`); a backend without an
entry for a cell declines it with a reason and the reference backend runs it.

Adding a cell: write its reference step ``step(x, state, weights) -> (h_t, new_state)`` and
``register_cell(CellSpec(...))``. It then runs in every layer, on the reference backend, with
streaming and training; a fused kernel is optional and registered separately.

Shape legend: B batch, F input features, H hidden units, G gate blocks, P projection size,
H_out = P if P > 0 else H.

Parameters of one layer and direction (torch's layout, for every cell):

.. math::
    W_{ih} \in \mathbb{R}^{G H \times F}, \quad W_{hh} \in \mathbb{R}^{G H \times H_{out}}, \quad
    b_{ih}, b_{hh} \in \mathbb{R}^{G H}, \quad W_{hr} \in \mathbb{R}^{P \times H}
    \;(\text{projecting cells only})

A cell may add parameters of its own (:class:`ExtraParameter`, e.g. the layer-norm gains of
'lstm_ln'); they follow the five kinds above and reach its step as ``LayerWeights.extra``.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from rnnkit.functional.cells import LayerWeights, elman_cell, gru_cell, lstm_cell

State = tuple[Tensor, ...]
StepFunction = Callable[[Tensor, State, LayerWeights], tuple[Tensor, State]]

#: Parameter kinds in the order of the :class:`LayerWeights` fields, with torch's names.
PARAMETER_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


@dataclass(frozen=True)
class ExtraParameter:
    """A per-layer parameter of a cell beyond torch's five kinds, a vector of ``width`` values.

    Attributes:
        kind: the parameter name before the layer suffix, e.g. ``'ln_weight_ih'``.
        width: ``'gates'`` for G·H values, ``'hidden'`` for H values.
        init: the constant it starts at (1.0 for a gain, 0.0 for a shift), so that a fresh layer
            begins as the plain normalisation; None for torch's U(−1/√H, 1/√H).
        with_bias: the parameter is an additive shift, present only with ``bias=True``.
    """

    kind: str
    width: str
    init: float | None = None
    with_bias: bool = False


@dataclass(frozen=True)
class CellSpec:
    """One cell family: everything about it that does not depend on an implementation.

    Attributes:
        name: the mode name layers and backends use, e.g. 'rnn_tanh', 'lstm', 'gru'.
        gate_count: G, the gate blocks stacked in ``w_ih`` (G·H, F) and ``w_hh`` (G·H, H_out).
        state_names: the state tensors, the output state first: ``('h',)`` or ``('h', 'c')``.
            ``h`` is H_out wide (it is the per-step output); every other state is H wide.
        step: the reference step ``step(x (B, F), state, weights) -> (h_t (B, H_out),
            new_state)``, plain torch (autograd does its backward); the specification every
            kernel of this cell is tested against.
        nonlinearity: the Elman activation for 'rnn_*' cells, None otherwise.
        supports_proj: whether the cell takes a projection ``w_hr`` (P, H) (``proj_size``).
        recurrent_weights: False for a cell whose gates read only x_t (minGRU, minLSTM): it
            has no ``weight_hh``/``bias_hh`` (its ``LayerWeights.w_hh`` and ``b_hh`` are None),
            so all its matrix products over a sequence are one product with ``weight_ih``.
        extra_parameters: the cell's own parameters after torch's five kinds, in the order of
            ``LayerWeights.extra`` (absent ``with_bias`` ones are None there without bias).
    """

    name: str
    gate_count: int
    state_names: tuple[str, ...]
    step: StepFunction
    nonlinearity: str | None = None
    supports_proj: bool = False
    recurrent_weights: bool = True
    extra_parameters: tuple[ExtraParameter, ...] = ()

    # ---- names the rest of rnnkit used before the table (Recurrence) ------------------------
    @property
    def mode(self) -> str:
        """Same as :attr:`name` (the layers' ``mode``)."""
        return self.name

    @property
    def gates(self) -> int:
        """Same as :attr:`gate_count`."""
        return self.gate_count

    @property
    def num_states(self) -> int:
        """Number of state tensors, ``len(state_names)``."""
        return len(self.state_names)

    # ---- shapes ------------------------------------------------------------------------------
    def output_size(self, hidden_size: int, proj_size: int = 0) -> int:
        """Width of the per-step output h_t: P for a projecting cell with P > 0, H otherwise."""
        return proj_size if (self.supports_proj and proj_size) else hidden_size

    def state_sizes(self, hidden_size: int, proj_size: int = 0) -> tuple[int, ...]:
        """Width of each state tensor, in :attr:`state_names` order: H_out for h, H for others."""
        out = self.output_size(hidden_size, proj_size)
        return tuple(out if n == "h" else hidden_size for n in self.state_names)

    def parameter_shapes(
        self, input_size: int, hidden_size: int, proj_size: int = 0, bias: bool = True
    ) -> dict[str, tuple[int, ...]]:
        """Shapes of one layer's parameters, keyed by kind (:data:`PARAMETER_KINDS` order).

        ``weight_ih`` (G·H, F), ``weight_hh`` (G·H, H_out), with ``bias`` ``bias_ih`` and
        ``bias_hh`` (G·H,), and with a projection ``weight_hr`` (P, H). A cell without
        :attr:`recurrent_weights` has neither ``weight_hh`` nor ``bias_hh``. The cell's
        :attr:`extra_parameters` follow, (G·H,) or (H,) each.
        """
        gates = self.gate_count * hidden_size
        shapes = {"weight_ih": (gates, input_size)}
        if self.recurrent_weights:
            shapes["weight_hh"] = (gates, self.output_size(hidden_size, proj_size))
        if bias:
            shapes["bias_ih"] = (gates,)
            if self.recurrent_weights:
                shapes["bias_hh"] = (gates,)
        if self.supports_proj and proj_size:
            shapes["weight_hr"] = (proj_size, hidden_size)
        for extra in self.extra_parameters:
            if bias or not extra.with_bias:
                shapes[extra.kind] = (gates if extra.width == "gates" else hidden_size,)
        return shapes


_CELLS: dict[str, CellSpec] = {}
_LISTENERS: list[Callable[[], None]] = []


def _changed() -> None:
    for listener in _LISTENERS:
        listener()


def on_change(listener: Callable[[], None]) -> None:
    """Call ``listener()`` after every registration change (caches keyed by name clear here)."""
    _LISTENERS.append(listener)


def register_cell(spec: CellSpec, *, replace: bool = False) -> CellSpec:
    """Add ``spec`` to the table (at the end of :func:`cell_names`) and return it.

    Raises ValueError for a malformed spec, or for a name already registered unless
    ``replace=True``.
    """
    if not isinstance(spec, CellSpec):
        raise TypeError(f"register_cell: spec must be a CellSpec, got {type(spec).__name__}")
    if not (isinstance(spec.name, str) and spec.name.isidentifier()):
        raise ValueError(f"register_cell: name must be an identifier, got {spec.name!r}")
    if isinstance(spec.gate_count, bool) or not isinstance(spec.gate_count, int) or (
        spec.gate_count < 1
    ):
        raise ValueError(f"register_cell: gate_count must be a positive int, got "
                         f"{spec.gate_count!r}")
    names = spec.state_names
    distinct = isinstance(names, tuple) and len(set(names)) == len(names)
    if not (distinct and names and names[0] == "h"):
        raise ValueError("register_cell: state_names must be a tuple of distinct names starting "
                         f"with 'h' (the output state), got {names!r}")
    if not callable(spec.step):
        raise ValueError(f"register_cell: step must be callable, got {spec.step!r}")
    for extra in spec.extra_parameters:
        if not isinstance(extra, ExtraParameter) or extra.width not in ("gates", "hidden") or (
            not extra.kind.isidentifier() or extra.kind in PARAMETER_KINDS
        ):
            raise ValueError("register_cell: extra_parameters must be ExtraParameters with a new "
                             "identifier kind and width 'gates' or 'hidden', got "
                             f"{extra!r}")
    if spec.name in _CELLS and not replace:
        raise ValueError(f"register_cell: a cell named {spec.name!r} is already registered "
                         "(pass replace=True to replace it)")
    _CELLS[spec.name] = spec
    _changed()
    return spec


def unregister_cell(name: str) -> CellSpec:
    """Remove the cell called ``name`` from the table and return its spec."""
    spec = get_cell(name)
    del _CELLS[name]
    _changed()
    return spec


def cell_names() -> tuple[str, ...]:
    """Every registered cell name, built-ins first, then in registration order."""
    return tuple(_CELLS)


def get_cell(name: str, argument: str = "name") -> CellSpec:
    """The spec of the cell called ``name``, e.g. ``get_cell('gru')``.

    Raises ValueError naming ``argument``, the known names and the closest one, if any.
    """
    try:
        return _CELLS[name]
    except (KeyError, TypeError):
        pass
    hint = ""
    if isinstance(name, str):
        close = difflib.get_close_matches(name, list(_CELLS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"{argument} must be one of {list(_CELLS)}, got {name!r}{hint}") from None


# ---- the built-in cells --------------------------------------------------------------------

def _elman_step(x: Tensor, state: State, w: LayerWeights, nonlinearity: str) -> tuple[Tensor,
                                                                                     State]:
    h = elman_cell(x, state[0], w.w_ih, w.w_hh, w.b_ih, w.b_hh, nonlinearity)
    return h, (h,)


def _lstm_step(x: Tensor, state: State, w: LayerWeights) -> tuple[Tensor, State]:
    h, c = lstm_cell(x, (state[0], state[1]), w.w_ih, w.w_hh, w.b_ih, w.b_hh, w.w_hr)
    return h, (h, c)


def _gru_step(x: Tensor, state: State, w: LayerWeights) -> tuple[Tensor, State]:
    h = gru_cell(x, state[0], w.w_ih, w.w_hh, w.b_ih, w.b_hh)
    return h, (h,)


for _nonlinearity in ("tanh", "relu", "sigmoid"):
    register_cell(CellSpec(f"rnn_{_nonlinearity}", 1, ("h",),
                           functools.partial(_elman_step, nonlinearity=_nonlinearity),
                           nonlinearity=_nonlinearity))
register_cell(CellSpec("lstm", 4, ("h", "c"), _lstm_step, supports_proj=True))
register_cell(CellSpec("gru", 3, ("h",), _gru_step))
del _nonlinearity
