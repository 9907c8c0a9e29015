"""Lazy compilation of the numba kernels, per (cell family, dtype), announced once.

Compiling is the UX trap of numba: several seconds per kernel the first time. So nothing compiles
at import; the first call that needs, say, the float32 GRU kernels compiles (or loads from the
disk cache) exactly the signatures the wrappers use, and says so once on the ``rnnkit.kernels``
logger when it is a real compilation rather than a cache load. The machine code is cached next to
the sources (``__pycache__``, or ``$NUMBA_CACHE_DIR`` for read-only installs), so later processes
start in well under a second.

A family is a kernel module of this package, ``rnnkit.kernels.cpu.<family>``, that lists its
compiled functions in a ``KERNELS`` dict (and in ``PREPARE_WITH`` the families it calls, e.g.
``('products',)``). Each kernel is compiled for an explicit signature read off its parameter names
(:data:`_ARGUMENT_KINDS`: C-contiguous arrays, int64 lengths and bounds, boolean flags), so a
call that would silently trigger another specialisation shows up as an extra entry in
:func:`compiled_signatures` (the tests check there is none).

Caveat for development: numba invalidates a cached kernel when *its own* source file changes, not
when a module it calls does (:mod:`.activations`, :mod:`.blas`, :mod:`._native`). An installed
release is safe (every file is new), but after editing one of those helpers in a checkout, delete
the ``*.nbi``/``*.nbc`` files in ``rnnkit/kernels/cpu/__pycache__``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
import time
from types import ModuleType, SimpleNamespace
from typing import Any

import torch
from numba import types

logger = logging.getLogger("rnnkit.kernels")

# One meaning per argument name across every kernel module, so that each kernel's signature is
# read off its parameter names instead of being written out: 'rN' is an N-D C-contiguous array
# of the dtype's real type, 'iN' of int64. A kernel with a new argument adds its name here.
_ARGUMENT_KINDS = {
    **dict.fromkeys(
        ("gx", "out", "saved", "saved_c", "saved_m", "gates_saved", "d_out", "d_pre", "d_gx",
         "d_hn", "d_gates", "d_proj", "saved_ct", "zone_h", "zone_c"), "r3"),
    **dict.fromkeys(
        ("h0", "c0", "w_hh", "w_hr", "h_n", "c_n", "d_h_n", "d_c_n", "d_h0", "d_c0",
         "d_pre_first", "d_first", "d_gh_first", "d_gates_first", "d_bias", "a", "b", "c",
         "h_mask"), "r2"),
    **dict.fromkeys(("b_hn", "bias", "params", "sums"), "r1"),
    "lengths": "i1",
    "layout": "i2",
    **dict.fromkeys(("reverse", "store", "trans_a", "trans_b"), "bool"),
    **dict.fromkeys(
        ("act", "variant", "b0", "b1", "row0", "row1", "batch", "x_addr", "h_addr", "c_addr",
         "y_addr", "h_new_addr", "c_new_addr"), "int"),
    **dict.fromkeys(("beta", "zoneout_p"), "float64"),
}


def _numba_type(kind: str, real: types.Float) -> Any:
    if kind[0] in "ri" and kind[1:].isdigit():
        return types.Array(real if kind[0] == "r" else types.int64, int(kind[1]), "C")
    return {"bool": types.boolean, "int": types.int64, "float64": types.float64}[kind]


def signature(dispatcher: Any, real: types.Float) -> tuple:
    """The explicit numba signature of a kernel, from its parameter names (see the kinds)."""
    names = inspect.signature(dispatcher.py_func).parameters
    missing = [n for n in names if n not in _ARGUMENT_KINDS]
    if missing:
        raise TypeError(f"{dispatcher.py_func.__qualname__}: no argument kind for {missing}; "
                        "add them to rnnkit.kernels.cpu.compile._ARGUMENT_KINDS")
    return tuple(_numba_type(_ARGUMENT_KINDS[n], real) for n in names)


def _module(family: str) -> ModuleType:
    """The kernel module of ``family``: ``rnnkit.kernels.cpu.<family>``, defining KERNELS."""
    module = None
    if family.isidentifier():
        try:
            module = importlib.import_module(f"rnnkit.kernels.cpu.{family}")
        except ModuleNotFoundError:
            module = None
    if module is None or not isinstance(getattr(module, "KERNELS", None), dict):
        raise ValueError("family must name a kernel module of rnnkit.kernels.cpu that defines "
                         f"KERNELS (e.g. 'gru', 'step', 'products'), got {family!r}")
    return module


def families() -> tuple[str, ...]:
    """Every kernel family: the modules of ``rnnkit.kernels.cpu`` that define ``KERNELS``."""
    import pkgutil

    import rnnkit.kernels.cpu as package

    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__))
    return tuple(
        n for n in names
        if not n.startswith("_")
        and isinstance(getattr(importlib.import_module(f"{package.__name__}.{n}"), "KERNELS", None),
                       dict)
    )


def _dispatchers(family: str) -> dict[str, Any]:
    return dict(_module(family).KERNELS)


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
    module = _module(family)
    real = _REALS[dtype]
    dispatchers = dict(module.KERNELS)
    # The families it calls (a cell family uses the product helpers) are prepared under the same
    # announcement.
    extra = {f"{used}.{name}": d for used in getattr(module, "PREPARE_WITH", ())
             for name, d in _dispatchers(used).items()}
    signatures = {name: signature(d, real) for name, d in (*dispatchers.items(), *extra.items())}
    cold = [n for n, d in (*dispatchers.items(), *extra.items()) if not _on_disk(d, signatures[n])]
    label = f"{family} {str(dtype).removeprefix('torch.')}"
    if cold:
        logger.warning(
            "rnnkit: compiling the numba CPU kernels for %s (one time, usually 5-30 s); "
            "later runs load them from the disk cache",
            label,
        )
    start = time.perf_counter()
    for name, dispatcher in (*dispatchers.items(), *extra.items()):
        dispatcher.compile(signatures[name])
    elapsed = time.perf_counter() - start
    timings[(family, dtype)] = (elapsed, bool(cold))
    logger.debug("%s kernels %s in %.2f s", label, "compiled" if cold else "loaded", elapsed)
    return Kernels(family=family, dtype=dtype, **dispatchers)


def compiled_signatures(family: str) -> dict[str, int]:
    """How many signatures each kernel of ``family`` holds in this process (for tests)."""
    return {name: len(d.signatures) for name, d in _dispatchers(family).items()}
