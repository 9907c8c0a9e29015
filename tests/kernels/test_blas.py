"""Both BLAS paths: MKL from libtorch_cpu (default here) and numpy's OpenBLAS (forced)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from rnnkit.kernels.cpu import blas

# Runs every family through the numba backend and the reference, forward and backward, and
# prints the provider and the largest difference per (family, dtype).
_CHECK = """
import json
import torch
import rnnkit.nn as rnn
from rnnkit.kernels.cpu import blas
from tests.kernels.helpers import MODES, random_state, run_layer
torch.manual_seed(0)
worst = {}
for mode in ("rnn_tanh", "gru", "lstm", "lstm_proj"):
    for dtype in (torch.float32, torch.float64):
        cls, _, extra = MODES[mode]
        fast = cls(5, 6, num_layers=2, backend="numba", dtype=dtype, **extra)
        ref = cls(5, 6, num_layers=2, backend="reference", dtype=dtype, **extra)
        ref.load_state_dict(fast.state_dict())
        x = torch.randn(7, 4, 5, dtype=dtype)
        hx = random_state(fast, 4, dtype)
        lengths = torch.tensor([7, 2, 5, 1])
        a, b = run_layer(fast, x, hx, lengths), run_layer(ref, x, hx, lengths)
        diffs = [(a.output - b.output).abs().max().item(), (a.grad_input - b.grad_input)
                 .abs().max().item()]
        diffs += [(a.grad_params[n] - b.grad_params[n]).abs().max().item() for n in a.grad_params]
        worst[f"{mode} {dtype}"] = max(diffs)
print(json.dumps({"provider": blas.PROVIDER, "worst": worst}))
"""


def _check(provider: str) -> dict:
    env = dict(os.environ, RNNKIT_BLAS=provider)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(_CHECK)], capture_output=True,
                          text=True, env=env, cwd=root, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("provider", ["openblas", "mkl"])
def test_forced_provider_gives_reference_results(provider) -> None:
    if provider == "mkl" and blas.PROVIDER != "mkl":
        pytest.skip(f"MKL is not reachable here: {blas.INFO.notes}")
    result = _check(provider)
    assert result["provider"] == provider
    for case, diff in result["worst"].items():
        tol = 3e-5 if "float32" in case else 1e-10
        assert diff <= tol, f"{provider} {case}: max |difference| {diff:.2e} > {tol:.0e}"


def test_default_provider_is_reported() -> None:
    assert blas.PROVIDER in blas.PROVIDERS
    assert blas.UNAVAILABLE_REASON is None
    assert blas.INFO.library is not None and os.path.exists(blas.INFO.library)


def test_kernel_helpers_refuse_plain_python_calls() -> None:
    with pytest.raises(TypeError, match="can only be called from numba code"):
        blas.gemm(False, False, 1, 1, 1, 1.0, None, 1, None, 1, 0.0, None, 1)


def test_packed_products_match_numpy() -> None:
    """pack_b + gemm_packed_b and gemm, both transpositions, both dtypes, odd sizes."""
    from numba import njit

    from rnnkit.kernels.cpu._native import data_ptr

    @njit(cache=False)
    def product(a, w, trans, packed, out):
        m, k = a.shape
        n = w.shape[0] if trans else w.shape[1]
        if packed:
            buf = blas.pack_b(w, trans, m)
            blas.gemm_packed_b(m, n, k, data_ptr(a), k, buf, 0.0, data_ptr(out), n)
        else:
            blas.gemm(False, trans, m, n, k, 1.0, data_ptr(a), k, data_ptr(w), w.shape[1], 0.0,
                      data_ptr(out), n)

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((5, 7)).astype(dtype)
        for trans, w in ((True, rng.standard_normal((3, 7))), (False, rng.standard_normal((7, 3)))):
            w = w.astype(dtype)
            expected = a @ (w.T if trans else w)
            for packed in (False, True):
                out = np.zeros((5, 3), dtype)
                product(a, w, trans, packed, out)
                tol = 1e-5 if dtype == np.float32 else 1e-12
                assert np.abs(out - expected).max() <= tol


def test_torch_threads_unchanged_by_kernels() -> None:
    """The kernels set BLAS threads per call and restore them: torch's own setting survives."""
    import rnnkit.nn as rnn

    before = torch.get_num_threads()
    rnn.GRU(4, 5, backend="numba")(torch.randn(6, 3, 4))[0].sum().backward()
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("split", [False, True], ids=["one-thread", "rows-split"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_product_helpers(split, dtype, monkeypatch) -> None:
    from rnnkit.kernels.cpu import parallel, products

    monkeypatch.setattr(parallel, "MIN_WORK_PER_SLICE", 1 if split else 10**15)
    a, b = torch.randn(7, 5, dtype=dtype), torch.randn(4, 5, dtype=dtype)
    bias = torch.randn(4, dtype=dtype)
    c = torch.randn(7, 4, dtype=dtype)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(products.linear(a, b, bias), a @ b.t() + bias, rtol=0, atol=tol)
    torch.testing.assert_close(products.linear(a, b, None), a @ b.t(), rtol=0, atol=tol)
    torch.testing.assert_close(products.matmul(c.t(), a), c.t() @ a, rtol=0, atol=tol)
    got = torch.ones(5, 4, dtype=dtype)
    products.matmul(a, c, trans_a=True, out=got, accumulate=True)  # rows of Aᵀ split
    torch.testing.assert_close(got, 1 + a.t() @ c, rtol=0, atol=tol)
    block = torch.zeros(9, 4, dtype=dtype)
    products.matmul(a, c, trans_a=True, out=block[2:7])  # into a row block of a larger buffer
    torch.testing.assert_close(block[2:7], a.t() @ c, rtol=0, atol=tol)
    assert block[:2].abs().sum() == 0 and block[7:].abs().sum() == 0
    empty = products.matmul(torch.empty(3, 0, dtype=dtype), torch.empty(0, 2, dtype=dtype))
    torch.testing.assert_close(empty, torch.zeros(3, 2, dtype=dtype))
    torch.testing.assert_close(products.column_sums(a), a.sum(0), rtol=0, atol=tol)
    expanded = torch.ones(3, 1, dtype=dtype).expand(3, 4)
    torch.testing.assert_close(products.contiguous(expanded), torch.ones(3, 4, dtype=dtype))
