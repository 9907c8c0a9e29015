"""The backend registry: which implementation runs a layer call, and why.

A *backend* runs one layer in one direction over a whole sequence, with the same contract as
:func:`rnnkit.functional.run_sequence` (time-major input, per-sample lengths, reversal within
lengths, zero outputs past each length). Backends are registered in order of preference; with
``backend="auto"`` the first one that serves the call wins, and every backend that declined says
why (logged at DEBUG level on the ``rnnkit.kernels`` logger and shown by ``rnnkit info``). On
the CPU, when both ``numba`` and ``torch`` serve a call whose shape is known, ``auto`` asks the
cost model measured on this machine which is faster, once a calibration exists
(:mod:`rnnkit.kernels.cost_model`; ``RNNKIT_COST_MODEL=off`` turns that off). When torch serves
the first call of a stack it runs the whole stack in one call (``TorchBackend.run_stack``).
Requesting a backend by name that cannot serve a call
raises :class:`BackendUnavailableError` with its reason: a call is never run by something that
does not support it.

Streaming (``layer.step``) goes through the same protocol: a backend may also serve a compiled
*step runner* for a whole unidirectional stack (:class:`StepRunner`), or decline with a reason
(:func:`select_step_backend`, :func:`explain_step`). When none serves one, ``step`` runs the
ordinary forward on a length-1 sequence. Backends find out which cells exist from
:mod:`rnnkit.functional.cell_table`; a cell a backend has no entry for is declined by name.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import torch
from torch import Tensor

from rnnkit.errors import BackendUnavailableError
from rnnkit.functional import CellSpec, LayerWeights, Recurrence, State, cell_table

logger = logging.getLogger("rnnkit.kernels")


@dataclass(frozen=True)
class LayerCall:
    """What a backend is asked to run: the options that decide whether it can serve a call."""

    mode: str  # Recurrence.mode, e.g. 'lstm'
    device_type: str  # 'cpu', 'cuda', ...
    dtype: torch.dtype
    has_bias: bool
    has_proj: bool
    has_lengths: bool
    reverse: bool
    requires_grad: bool  # autograd will need a backward through this call
    # Recurrent dropout or zoneout wrap the cell's step: only a backend whose
    # ``runs_cell_step`` is True (it runs ``recurrence.step``), or one with its own
    # regularised loops (``serves_regularised``), can serve the call.
    regularised: bool = False
    # (T, B, F, H, H_out) bucketed to powers of two (cost_model.bucket_shape), or None when
    # unknown; with it 'auto' may weigh backends by predicted time (rnnkit.kernels.cost_model).
    shape: tuple[int, int, int, int, int] | None = None

    def describe(self) -> str:
        """One-line human summary, e.g. ``lstm cpu float32 bias lengths reverse grad``."""
        flags = [
            name
            for name, on in (
                ("bias", self.has_bias),
                ("proj", self.has_proj),
                ("lengths", self.has_lengths),
                ("reverse", self.reverse),
                ("grad", self.requires_grad),
                ("regularised", self.regularised),
            )
            if on
        ]
        dtype = str(self.dtype).removeprefix("torch.")
        return " ".join([self.mode, self.device_type, dtype, *flags])


class Backend(Protocol):
    """What a backend provides. ``name`` is what users pass as ``backend=``."""

    name: str

    def unsupported_reason(self, call: LayerCall) -> str | None:
        """None if this backend serves ``call``, else a short reason why not."""
        ...

    def run_layer(
        self,
        recurrence: Recurrence,
        x: Tensor,
        state: State,
        weights: LayerWeights,
        lengths: Tensor | None,
        reverse: bool,
    ) -> tuple[Tensor, State]:
        """Run one layer, one direction: x (T, B, F) -> (output (T, B, H_out), final state)."""
        ...


class StepRunner(Protocol):
    """A compiled step of a whole unidirectional stack, served by a backend for streaming.

    ``run(batch, x, h, c, y, h_new, c_new)`` advances every layer by one step, reading and
    writing tensors through their data pointers: x (B, F), states h (L, B, H_out) and, for a
    two-state cell, c (L, B, H) (0 stands for an all-zero state, and c is 0 for a one-state cell),
    output y (B, H_out). The attributes describe the layout it was built for.
    """

    dtype: torch.dtype
    input_size: int
    hidden_size: int
    out_size: int
    num_layers: int
    num_states: int

    def run(self, batch: int, x: int, h: int, c: int, y: int, h_new: int, c_new: int) -> None: ...


class StepBackend(Backend, Protocol):
    """A backend that can also stream: both methods are optional for a :class:`Backend`."""

    def step_unsupported_reason(self, call: LayerCall) -> str | None:
        """None if this backend serves a step runner for ``call``'s cell, else why not."""
        ...

    def step_runner(self, cell: CellSpec, weights: Sequence[LayerWeights]) -> StepRunner:
        """A runner for the stack whose layer l has ``weights[l]`` (values copied now)."""
        ...


_BACKENDS: list[Backend] = []


def register_backend(backend: Backend, *, first: bool = False) -> None:
    """Add ``backend`` to the registry (at the end, or first in preference with ``first=True``).

    Re-registering a name replaces the earlier backend of that name.
    """
    _BACKENDS[:] = [b for b in _BACKENDS if b.name != backend.name]
    if first:
        _BACKENDS.insert(0, backend)
    else:
        _BACKENDS.append(backend)
    _select_cached.cache_clear()


def available_backends() -> list[str]:
    """Names of the registered backends, most preferred first (plus 'auto')."""
    return ["auto", *(b.name for b in _BACKENDS)]


def get_backend(name: str) -> Backend:
    """The registered backend called ``name``."""
    for backend in _BACKENDS:
        if backend.name == name:
            return backend
    raise ValueError(f"backend must be one of {available_backends()}, got {name!r}")


def _reason(backend: Backend, call: LayerCall) -> str | None:
    # A backend with its own regularised loops (``serves_regularised``: it has
    # ``run_layer_regularised``) says itself which regularised calls it serves.
    if call.regularised and not (getattr(backend, "runs_cell_step", False)
                                 or getattr(backend, "serves_regularised", False)):
        return ("runs its own kernel, not the cell's step, so it cannot apply recurrent "
                "dropout or zoneout")
    return backend.unsupported_reason(call)


def explain(call: LayerCall) -> list[tuple[str, str | None]]:
    """For each registered backend, in preference order: (name, reason it declines or None)."""
    return [(b.name, _reason(b, call)) for b in _BACKENDS]


def select_backend(call: LayerCall, requested: str = "auto") -> Backend:
    """The backend that runs ``call``: the named one, or with 'auto' the first that serves it."""
    return _select_cached(call, requested)


def _step_reason(backend: Backend, call: LayerCall) -> str | None:
    check = getattr(backend, "step_unsupported_reason", None)
    if check is None:
        return "has no compiled step (step() runs forward on a length-1 sequence)"
    return check(call)


def explain_step(call: LayerCall) -> list[tuple[str, str | None]]:
    """For each backend, in preference order: (name, why it serves no step runner, or None)."""
    return [(b.name, _step_reason(b, call)) for b in _BACKENDS]


def select_step_backend(call: LayerCall, requested: str = "auto") -> StepBackend | None:
    """The backend that serves a step runner for ``call``, or None: ``step`` runs forward then.

    With 'auto' the first backend that serves one. A backend requested by name that streams
    but declines this call raises :class:`BackendUnavailableError` with its reason; one that
    does not stream at all gives None (its forward runs each step).
    """
    if requested != "auto":
        backend = get_backend(requested)
        if getattr(backend, "step_unsupported_reason", None) is None:
            return None
        reason = _step_reason(backend, call)
        if reason is not None:
            raise BackendUnavailableError(f"backend {requested!r} cannot run step(): {reason}")
        return backend  # type: ignore[return-value]  # it has the step methods
    for backend in _BACKENDS:
        reason = _step_reason(backend, call)
        if reason is None:
            return backend  # type: ignore[return-value]
        logger.debug("step %s: backend %r declined: %s", call.describe(), backend.name, reason)
    return None


# Selection runs on every layer call, so it is cached; register_backend clears the cache.
@lru_cache(maxsize=512)
def _select_cached(call: LayerCall, requested: str) -> Backend:
    if requested != "auto":
        backend = get_backend(requested)
        reason = _reason(backend, call)
        if reason is not None:
            raise BackendUnavailableError(
                f"backend {requested!r} cannot run this call ({call.describe()}): {reason}"
            )
        return backend
    for backend in _BACKENDS:
        reason = _reason(backend, call)
        if reason is None:
            backend = _weigh(call, backend)
            logger.debug("%s -> backend %r", call.describe(), backend.name)
            return backend
        logger.debug("%s: backend %r declined: %s", call.describe(), backend.name, reason)
    raise BackendUnavailableError(f"no registered backend can run {call.describe()}")


def _weigh(call: LayerCall, first: Backend) -> Backend:
    """``first`` (the preferred backend that serves ``call``), or torch when the cost model
    predicts torch faster for this CPU call (both must serve it; see :mod:`.cost_model`)."""
    from rnnkit.kernels import cost_model

    # An LSTM projection is not calibrated: torch runs it off oneDNN, warning on every process.
    if (first.name != "numba" or call.shape is None or call.device_type != "cpu"
            or call.mode not in cost_model.MODES or call.has_proj or not cost_model.enabled()):
        return first
    other = next((b for b in _BACKENDS if b.name == "torch"), None)
    if other is None or _reason(other, call) is not None:
        return first
    model = cost_model.current(measure=cost_model.calibrates_lazily())
    verdict = None if model is None else model.choose(
        call.mode, call.requires_grad, call.has_lengths, cost_model.Shape.of(call.shape))
    return other if verdict == "torch" else first


# A cell registered, replaced or removed may change what a backend serves for its name.
cell_table.on_change(_select_cached.cache_clear)
