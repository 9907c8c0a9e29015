"""Synthetic long-range tasks, generated in code from a seed.

Everything here draws from its own ``torch.Generator`` seeded by ``seed``: the same arguments give
the same tensors on every machine, and the global RNGs are left alone.
"""

from __future__ import annotations

import math

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


def _check_counts(function: str, **values: int) -> None:
    for name, (value, low) in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{function}: {name} must be an int >= {low}, got {value!r}")


#: Copy memory: symbols 1..8 are data, 0 is blank and 9 the "recall now" delimiter.
COPY_BLANK, COPY_DELIMITER, COPY_SYMBOLS = 0, 9, 8


def copy_memory_baseline(delay: int, copy_length: int = 10, symbols: int = COPY_SYMBOLS) -> float:
    r"""Cross-entropy per step of the memoryless strategy on :func:`copy_memory`: blanks
    everywhere, then a uniform guess over the symbols for the ``copy_length`` recalled steps,

    .. math::  \frac{K \log S}{T + 2K}

    (Arjovsky et al. 2016), with T = ``delay``, K = ``copy_length``, S = ``symbols``.
    """
    return copy_length * math.log(symbols) / (delay + 2 * copy_length)


def copy_memory(num_sequences: int, delay: int, *, copy_length: int = 10,
                seed: int) -> tuple[Tensor, Tensor]:
    r"""Copy memory (Hochreiter & Schmidhuber 1997; the form of Arjovsky et al. 2016).

    A sequence of ``copy_length`` = K symbols drawn from {1, …, 8} is followed by T − 1 blanks
    (0), the delimiter 9, and K more blanks; the target is blank for the first T + K steps and
    the K symbols, in order, for the last K. Between seeing a symbol and recalling it lie
    T + K steps, which is the long-range dependency. The memoryless strategy scores the
    cross-entropy :func:`copy_memory_baseline`.

    Args:
        num_sequences: N ≥ 1.
        delay: T ≥ 1, the blank gap.
        copy_length: K ≥ 1.
        seed: seed of the generator (same seed, same data).

    Returns:
        ``inputs`` (N, T + 2K, 10) float32 one-hot over the ten symbols, and ``targets``
        (N, T + 2K) int64 class ids in 0..9, one per step (a tagging task).

    Example:
        >>> x, y = copy_memory(2, 5, copy_length=3, seed=0)
        >>> x.shape, y.shape
        (torch.Size([2, 11, 10]), torch.Size([2, 11]))
        >>> bool((y[:, -3:] == x[:, :3].argmax(-1)).all())
        True
    """
    _check_counts("copy_memory", num_sequences=(num_sequences, 1), delay=(delay, 1),
                  copy_length=(copy_length, 1))
    g = torch.Generator().manual_seed(int(seed))
    N, T, K = num_sequences, delay, copy_length
    data = torch.randint(1, COPY_SYMBOLS + 1, (N, K), generator=g)  # (N, K)
    ids = torch.full((N, T + 2 * K), COPY_BLANK, dtype=torch.long)
    ids[:, :K] = data
    ids[:, K + T - 1] = COPY_DELIMITER  # after T − 1 blanks
    targets = torch.full_like(ids, COPY_BLANK)
    targets[:, -K:] = data
    inputs = torch.nn.functional.one_hot(ids, COPY_DELIMITER + 1).float()
    return inputs, targets


#: Temporal order symbols: four distractors a–d, the relevant X and Y, start B and end E.
TEMPORAL_ORDER_SYMBOLS = ("a", "b", "c", "d", "X", "Y", "B", "E")


def temporal_order(num_sequences: int, length: int, *, seed: int) -> tuple[Tensor, Tensor]:
    r"""The temporal order problem (Hochreiter & Schmidhuber 1997, experiment 6a).

    A sequence starts with B and ends with E; between them every step is a random distractor
    from {a, b, c, d}, except two steps t₁ ∈ [0.1T, 0.2T] and t₂ ∈ [0.5T, 0.6T] (10–20 and 50–60
    at T = 100, as published) that hold X or Y. The class is the ordered pair of those two
    symbols — XX, XY, YX or YY (0–3) — so the network must keep what it saw at t₁ across
    distractors until the end; guessing scores accuracy 0.25. Published: LSTM solves it, the
    Elman RNN does not.

    Args:
        num_sequences: N ≥ 1.
        length: T ≥ 10.
        seed: seed of the generator.

    Returns:
        ``inputs`` (N, T, 8) float32 one-hot over :data:`TEMPORAL_ORDER_SYMBOLS` and ``labels``
        (N,) int64 in 0..3 (first symbol · 2 + second symbol, X = 0, Y = 1).
    """
    _check_counts("temporal_order", num_sequences=(num_sequences, 1), length=(length, 10))
    g = torch.Generator().manual_seed(int(seed))
    N, T = num_sequences, length
    ids = torch.randint(0, 4, (N, T), generator=g)  # distractors a–d
    ids[:, 0], ids[:, -1] = 6, 7  # B … E
    rows = torch.arange(N)
    lo1, hi1 = max(1, round(0.1 * T)), max(1, round(0.2 * T))
    lo2, hi2 = max(hi1 + 1, round(0.5 * T)), max(hi1 + 1, round(0.6 * T))
    hi2 = min(hi2, T - 2)
    t1 = torch.randint(lo1, hi1 + 1, (N,), generator=g)
    t2 = torch.randint(lo2, hi2 + 1, (N,), generator=g)
    first = torch.randint(0, 2, (N,), generator=g)
    second = torch.randint(0, 2, (N,), generator=g)
    ids[rows, t1] = 4 + first
    ids[rows, t2] = 4 + second
    inputs = torch.nn.functional.one_hot(ids, len(TEMPORAL_ORDER_SYMBOLS)).float()
    return inputs, first * 2 + second


def sequential_digits(*, per: str = "row", permute: bool = False,
                      seed: int = 0) -> tuple[Tensor, Tensor]:
    r"""Sequential digits: scikit-learn's 1,797 handwritten 8×8 digits read as sequences.

    ``per='row'`` gives one pixel row per step (T = 8, F = 8); ``per='pixel'`` one pixel per
    step (T = 64, F = 1), the small cousin of sequential MNIST (Le et al. 2015), where the
    class depends on pixels up to 64 steps back. ``permute=True`` applies one fixed random
    permutation of the pixels (seeded), which removes the local structure (permuted sequential
    MNIST). Intensities are scaled from 0..16 to [0, 1].

    Returns:
        ``inputs`` (1797, T, F) float32 and ``labels`` (1797,) int64 in 0..9.

    Raises:
        ValueError: ``per`` not 'row'/'pixel'; ``permute`` with ``per='row'``.
        ImportError: scikit-learn (which ships the digits) is not installed.
    """
    if per not in ("row", "pixel"):
        raise ValueError(f"sequential_digits: per must be 'row' or 'pixel', got {per!r}")
    if permute and per != "pixel":
        raise ValueError("sequential_digits: permute=True needs per='pixel' (a permutation of "
                         f"the 64 pixels), got per={per!r}")
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("sequential_digits reads the digits shipped with scikit-learn: "
                          "pip install 'rnnkit[tune]'") from exc
    digits = load_digits()
    pixels = torch.as_tensor(digits.data, dtype=torch.float32) / 16.0  # (N, 64)
    labels = torch.as_tensor(digits.target, dtype=torch.long)
    if per == "row":
        return pixels.reshape(-1, 8, 8), labels
    if permute:
        order = torch.randperm(64, generator=torch.Generator().manual_seed(int(seed)))
        pixels = pixels[:, order]
    return pixels.unsqueeze(-1), labels
