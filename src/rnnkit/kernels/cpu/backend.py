"""The ``numba`` backend: fused CPU kernels with hand-written BPTT, for every cell family.

It serves CPU calls in float32 and float64 for every cell with a registered kernel
(:func:`register_cell_kernel`, by cell name; the built-in ones register in :mod:`.functions`):
Elman (tanh, relu, σ), LSTM (with or without a projection), GRU, minGRU/minLSTM and the
layer-normalised LSTM/GRU (:mod:`.ln_functions`), with or without biases (or
with only ``b_ih``, as ``ElmanRNN`` has), with per-sample lengths, reversed, with initial states
that need gradients; recurrent dropout and zoneout for the LSTM, the GRU and Elman
(:meth:`NumbaBackend.run_layer_regularised`, with the masks the driver drew); and for
streaming, a compiled step runner (:mod:`.step`). It declines, with
the reason, anything else (CUDA tensors, half precision, cells without a kernel), and the whole
backend declines when numba or a BLAS library is missing — importing rnnkit never depends on
numba being importable.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnkit.functional import (
    CellSpec,
    LayerWeights,
    Recurrence,
    RecurrentMasks,
    State,
    regularised_cell,
    run_sequence,
)
from rnnkit.kernels.registry import LayerCall

DTYPES = (torch.float32, torch.float64)

#: (x (T, B, F), state, weights, lengths (B,) int64 array, reverse, grad) -> (out, final state),
#: the inputs contiguous: a cell's fused layer entry point.
LayerRunner = Callable[[Tensor, State, LayerWeights, np.ndarray, bool, bool], tuple[Tensor, State]]

#: A :data:`LayerRunner` with one more argument, the call's drawn :class:`RecurrentMasks`.
RegularisedRunner = Callable[
    [Tensor, State, LayerWeights, np.ndarray, bool, bool, RecurrentMasks], tuple[Tensor, State]
]


@dataclass(frozen=True)
class CellKernel:
    """The numba entry points of one cell, registered under the cell's name.

    Attributes:
        run_layer: one layer, one direction, with its hand-written BPTT (:data:`LayerRunner`).
        step: ``(variant, act)`` of the compiled streaming step (:mod:`.step`), or None when
            this cell has no compiled step (``layer.step`` then runs forward).
        run_regularised: the layer with recurrent dropout and zoneout
            (:data:`RegularisedRunner`), or None when this cell has none
            (the reference backend serves such calls then).
    """

    run_layer: LayerRunner
    step: tuple[int, int] | None = None
    run_regularised: RegularisedRunner | None = None


_CELL_KERNELS: dict[str, CellKernel] = {}
# The modules that register cell kernels when imported; they need numba, so they load on the
# first question about a cell once numba and a BLAS are known to work.
KERNEL_MODULES = ["rnnkit.kernels.cpu.functions", "rnnkit.kernels.cpu.min_functions",
                  "rnnkit.kernels.cpu.ln_functions"]


def register_cell_kernel(name: str, kernel: CellKernel) -> None:
    """Register the numba entry points of the cell called ``name`` (replacing earlier ones)."""
    _CELL_KERNELS[name] = kernel
    from rnnkit.kernels.registry import _select_cached

    _select_cached.cache_clear()


def unregister_cell_kernel(name: str) -> CellKernel | None:
    """Remove the numba entry points of cell ``name`` (if any) and return them."""
    kernel = _CELL_KERNELS.pop(name, None)
    from rnnkit.kernels.registry import _select_cached

    _select_cached.cache_clear()
    return kernel


@functools.cache
def _load_kernel_modules() -> None:
    for module in KERNEL_MODULES:
        importlib.import_module(module)


def cell_kernel(name: str) -> CellKernel | None:
    """The registered numba entry points of cell ``name``, or None (loads the kernel modules)."""
    _load_kernel_modules()
    return _CELL_KERNELS.get(name)


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
    # It serves recurrent dropout and zoneout through its own loops (run_layer_regularised),
    # fed the masks the driver drew, for the cells that register them.
    serves_regularised = True

    def _common_reason(self, call: LayerCall) -> str | None:
        if call.device_type != "cpu":
            return f"runs on the CPU only, got a {call.device_type} tensor"
        if call.dtype not in DTYPES:
            return f"supports float32 and float64, got {str(call.dtype).removeprefix('torch.')}"
        return environment_problem()

    def unsupported_reason(self, call: LayerCall) -> str | None:
        reason = self._common_reason(call)
        if reason is not None:
            return reason
        kernel = cell_kernel(call.mode)
        if kernel is None:
            return f"has no kernel for mode {call.mode!r}"
        if call.regularised and kernel.run_regularised is None:
            return f"has no recurrent-dropout/zoneout kernel for mode {call.mode!r}"
        return None

    def step_unsupported_reason(self, call: LayerCall) -> str | None:
        reason = self._common_reason(call)
        if reason is None:
            kernel = cell_kernel(call.mode)
            if kernel is None:
                reason = f"has no kernel for mode {call.mode!r}"
            elif kernel.step is None:
                reason = f"has no compiled step for mode {call.mode!r}"
        return reason

    def step_runner(self, cell: CellSpec, weights: Sequence[LayerWeights]):
        """The compiled step of a unidirectional stack of ``cell`` (see :mod:`.step`)."""
        from rnnkit.kernels.cpu.step import StepRunner

        kernel = cell_kernel(cell.name)
        if kernel is None or kernel.step is None:
            raise ValueError(f"numba backend: no compiled step for cell {cell.name!r}")
        return StepRunner(*kernel.step, weights)

    def run_layer(
        self,
        recurrence: Recurrence,
        x: Tensor,
        state: State,
        weights: LayerWeights,
        lengths: Tensor | None,
        reverse: bool,
    ) -> tuple[Tensor, State]:
        return self._run(recurrence, x, state, weights, lengths, reverse, None)

    def run_layer_regularised(
        self,
        recurrence: Recurrence,
        x: Tensor,
        state: State,
        weights: LayerWeights,
        lengths: Tensor | None,
        reverse: bool,
        masks: RecurrentMasks,
    ) -> tuple[Tensor, State]:
        """:meth:`run_layer` with recurrent dropout and zoneout, using the drawn ``masks``."""
        return self._run(recurrence, x, state, weights, lengths, reverse, masks)

    def _run(self, recurrence, x, state, weights, lengths, reverse, masks):
        from rnnkit.kernels.cpu.functions import lengths_array

        kernel = _CELL_KERNELS.get(recurrence.name) or cell_kernel(recurrence.name)
        if kernel is None:
            raise ValueError(f"numba backend: no kernel for mode {recurrence.name!r}")
        if masks is not None and kernel.run_regularised is None:
            raise ValueError(f"numba backend: no recurrent-dropout/zoneout kernel for mode "
                             f"{recurrence.name!r}")
        if x.shape[1] == 0:
            # An empty batch has nothing to compute, and the compiled loops' buffers cannot be
            # shaped from zero rows: the reference loop returns torch.nn's empty outputs, with
            # autograd giving zero parameter gradients and empty input/state gradients.
            if masks is not None:
                recurrence = regularised_cell(recurrence, h_mask=masks.h_mask,
                                              zoneout_p=masks.zoneout_p,
                                              training=masks.training, zone=masks.zone)
            return run_sequence(recurrence, x, state, weights, lengths, reverse)
        x = x.contiguous()  # (T, B, F); batch-first inputs arrive as a transposed view
        state = tuple(s.contiguous() for s in state)
        # A cell's extra parameters (layer-norm gains and shifts) are one tuple field.
        extra = None if weights.extra is None else tuple(
            None if w is None else w.contiguous() for w in weights.extra)
        weights = LayerWeights(*(None if w is None else w.contiguous() for w in weights[:5]),
                               extra=extra)
        lens = lengths_array(lengths, x.shape[0], x.shape[1])
        grad = torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in (x, *state, *weights[:5], *(extra or ()))
        )
        if masks is not None:
            return kernel.run_regularised(x, state, weights, lens, reverse, grad, masks)
        return kernel.run_layer(x, state, weights, lens, reverse, grad)
