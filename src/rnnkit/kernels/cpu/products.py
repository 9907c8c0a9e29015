"""The large products around the sequential loops, split by rows across rnnkit's own threads.

The input projection before the loop and the weight and input gradients after it are plain
matrix products. Running them through torch would hand them to its OpenMP pool: for small
operands (B = 1, H = 64: a few MFLOP) the fork/join costs more than the arithmetic, and on a
busy machine a descheduled OpenMP worker stalls the whole team for milliseconds. So they run like
the loops do: the rows of C are split into slices (:mod:`~rnnkit.kernels.cpu.parallel`, one per
thread worth using), and each thread computes its rows with single-threaded BLAS. No torch op
runs in between, and a small product stays on the calling thread.

The compiled helper takes C-contiguous arrays only (the layout it is compiled for, so that no call
triggers another specialisation); operands are made contiguous on the calling thread first.
Shapes use the BLAS names: C (m×n) = op(A) (m×k) · op(B) (k×n).
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit
from torch import Tensor

from rnnkit.kernels.cpu import blas
from rnnkit.kernels.cpu import compile as compiled
from rnnkit.kernels.cpu._native import KERNEL_OPTIONS, data_ptr
from rnnkit.kernels.cpu.parallel import batch_slices, run_slices


@njit(**KERNEL_OPTIONS)
def gemm_rows(a, b, c, bias, trans_a, trans_b, beta, row0, row1):
    """C[row0:row1] = op(A)[row0:row1]·op(B) (+ bias on every row) + β·C[row0:row1].

    Args:
        a, b, c: C-contiguous 2-D.  bias: (n,) or empty for none (when given, β is ignored and
            the rows start from the bias).  trans_a, trans_b: use Aᵀ / Bᵀ.
        row0, row1: the rows of C this call computes (single-threaded BLAS).
    """
    n = c.shape[1]
    k = a.shape[0] if trans_a else a.shape[1]
    rows = row1 - row0
    if rows <= 0 or n == 0:
        return
    if bias.shape[0] > 0:
        for i in range(row0, row1):
            c[i, :] = bias
        beta = 1.0
    if k == 0:
        if bias.shape[0] == 0 and beta == 0.0:
            c[row0:row1, :] = 0.0
        return
    # Rows of op(A) are rows of A, or columns of A when transposed (same leading dimension).
    first = a[:, row0:] if trans_a else a[row0:]
    previous = blas.set_threads_local(1)
    blas.gemm(trans_a, trans_b, rows, n, k, 1.0, data_ptr(first), max(a.shape[1], 1),
              data_ptr(b), max(b.shape[1], 1), beta, data_ptr(c[row0:]), max(n, 1))
    blas.set_threads_local(previous)


@njit(**KERNEL_OPTIONS)
def column_sums_into(a, sums):
    """sums[j] = Σ_i a[i, j] for a C-contiguous 2-D ``a``."""
    sums[:] = 0.0
    for i in range(a.shape[0]):
        row = a[i]
        for j in range(sums.shape[0]):
            sums[j] += row[j]


def _array(t: Tensor) -> np.ndarray:
    """A C-contiguous numpy view of ``t`` (copied on this thread if it is not contiguous)."""
    return np.ascontiguousarray(t.detach().numpy())


def matmul(
    a: Tensor, b: Tensor, *, trans_a: bool = False, trans_b: bool = False,
    out: Tensor | None = None, accumulate: bool = False, bias: Tensor | None = None,
) -> Tensor:
    """op(A)·op(B) (+ bias on every row), into ``out`` (added to it with ``accumulate``).

    Args:
        a, b: 2-D tensors.  trans_a, trans_b: use Aᵀ / Bᵀ.
        out: (m, n) C-contiguous destination, or None for a new tensor.
        bias: (n,) added to every row, or None.
    """
    m = a.shape[1] if trans_a else a.shape[0]
    k = a.shape[0] if trans_a else a.shape[1]
    n = b.shape[0] if trans_b else b.shape[1]
    if out is None:
        out = torch.empty(m, n, dtype=a.dtype)
        accumulate = False
    kernel = compiled.kernels("products", a.dtype).gemm_rows
    a_np, b_np, c_np = _array(a), _array(b), out.detach().numpy()
    bias_np = _array(bias) if bias is not None else np.empty(0, dtype=c_np.dtype)
    beta = 1.0 if accumulate else 0.0
    run_slices(lambda r0, r1: kernel(a_np, b_np, c_np, bias_np, trans_a, trans_b, beta, r0, r1),
               batch_slices(m, m * n * k))
    return out


def linear(x: Tensor, w: Tensor, bias: Tensor | None) -> Tensor:
    """X·Wᵀ + bias: x (N, K), w (G, K), bias (G,) or None -> (N, G), C-contiguous."""
    return matmul(x, w, trans_b=True, bias=bias)


def column_sums(a: Tensor) -> Tensor:
    """Σ over the rows of a 2-D tensor: (N, G) -> (G,), on this thread."""
    out = torch.empty(a.shape[1], dtype=a.dtype)
    compiled.kernels("products", a.dtype).column_sums_into(_array(a), out.numpy())
    return out


def contiguous(t: Tensor) -> Tensor:
    """``t.contiguous()`` on this thread (upstream gradients are often expanded views, e.g. the
    gradient of ``output.sum()``, and torch would copy them on its OpenMP pool)."""
    if t.is_contiguous():
        return t
    return torch.from_numpy(np.ascontiguousarray(t.detach().numpy()))


#: The compiled functions of this module, for :mod:`rnnkit.kernels.cpu.compile`.
KERNELS = {"gemm_rows": gemm_rows, "column_sums_into": column_sums_into}
