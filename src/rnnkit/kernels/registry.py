"""The backend registry: which implementation runs a layer call, and why.

A *backend* runs one layer in one direction over a whole sequence, with the same contract as
:func:`rnnkit.functional.run_sequence` (time-major input, per-sample lengths, reversal within
lengths, zero outputs past each length). Backends are registered in order of preference; with
``backend="auto"`` the first one that serves the call wins, and every backend that declined says
why (logged at DEBUG level on the ``rnnkit.kernels`` logger and shown by ``rnnkit info``).
Requesting a backend by name that cannot serve a call raises :class:`BackendUnavailableError`
with its reason: a call is never run by something that does not support it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import torch
from torch import Tensor

from rnnkit.errors import BackendUnavailableError
from rnnkit.functional import LayerWeights, Recurrence, State

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


def explain(call: LayerCall) -> list[tuple[str, str | None]]:
    """For each registered backend, in preference order: (name, reason it declines or None)."""
    return [(b.name, b.unsupported_reason(call)) for b in _BACKENDS]


def select_backend(call: LayerCall, requested: str = "auto") -> Backend:
    """The backend that runs ``call``: the named one, or with 'auto' the first that serves it."""
    return _select_cached(call, requested)


# Selection runs on every layer call, so it is cached; register_backend clears the cache.
@lru_cache(maxsize=512)
def _select_cached(call: LayerCall, requested: str) -> Backend:
    if requested != "auto":
        backend = get_backend(requested)
        reason = backend.unsupported_reason(call)
        if reason is not None:
            raise BackendUnavailableError(
                f"backend {requested!r} cannot run this call ({call.describe()}): {reason}"
            )
        return backend
    for backend in _BACKENDS:
        reason = backend.unsupported_reason(call)
        if reason is None:
            logger.debug("%s -> backend %r", call.describe(), backend.name)
            return backend
        logger.debug("%s: backend %r declined: %s", call.describe(), backend.name, reason)
    raise BackendUnavailableError(f"no registered backend can run {call.describe()}")
