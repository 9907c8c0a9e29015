"""MKL-shaped entry points built on numpy's bundled OpenBLAS (the portable fallback).

The compiled kernels call BLAS through fixed symbol names whose signatures are MKL's
(LP64 Fortran ``sgemm_``/``dgemm_``, ``cblas_sgemm_pack``/``cblas_sgemm_compute``,
``MKL_Set_Num_Threads_Local``). When MKL is not reachable, :mod:`rnnkit.kernels.cpu.blas`
binds those names to the C callbacks below instead, which adapt the calls to numpy's
``scipy-openblas64`` (64-bit integers) and emulate packing by copying ``op(X)`` into a dense
row-major buffer.

Importing this module requires :func:`rnnkit.kernels.cpu.blas.register_openblas_symbols` to have
run: the callbacks reference the ``rnnkit_openblas_*`` symbols it registers.
"""

from __future__ import annotations

import numpy as np
from numba import cfunc, njit, types

from rnnkit.kernels.cpu._native import stack_ref

_i8p = types.CPointer(types.int8)


def _fortran_gemm_signature(real: types.Float, index: types.Integer) -> types.Signature:
    """Fortran ``?gemm_``: every argument by reference, integers of type ``index``."""
    p, ip = types.CPointer(real), types.CPointer(index)
    return types.void(_i8p, _i8p, ip, ip, ip, p, p, ip, p, ip, p, p, ip)


_sgemm64 = types.ExternalFunction(
    "rnnkit_openblas_sgemm64", _fortran_gemm_signature(types.float32, types.int64)
)
_dgemm64 = types.ExternalFunction(
    "rnnkit_openblas_dgemm64", _fortran_gemm_signature(types.float64, types.int64)
)
_threads_local = types.ExternalFunction("rnnkit_openblas_threads_local", types.int32(types.int32))

# CBLAS enumeration values (the same numbers in MKL and OpenBLAS headers).
_ROW_MAJOR = 101
_NO_TRANS = 111
_A_MATRIX = 161
_PACKED = 151
_CHAR_N = np.int8(ord("N"))
_CHAR_T = np.int8(ord("T"))


# LP64 Fortran gemm (int32 by reference) forwarding to the ILP64 one (int64 by reference).
@cfunc(_fortran_gemm_signature(types.float32, types.int32), cache=True)
def sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    _sgemm64(
        ta, tb, stack_ref(np.int64(m[0])), stack_ref(np.int64(n[0])), stack_ref(np.int64(k[0])),
        alpha, a, stack_ref(np.int64(lda[0])), b, stack_ref(np.int64(ldb[0])),
        beta, c, stack_ref(np.int64(ldc[0])),
    )


@cfunc(_fortran_gemm_signature(types.float64, types.int32), cache=True)
def dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    _dgemm64(
        ta, tb, stack_ref(np.int64(m[0])), stack_ref(np.int64(n[0])), stack_ref(np.int64(k[0])),
        alpha, a, stack_ref(np.int64(lda[0])), b, stack_ref(np.int64(ldb[0])),
        beta, c, stack_ref(np.int64(ldc[0])),
    )


@cfunc(types.int32(types.int32), cache=True)
def threads_local(n):
    return _threads_local(n)


@cfunc(types.uintp(types.int32, types.int32, types.int32, types.int32), cache=True)
def sgemm_pack_get_size(identifier, m, n, k):
    # The emulated packed form is op(X) stored densely: m×k for A, k×n for B (float32 bytes).
    rows_cols = np.int64(m) * k if identifier == _A_MATRIX else np.int64(k) * n
    return np.uint64(4 * rows_cols)


@njit(cache=True)
def _get(src, ld, row_major, trans, i, j):
    """Element (i, j) of op(src) for a matrix stored with leading dimension ``ld``."""
    if row_major:
        return src[j * ld + i] if trans else src[i * ld + j]
    return src[i + j * ld] if trans else src[j + i * ld]


_sp = types.CPointer(types.float32)


@cfunc(
    types.void(types.int32, types.int32, types.int32, types.int32, types.int32, types.int32,
               types.float32, _sp, types.int32, _sp),
    cache=True,
)
def sgemm_pack(layout, identifier, trans, m, n, k, alpha, src, ld, dest):
    rows, cols = (m, k) if identifier == _A_MATRIX else (k, n)
    row_major = layout == _ROW_MAJOR
    transposed = trans != _NO_TRANS
    for i in range(rows):
        for j in range(cols):
            dest[i * cols + j] = alpha * _get(src, ld, row_major, transposed, i, j)


@cfunc(
    types.void(types.int32, types.int32, types.int32, types.int32, types.int32, types.int32,
               _sp, types.int32, _sp, types.int32, types.float32, _sp, types.int32),
    cache=True,
)
def sgemm_compute(layout, transa, transb, m, n, k, a, lda, b, ldb, beta, c, ldc):
    # A packed operand is op(X) stored row-major and dense; in column-major terms that is op(X)ᵀ.
    row_major = layout == _ROW_MAJOR
    if transa == _PACKED:
        ta = _CHAR_N if row_major else _CHAR_T
        lda = k
    else:
        ta = _CHAR_N if transa == _NO_TRANS else _CHAR_T
    if transb == _PACKED:
        tb = _CHAR_N if row_major else _CHAR_T
        ldb = n
    else:
        tb = _CHAR_N if transb == _NO_TRANS else _CHAR_T
    one = np.float32(1.0)
    if row_major:
        # Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ.
        _sgemm64(
            stack_ref(tb), stack_ref(ta),
            stack_ref(np.int64(n)), stack_ref(np.int64(m)), stack_ref(np.int64(k)),
            stack_ref(one), b, stack_ref(np.int64(ldb)), a, stack_ref(np.int64(lda)),
            stack_ref(beta), c, stack_ref(np.int64(ldc)),
        )
    else:
        _sgemm64(
            stack_ref(ta), stack_ref(tb),
            stack_ref(np.int64(m)), stack_ref(np.int64(n)), stack_ref(np.int64(k)),
            stack_ref(one), a, stack_ref(np.int64(lda)), b, stack_ref(np.int64(ldb)),
            stack_ref(beta), c, stack_ref(np.int64(ldc)),
        )
