"""Synthetic long-range tasks, generated in code from a seed.

Everything here draws from its own ``torch.Generator`` seeded by ``seed``: the same arguments give
the same tensors on every machine, and the global RNGs are left alone.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Test MSE of always predicting 0 on the two-halves adding problem: Var(u1 + u2) = 2 · 1/3.
ADDING_ZERO_MSE = 2.0 / 3.0
#: A sequence of the adding problem counts as solved when |prediction − target| < 0.04.
ADDING_SOLVED_TOLERANCE = 0.04


def adding_problem(num_sequences: int, length: int, *, seed: int) -> tuple[Tensor, Tensor]:
    r"""The adding problem, two-halves variant (Hochreiter & Schmidhuber 1997).

    Every step has two inputs: a value u_t ~ U(−1, 1) and a marker m_t ∈ {0, 1}. Exactly one
    marker is 1 in the first half (t < ⌊T/2⌋) and one in the second half; the target is the sum
    of the two marked values,

    .. math::  y = \sum_t m_t u_t, \qquad \operatorname{Var}(y) = 2/3,

    so predicting 0 scores MSE ≈ 0.667 (:data:`ADDING_ZERO_MSE`); the first marker is at least
    ⌈T/2⌉ steps before the end, which is the long-range dependency.

    Args:
        num_sequences: N ≥ 1.
        length: T ≥ 2.
        seed: seed of the generator (same seed, same data).

    Returns:
        ``inputs`` (N, T, 2) float32 with ``[..., 0]`` the values and ``[..., 1]`` the markers,
        and ``targets`` (N,) float32.

    Example:
        >>> x, y = adding_problem(4, 10, seed=0)
        >>> x.shape, y.shape
        (torch.Size([4, 10, 2]), torch.Size([4]))
        >>> bool(torch.allclose((x[..., 0] * x[..., 1]).sum(1), y))
        True
    """
    for name, value, low in (("num_sequences", num_sequences, 1), ("length", length, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"adding_problem: {name} must be an int >= {low}, got {value!r}")
    g = torch.Generator().manual_seed(int(seed))
    N, T, half = num_sequences, length, length // 2
    values = torch.rand(N, T, generator=g) * 2 - 1  # (N, T) ~ U(−1, 1)
    first = torch.randint(0, half, (N,), generator=g)  # marker in [0, T/2)
    second = torch.randint(half, T, (N,), generator=g)  # marker in [T/2, T)
    markers = torch.zeros(N, T)
    rows = torch.arange(N)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]  # (N,)
    return torch.stack([values, markers], dim=-1), targets
