"""What is benchmarked: the layers, the shapes, and the torch-vs-rnnkit pairs that are timed.

:data:`KINDS` is the one list of benchmarked cells; everything else (the CLI's ``--layers``
choices, the torch cell used for streaming, the gate count in the FLOP formula) follows from it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

import rnnkit.nn as rnn

#: The benchmarked layers: names shared by ``torch.nn`` and ``rnnkit.nn`` (cells: name + "Cell").
KINDS: tuple[str, ...] = ("RNN", "LSTM", "GRU")

#: (B, T, F, H) of the full grid.
GRID: tuple[tuple[int, int, int, int], ...] = (
    (1, 1000, 16, 64),
    (8, 500, 32, 64),
    (32, 100, 32, 64),
    (64, 200, 64, 128),
    (32, 100, 128, 256),
    (128, 50, 256, 512),
    (16, 1000, 64, 128),
)
#: (B, T, F, H) of ``--quick``.
QUICK_GRID: tuple[tuple[int, int, int, int], ...] = ((8, 500, 32, 64), (64, 200, 64, 128))

#: Hidden sizes and input width of the streaming latency (B = 1).
STREAM_HIDDENS: tuple[int, ...] = (64, 256)
STREAM_FEATURES = 32


def pair(kind: str, features: int, hidden: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    """``torch.nn.<kind>`` and ``rnnkit.nn.<kind>`` (numba backend) holding the same weights."""
    theirs = getattr(torch.nn, kind)(features, hidden)
    ours = getattr(rnn, kind)(features, hidden, backend="numba")
    ours.load_state_dict(theirs.state_dict())
    return theirs, ours


def torch_cell(kind: str, features: int, hidden: int) -> torch.nn.Module:
    """torch's single-step cell for ``kind`` (``nn.RNNCell``, ``nn.LSTMCell``, ``nn.GRUCell``)."""
    return getattr(torch.nn, f"{kind}Cell")(features, hidden)


def gate_blocks(layer: torch.nn.Module) -> int:
    """Gate blocks G of a torch recurrent layer (1 RNN, 4 LSTM, 3 GRU), read off its weights."""
    return layer.weight_ih_l0.shape[0] // layer.hidden_size


def inference_flop(gates: int, batch: int, steps: int, features: int, hidden: int) -> float:
    """Matrix-product FLOPs of one forward: 2·T·B·G·H·(F + H); pointwise work not counted."""
    return 2.0 * steps * batch * gates * hidden * (features + hidden)


def inference(layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """A forward of ``layer`` on ``x`` under ``torch.no_grad()``."""

    def forward() -> None:
        with torch.no_grad():
            layer(x)

    return forward


def training_step(layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """Forward + backward of ``output.sum()`` (``x`` does not require grad)."""

    def step() -> None:
        layer.zero_grad(set_to_none=True)
        out, _ = layer(x)
        out.sum().backward()

    return step


#: (task, closure maker, FLOPs as a multiple of the forward's): backward does two products for
#: each forward one.
TASKS = (("inference", inference, 1), ("training", training_step, 3))
