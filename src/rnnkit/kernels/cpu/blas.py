"""BLAS for the compiled kernels: find a library at run time, bind it, expose typed helpers.

The kernels call matrix products through fixed symbol names (``rnnkit_sgemm``, ``rnnkit_dgemm``,
``rnnkit_sgemm_pack_get_size``, ``rnnkit_sgemm_pack``, ``rnnkit_sgemm_compute``,
``rnnkit_blas_threads_local``) declared as :class:`numba.types.ExternalFunction`. On import this
module binds those names with :func:`llvmlite.binding.add_symbol` to one provider:

``mkl``
    Intel MKL as linked into ``libtorch_cpu`` by the x86-64 Linux torch wheels, which export
    ``sgemm_``, ``dgemm_``, ``cblas_sgemm_pack``/``cblas_sgemm_compute`` and
    ``MKL_Set_Num_Threads_Local``. This is *not* a public torch API, so it is detected, never
    assumed. Packing W_hh once per call (``cblas_sgemm_pack``) makes each step's product faster.
``openblas``
    numpy's bundled ``scipy-openblas64``, through the adapters in
    :mod:`rnnkit.kernels.cpu._openblas` (packing is emulated by a dense copy).

Binding names rather than baking addresses into the code is what lets ``cache=True`` work: the
cached machine code refers to the names, which are bound again in every process before any kernel
is loaded. ``RNNKIT_BLAS=mkl|openblas`` forces a provider (the default ``auto`` prefers MKL); it is
read once, at import. If no provider is found, :data:`UNAVAILABLE_REASON` says why and the numba
backend declines every call.

Kernel-side helpers (callable only from numba-compiled code; row-major, dtype from the operands):

* :func:`gemm` — C = α·op(A)·op(B) + β·C on raw pointers.
* :func:`pack_b` / :func:`gemm_packed_b` — pack a weight matrix once as the right operand, then
  C = A·B_packed + β·C for every step.
* :func:`set_threads_local` — the calling thread's BLAS thread count (returns the previous one).
"""

from __future__ import annotations

import ctypes
import glob
import os
from dataclasses import dataclass

import llvmlite.binding as llvm
import numpy as np
from numba import cfunc, types
from numba.extending import overload

from rnnkit.kernels.cpu._native import data_ptr, stack_ref

ENV_VAR = "RNNKIT_BLAS"
PROVIDERS = ("mkl", "openblas")

# CBLAS enumeration values (identical in MKL's and OpenBLAS' headers).
_ROW_MAJOR = 101
_NO_TRANS = 111
_TRANS = 112
_PACKED = 151
_B_MATRIX = 162
_CHAR_N = np.int8(ord("N"))
_CHAR_T = np.int8(ord("T"))

_MKL_SYMBOLS = {
    "rnnkit_sgemm": "sgemm_",
    "rnnkit_dgemm": "dgemm_",
    "rnnkit_sgemm_pack_get_size": "cblas_sgemm_pack_get_size",
    "rnnkit_sgemm_pack": "cblas_sgemm_pack",
    "rnnkit_sgemm_compute": "cblas_sgemm_compute",
    "rnnkit_blas_threads_local": "MKL_Set_Num_Threads_Local",
}
# numpy >= 2 wheels ship scipy-openblas64 with prefixed names; older ones used a plain 64_ suffix.
_OPENBLAS_CANDIDATES = {
    "rnnkit_openblas_sgemm64": ("scipy_sgemm_64_", "sgemm_64_"),
    "rnnkit_openblas_dgemm64": ("scipy_dgemm_64_", "dgemm_64_"),
}
_OPENBLAS_THREADS = ("openblas_set_num_threads_local", "scipy_openblas_set_num_threads_local64_")


@dataclass(frozen=True)
class BlasInfo:
    """Which BLAS the kernels use: ``provider`` ('mkl', 'openblas' or None), the library file,
    why the preferred providers were not used, and (when ``provider`` is None) why none is."""

    provider: str | None
    library: str | None
    notes: tuple[str, ...]
    unavailable_reason: str | None


def _address(lib: ctypes.CDLL, name: str) -> int | None:
    try:
        return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
    except AttributeError:
        return None


def _torch_cpu_library() -> str:
    import torch

    libdir = os.path.join(os.path.dirname(torch.__file__), "lib")
    for name in ("libtorch_cpu.so", "libtorch_cpu.dylib", "torch_cpu.dll"):
        path = os.path.join(libdir, name)
        if os.path.exists(path):
            return path
    raise LookupError(f"no libtorch_cpu library in {libdir}")


def _bind_mkl() -> str:
    """Bind the kernel symbols to MKL inside libtorch_cpu; returns the library path."""
    path = _torch_cpu_library()
    lib = ctypes.CDLL(path)
    addresses = {ours: _address(lib, theirs) for ours, theirs in _MKL_SYMBOLS.items()}
    missing = [_MKL_SYMBOLS[ours] for ours, addr in addresses.items() if not addr]
    if missing:
        raise LookupError(f"{os.path.basename(path)} does not export {', '.join(missing)}")
    for ours, addr in addresses.items():
        llvm.add_symbol(ours, addr)
    return path


@cfunc(types.int32(types.int32), cache=True)
def _no_thread_control(n):
    # Used when the OpenBLAS build cannot set a per-thread count: keep its own setting.
    return 0


def _numpy_openblas_libraries() -> list[str]:
    root = os.path.dirname(os.path.dirname(np.__file__))
    patterns = [
        os.path.join(root, "numpy.libs", "libscipy_openblas*"),
        os.path.join(root, "numpy.libs", "libopenblas*"),
        os.path.join(os.path.dirname(np.__file__), ".dylibs", "libscipy_openblas*"),
        os.path.join(os.path.dirname(np.__file__), ".dylibs", "libopenblas*"),
    ]
    return sorted(p for pattern in patterns for p in glob.glob(pattern))


def _bind_openblas() -> str:
    """Bind the kernel symbols to adapters over numpy's OpenBLAS; returns the library path."""
    libraries = _numpy_openblas_libraries()
    if not libraries:
        raise LookupError("numpy ships no OpenBLAS library (no numpy.libs/libscipy_openblas*)")
    problems = []
    for path in libraries:
        lib = ctypes.CDLL(path)
        found = {}
        for ours, names in _OPENBLAS_CANDIDATES.items():
            found[ours] = next((a for a in map(lambda n: _address(lib, n), names) if a), None)
        if not all(found.values()):
            problems.append(f"{os.path.basename(path)} lacks 64-bit-integer sgemm/dgemm")
            continue
        threads = next((a for a in (_address(lib, n) for n in _OPENBLAS_THREADS) if a), None)
        found["rnnkit_openblas_threads_local"] = threads or _no_thread_control.address
        for ours, addr in found.items():
            llvm.add_symbol(ours, addr)
        from rnnkit.kernels.cpu import _openblas as adapters  # compiles against the names above

        for ours, adapter in (
            ("rnnkit_sgemm", adapters.sgemm),
            ("rnnkit_dgemm", adapters.dgemm),
            ("rnnkit_sgemm_pack_get_size", adapters.sgemm_pack_get_size),
            ("rnnkit_sgemm_pack", adapters.sgemm_pack),
            ("rnnkit_sgemm_compute", adapters.sgemm_compute),
            ("rnnkit_blas_threads_local", adapters.threads_local),
        ):
            llvm.add_symbol(ours, adapter.address)
        return path
    raise LookupError("; ".join(problems))


def _bind() -> BlasInfo:
    requested = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if requested not in ("auto", *PROVIDERS):
        return BlasInfo(
            None, None, (),
            f"environment variable {ENV_VAR} must be one of {['auto', *PROVIDERS]}, "
            f"got {requested!r}",
        )
    order = PROVIDERS if requested == "auto" else (requested,)
    binders = {"mkl": _bind_mkl, "openblas": _bind_openblas}
    notes = []
    for provider in order:
        try:
            library = binders[provider]()
        except (LookupError, OSError) as err:
            notes.append(f"{provider} not used: {err}")
            continue
        if requested != "auto":
            notes.append(f"forced by {ENV_VAR}={requested}")
        return BlasInfo(provider, library, tuple(notes), None)
    return BlasInfo(None, None, tuple(notes), "no usable BLAS: " + "; ".join(notes))


INFO: BlasInfo = _bind()
PROVIDER: str | None = INFO.provider
UNAVAILABLE_REASON: str | None = INFO.unavailable_reason


# ---- what the kernels call -------------------------------------------------------------------

def _fortran_gemm(real: types.Float) -> types.ExternalFunction:
    p, ip = types.CPointer(real), types.CPointer(types.int32)
    i8p = types.CPointer(types.int8)
    return types.ExternalFunction(
        "rnnkit_sgemm" if real == types.float32 else "rnnkit_dgemm",
        types.void(i8p, i8p, ip, ip, ip, p, p, ip, p, ip, p, p, ip),
    )


_sgemm = _fortran_gemm(types.float32)
_dgemm = _fortran_gemm(types.float64)
_i32 = types.int32
_fp = types.CPointer(types.float32)
_sgemm_pack_get_size = types.ExternalFunction(
    "rnnkit_sgemm_pack_get_size", types.uintp(_i32, _i32, _i32, _i32)
)
_sgemm_pack = types.ExternalFunction(
    "rnnkit_sgemm_pack",
    types.void(_i32, _i32, _i32, _i32, _i32, _i32, types.float32, _fp, _i32, _fp),
)
_sgemm_compute = types.ExternalFunction(
    "rnnkit_sgemm_compute",
    types.void(_i32, _i32, _i32, _i32, _i32, _i32, _fp, _i32, _fp, _i32, types.float32, _fp, _i32),
)
_threads_local = types.ExternalFunction("rnnkit_blas_threads_local", types.int32(types.int32))


def _compiled_only(name: str):
    def stub(*args):
        raise TypeError(f"rnnkit.kernels.cpu.blas.{name} can only be called from numba code")

    stub.__name__ = name
    return stub


gemm = _compiled_only("gemm")
pack_b = _compiled_only("pack_b")
gemm_packed_b = _compiled_only("gemm_packed_b")
set_threads_local = _compiled_only("set_threads_local")


@overload(gemm)
def _gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Row-major C (m×n, ldc) = α·op(A) (m×k) · op(B) (k×n) + β·C, on data pointers."""
    if not isinstance(a, types.CPointer) or a.dtype not in (types.float32, types.float64):
        return None
    fortran = _sgemm if a.dtype == types.float32 else _dgemm
    real = np.float32 if a.dtype == types.float32 else np.float64

    def impl(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        # Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands.
        fortran(
            stack_ref(_CHAR_T if trans_b else _CHAR_N), stack_ref(_CHAR_T if trans_a else _CHAR_N),
            stack_ref(np.int32(n)), stack_ref(np.int32(m)), stack_ref(np.int32(k)),
            stack_ref(real(alpha)), b, stack_ref(np.int32(ldb)), a, stack_ref(np.int32(lda)),
            stack_ref(real(beta)), c, stack_ref(np.int32(ldc)),
        )

    return impl


@overload(pack_b)
def _pack_b(w, trans, m):
    """Pack B = wᵀ (``trans``) or w, a C-contiguous 2-D weight, for products with m-row A.

    Returns the buffer that :func:`gemm_packed_b` takes: MKL's packed format for float32,
    a dense row-major copy of B (k×n) for float64 (MKL exports no ``cblas_dgemm_pack``).
    """
    if not isinstance(w, types.Array) or w.ndim != 2:
        return None
    if w.dtype == types.float32:

        def impl32(w, trans, m):
            n = w.shape[0] if trans else w.shape[1]
            k = w.shape[1] if trans else w.shape[0]
            size = _sgemm_pack_get_size(_B_MATRIX, np.int32(m), np.int32(n), np.int32(k))
            raw = np.empty(size // 4 + 16, np.float32)
            start = ((64 - raw.ctypes.data % 64) % 64) // 4  # 64-byte alignment for MKL
            buf = raw[start:]
            _sgemm_pack(
                _ROW_MAJOR, _B_MATRIX, _TRANS if trans else _NO_TRANS,
                np.int32(m), np.int32(n), np.int32(k), np.float32(1.0),
                data_ptr(w), np.int32(w.shape[1]), data_ptr(buf),
            )
            return buf

        return impl32
    if w.dtype == types.float64:

        def impl64(w, trans, m):
            if trans:
                return np.ascontiguousarray(w.T).ravel()
            return w.copy().ravel()

        return impl64
    return None


@overload(gemm_packed_b)
def _gemm_packed_b(m, n, k, a, lda, packed, beta, c, ldc):
    """Row-major C (m×n, ldc) = A (m×k, lda) · B_packed (k×n) + β·C."""
    if not isinstance(packed, types.Array):
        return None
    if packed.dtype == types.float32:

        def impl32(m, n, k, a, lda, packed, beta, c, ldc):
            _sgemm_compute(
                _ROW_MAJOR, _NO_TRANS, _PACKED, np.int32(m), np.int32(n), np.int32(k),
                a, np.int32(lda), data_ptr(packed), np.int32(n), np.float32(beta), c,
                np.int32(ldc),
            )

        return impl32

    def impl64(m, n, k, a, lda, packed, beta, c, ldc):
        gemm(False, False, m, n, k, 1.0, a, lda, data_ptr(packed), n, beta, c, ldc)

    return impl64


@overload(set_threads_local)
def _set_threads_local(n):
    def impl(n):
        return _threads_local(np.int32(n))

    return impl
