"""Kernels register their entry points for a cell name; the numba backend serves exactly those.

A cell registered in the table with a numba kernel registered for its name is served by the
numba backend (sequence and compiled streaming step); without one it is declined by name.
"""

from __future__ import annotations

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.functional.cell_table import (
    CellSpec,
    cell_names,
    get_cell,
    register_cell,
    unregister_cell,
)
from rnnkit.kernels import LayerCall, explain, explain_step, select_backend
from rnnkit.kernels.cpu import compile as compiled
from rnnkit.kernels.cpu.backend import cell_kernel, register_cell_kernel, unregister_cell_kernel
from rnnkit.nn.streaming import _CACHE

NAME = "tanh_twin"


def _call(mode: str, grad: bool = True) -> LayerCall:
    return LayerCall(mode, "cpu", torch.float64, True, False, True, False, grad)


@pytest.fixture
def twin():
    """A copy of the tanh Elman cell under a new name (same reference step)."""
    tanh = get_cell("rnn_tanh")
    spec = register_cell(CellSpec(NAME, 1, ("h",), tanh.step, nonlinearity="tanh"))
    try:
        yield spec
    finally:
        unregister_cell_kernel(NAME)
        unregister_cell(NAME)


def test_every_built_in_cell_has_a_numba_kernel_with_a_step() -> None:
    for name in cell_names():
        kernel = cell_kernel(name)
        assert kernel is not None, name
        assert dict(explain(_call(name)))["numba"] is None, name
        assert kernel.step is not None, name


def test_kernel_signatures_are_read_off_parameter_names() -> None:
    from numba import types

    for family in ("elman", "gru", "lstm", "step", "products"):
        for name, dispatcher in compiled._dispatchers(family).items():
            signature = compiled.signature(dispatcher, types.float32)
            assert len(signature) == dispatcher.py_func.__code__.co_argcount, (family, name)
    with pytest.raises(ValueError, match=r"family must name a kernel module .*got 'nope'"):
        compiled.kernels("nope", torch.float32)


def test_a_cell_is_served_by_numba_once_a_kernel_is_registered_for_it(twin) -> None:
    assert dict(explain(_call(NAME)))["numba"] == f"has no kernel for mode {NAME!r}"
    assert select_backend(_call(NAME)).name == "reference"
    register_cell_kernel(NAME, cell_kernel("rnn_tanh"))  # the tanh kernel serves the twin
    assert select_backend(_call(NAME)).name == "numba"
    assert dict(explain_step(_call(NAME, grad=False)))["numba"] is None

    torch.manual_seed(0)
    layer = rnn.Recurrent(NAME, 3, 4, num_layers=2, dtype=torch.float64)
    reference = rnn.RNN(3, 4, num_layers=2, dtype=torch.float64, backend="reference")
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    out, h_n = layer(x)
    want, want_h = reference(x)
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(h_n, want_h)
    (g,) = torch.autograd.grad(out.sum(), x)
    (want_g,) = torch.autograd.grad(want.sum(), x)
    torch.testing.assert_close(g, want_g)
    with torch.no_grad():
        y0, state = layer.step(x[0].detach())
        y1, _ = layer.step(x[1].detach(), state)
    assert _CACHE in layer.__dict__  # the compiled step served it
    torch.testing.assert_close(torch.stack([y0, y1]), want[:2].detach())
