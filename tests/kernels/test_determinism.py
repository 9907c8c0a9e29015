"""Identical inputs give bitwise identical results; 1 and 2 threads agree within tolerance."""

from __future__ import annotations

import pytest
import torch

from rnnkit.kernels.cpu import parallel
from rnnkit.kernels.cpu.parallel import batch_slices
from tests.kernels.helpers import MODES, assert_results_close, random_state, run_layer

T, B, F, H = 20, 8, 6, 16
LENGTHS = torch.tensor([20, 3, 17, 20, 1, 9, 20, 12])


def _layer(mode: str):
    cls, _, extra = MODES[mode]
    return cls(F, H, num_layers=2, bidirectional=True, backend="numba", **extra)


@pytest.fixture
def split_always(monkeypatch):
    """Split the batch across threads whatever the amount of work (sizes here are tiny)."""
    monkeypatch.setattr(parallel, "MIN_WORK_PER_SLICE", 1)


def test_batch_slices() -> None:
    big = 10 * parallel.MIN_WORK_PER_SLICE
    assert batch_slices(B, big, threads=2) == [(0, 4), (4, 8)]
    assert batch_slices(7, big, threads=2) == [(0, 4), (4, 7)]
    assert batch_slices(B, big, threads=1) == [(0, 8)]
    assert batch_slices(1, big, threads=2) == [(0, 1)]
    assert batch_slices(3, 10.0, threads=2) == [(0, 3)]  # too little work to pay for a thread


@pytest.mark.parametrize("mode", list(MODES))
def test_same_inputs_give_bitwise_identical_results(mode, split_always) -> None:
    layer = _layer(mode)
    x = torch.randn(T, B, F)
    hx = random_state(layer, B, torch.float32)
    first = run_layer(layer, x, hx, LENGTHS)
    second = run_layer(layer, x, hx, LENGTHS)
    assert_results_close(second, first, 0.0, f"{mode} run twice")


@pytest.mark.parametrize("mode", list(MODES))
def test_one_and_two_threads_agree(mode, split_always) -> None:
    layer = _layer(mode)
    x = torch.randn(T, B, F)
    hx = random_state(layer, B, torch.float32)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = run_layer(layer, x, hx, LENGTHS)
        torch.set_num_threads(2)
        double = run_layer(layer, x, hx, LENGTHS)
    finally:
        torch.set_num_threads(threads)
    assert_results_close(double, single, 2e-5, f"{mode} 1 vs 2 threads")
