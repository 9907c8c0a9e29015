"""minGRU/minLSTM against torch's LSTM and GRU of the same hidden size (``rnnkit bench --minimal``).

The claim being checked (issue 16): a minimal cell trains at least 10× faster than
``torch.nn.LSTM`` at T = 1000, B = 16, F = 64, H = 256, because all its matrix products over a
sequence are one product and only an elementwise scan is left over time. Every contender is run
alternately in one process after a warm-up (:func:`rnnkit.bench.timing.interleaved`), medians are
compared: ratio = torch LSTM ms / contender ms (> 1: faster than torch's LSTM).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

import rnnkit.nn as rnn
from rnnkit.bench.cases import inference, training_step
from rnnkit.bench.report import table
from rnnkit.bench.timing import interleaved

#: (B, T, F, H) of the issue's target shape.
MINIMAL_SHAPE = (16, 1000, 64, 256)


@dataclass
class MinimalTiming:
    """Median ms of one contender and task, and its ratio against torch's LSTM."""

    name: str
    task: str  # 'inference' or 'training'
    ms: float
    vs_torch_lstm: float


def contenders(features: int, hidden: int) -> dict[str, torch.nn.Module]:
    """torch's LSTM and GRU, and rnnkit's MinGRU and MinLSTM (auto backend: numba on the CPU)."""
    return {
        "torch.nn.LSTM": torch.nn.LSTM(features, hidden),
        "torch.nn.GRU": torch.nn.GRU(features, hidden),
        "rnnkit.nn.MinGRU": rnn.MinGRU(features, hidden),
        "rnnkit.nn.MinLSTM": rnn.MinLSTM(features, hidden),
    }


def time_minimal(shape: tuple[int, int, int, int] = MINIMAL_SHAPE,
                 repeats: int = 7) -> list[MinimalTiming]:
    """Interleaved medians of every contender, inference and training, at ``shape`` (B, T, F, H)."""
    batch, steps, features, hidden = shape
    torch.manual_seed(0)
    layers = contenders(features, hidden)
    x = torch.randn(steps, batch, features)
    results = []
    for task, make in (("inference", inference), ("training", training_step)):
        ms = interleaved({name: make(layer, x) for name, layer in layers.items()}, repeats)
        base = ms["torch.nn.LSTM"]
        results += [MinimalTiming(name, task, t, base / t) for name, t in ms.items()]
    return results


def format_minimal(results: list[MinimalTiming], shape: tuple[int, int, int, int],
                   markdown: bool = False) -> str:
    """The table of :func:`time_minimal` as text or Markdown."""
    batch, steps, features, hidden = shape
    title = f"B={batch} T={steps} F={features} H={hidden}, float32, median ms"
    head = ("layer", "task", "ms", "vs torch LSTM")
    rows = [(r.name, r.task, f"{r.ms:.1f}", f"{r.vs_torch_lstm:.1f}x") for r in results]
    return (f"**{title}**\n\n" if markdown else f"{title}\n") + table(head, rows, markdown)
