"""Lazy compilation of the numba kernels, per (cell family, dtype), announced once.

Compiling is the UX trap of numba: several seconds per kernel the first time. So nothing compiles
at import; the first call that needs, say, the float32 GRU kernels compiles (or loads from the
disk cache) exactly the signatures the wrappers use, and says so once on the ``rnnkit.kernels``
logger when it is a real compilation rather than a cache load. The machine code is cached next to
the sources (``__pycache__``, or ``$NUMBA_CACHE_DIR`` for read-only installs), so later processes
start in well under a second.

Each family's kernels are compiled for explicit signatures (C-contiguous arrays, int64 lengths and
bounds, boolean flags), so a call that would silently trigger another specialisation shows up as
an extra entry in :func:`compiled_signatures` (the tests check there is none).

Caveat for development: numba invalidates a cached kernel when *its own* source file changes, not
when a module it calls does (:mod:`.activations`, :mod:`.blas`, :mod:`._native`). An installed
release is safe (every file is new), but after editing one of those helpers in a checkout, delete
the ``*.nbi``/``*.nbc`` files in ``rnnkit/kernels/cpu/__pycache__``.
"""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace
from typing import Any

import torch
from numba import types

logger = logging.getLogger("rnnkit.kernels")

_I1 = types.Array(types.int64, 1, "C")
_b, _i = types.boolean, types.int64


def _arrays(real: types.Float) -> tuple[Any, Any, Any]:
    return tuple(types.Array(real, n, "C") for n in (1, 2, 3))


def _elman_signatures(real):
    _, a2, a3 = _arrays(real)
    return {
        "forward": (a3, a2, a2, _I1, _b, _i, _i, _i, a3, a2),
        "backward": (a3, a2, _I1, _b, _i, _i, _i, a3, a2, a3, a2, a2, a2),
    }


def _gru_signatures(real):
    a1, a2, a3 = _arrays(real)
    return {
        "forward": (a3, a2, a2, a1, _I1, _b, _i, _i, a3, a2, _b, a3),
        "backward": (a3, a3, a2, a2, _I1, _b, _i, _i, a3, a2, a3, a3, a2, a2, a2),
    }


def _lstm_signatures(real):
    _, a2, a3 = _arrays(real)
    return {
        "forward": (a3, a2, a2, a2, a2, _I1, _b, _i, _i, a3, a2, a2, _b, a3, a3),
        "backward": (a3, a3, a3, a2, a2, a2, _I1, _b, _i, _i, a3, a2, a2, a3, a3, a2, a2, a2,
                     a2),
    }


def _step_signatures(real):
    a1, _, _ = _arrays(real)
    layout = types.Array(types.int64, 2, "C")
    return {"step": (_i, _i, layout, a1, _i, _i, _i, _i, _i, _i, _i)}


def _products_signatures(real):
    a1, a2, _ = _arrays(real)
    return {
        "gemm_rows": (a2, a2, a2, a1, _b, _b, types.float64, _i, _i),
        "column_sums_into": (a2, a1),
    }


def _dispatchers(family: str) -> dict[str, Any]:
    if family == "elman":
        from rnnkit.kernels.cpu import elman

        return {"forward": elman.elman_forward, "backward": elman.elman_backward}
    if family == "gru":
        from rnnkit.kernels.cpu import gru

        return {"forward": gru.gru_forward, "backward": gru.gru_backward}
    if family == "lstm":
        from rnnkit.kernels.cpu import lstm

        return {"forward": lstm.lstm_forward, "backward": lstm.lstm_backward}
    if family == "step":
        from rnnkit.kernels.cpu import step

        return {"step": step.stack_step}
    if family == "products":
        from rnnkit.kernels.cpu import products

        return {"gemm_rows": products.gemm_rows, "column_sums_into": products.column_sums_into}
    raise ValueError(f"family must be one of {list(_SIGNATURES)}, got {family!r}")


_SIGNATURES = {
    "elman": _elman_signatures,
    "gru": _gru_signatures,
    "lstm": _lstm_signatures,
    "step": _step_signatures,
    "products": _products_signatures,
}
_REALS = {torch.float32: types.float32, torch.float64: types.float64}


class Kernels(SimpleNamespace):
    """The compiled kernels of one (family, dtype), as attributes: ``forward`` and ``backward``
    for a cell family, ``step`` for streaming, ``gemm_rows``/``column_sums_into`` for products.
    """


_ready: dict[tuple[str, torch.dtype], Kernels] = {}
_lock = threading.Lock()
timings: dict[tuple[str, torch.dtype], tuple[float, bool]] = {}
"""(seconds, compiled) of each preparation in this process: compiled is False for a cache load."""


def _on_disk(dispatcher: Any, signature: tuple) -> bool:
    """Whether numba's disk cache already holds ``signature`` (best effort, private numba API)."""
    try:
        cache = dispatcher._cache
        key = cache._index_key(signature, dispatcher.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # any numba-internal change: just assume a compilation is coming
        return False


def kernels(family: str, dtype: torch.dtype) -> Kernels:
    """The compiled kernels of ``family`` for ``dtype``, compiling or loading them on first use."""
    key = (family, dtype)
    ready = _ready.get(key)
    if ready is not None:
        return ready
    with _lock:
        if key not in _ready:
            _ready[key] = _prepare(family, dtype)
    return _ready[key]


def _prepare(family: str, dtype: torch.dtype) -> Kernels:
    if dtype not in _REALS:
        raise TypeError(f"numba kernels exist for float32 and float64, got {dtype}")
    dispatchers = _dispatchers(family)
    signatures = _SIGNATURES[family](_REALS[dtype])
    # A cell family needs the product helpers too: prepare them under the same announcement.
    extra = {} if family in ("step", "products") else _dispatchers("products")
    extra_signatures = _SIGNATURES["products"](_REALS[dtype]) if extra else {}
    cold = [n for n, d in dispatchers.items() if not _on_disk(d, signatures[n])]
    cold += [n for n, d in extra.items() if not _on_disk(d, extra_signatures[n])]
    label = f"{family} {str(dtype).removeprefix('torch.')}"
    if cold:
        logger.warning(
            "rnnkit: compiling the numba CPU kernels for %s (one time, usually 5-30 s); "
            "later runs load them from the disk cache",
            label,
        )
    start = time.perf_counter()
    for name, dispatcher in dispatchers.items():
        dispatcher.compile(signatures[name])
    for name, dispatcher in extra.items():
        dispatcher.compile(extra_signatures[name])
    elapsed = time.perf_counter() - start
    timings[(family, dtype)] = (elapsed, bool(cold))
    logger.debug("%s kernels %s in %.2f s", label, "compiled" if cold else "loaded", elapsed)
    return Kernels(family=family, dtype=dtype, **dispatchers)


def compiled_signatures(family: str) -> dict[str, int]:
    """How many signatures each kernel of ``family`` holds in this process (for tests)."""
    return {name: len(d.signatures) for name, d in _dispatchers(family).items()}
