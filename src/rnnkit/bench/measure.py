"""In-process measurements: the sgemm peak, the torch-vs-rnnkit grid and streaming latency."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

import rnnkit.nn as rnn
from rnnkit.bench.cases import (
    STREAM_FEATURES,
    TASKS,
    gate_blocks,
    inference_flop,
    pair,
    torch_cell,
)
from rnnkit.bench.results import Streaming, Timing
from rnnkit.bench.timing import interleaved, repeats_for


def sgemm_peak(n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of ``torch.mm`` on n×n float32 matrices (median of ``repeats``)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    ms = interleaved({"mm": lambda: torch.mm(a, b)}, repeats)["mm"]
    return 2 * n**3 / (ms / 1e3) / 1e9


def time_grid(
    kinds: Sequence[str], grid: Sequence[tuple[int, int, int, int]], budget_s: float,
    low: int, high: int, progress: Callable[[str], None] | None = None,
) -> list[Timing]:
    """Interleaved torch-vs-rnnkit medians for every (kind, shape, task).

    The number of repeats of each case is what fits in ``budget_s`` (from one timed torch run),
    clamped to [low, high].
    """
    results = []
    for kind in kinds:
        for batch, steps, features, hidden in grid:
            torch.manual_seed(0)
            theirs, ours = pair(kind, features, hidden)
            x = torch.randn(steps, batch, features)
            flop = inference_flop(gate_blocks(theirs), batch, steps, features, hidden)
            for task, make, factor in TASKS:
                fns = {"torch": make(theirs, x), "rnnkit": make(ours, x)}
                repeats = repeats_for(fns["torch"], budget_s, low, high)
                ms = interleaved(fns, repeats)
                result = Timing(kind, batch, steps, features, hidden, task, ms["torch"],
                                ms["rnnkit"], factor * flop / 1e9)
                results.append(result)
                if progress:
                    progress(f"{kind} {task} B={batch} T={steps} F={features} H={hidden}: "
                             f"torch {result.torch_ms:.2f} ms, rnnkit {result.rnnkit_ms:.2f} ms "
                             f"({result.ratio:.2f}x)")
    return results


def time_streaming(kinds: Sequence[str], hiddens: Sequence[int],
                   features: int = STREAM_FEATURES, steps: int = 2000,
                   repeats: int = 5) -> list[Streaming]:
    """Microseconds per step at B = 1: ``layer.step`` vs torch's cell, interleaved."""
    results = []
    for kind in kinds:
        for hidden in hiddens:
            torch.manual_seed(0)
            layer = getattr(rnn, kind)(features, hidden).eval()
            cell = torch_cell(kind, features, hidden)
            xs = torch.randn(steps, 1, features)

            def ours(layer=layer, xs=xs) -> None:
                state = None
                with torch.no_grad():
                    for x in xs:
                        _, state = layer.step(x, state)

            def theirs(cell=cell, xs=xs) -> None:
                state = None
                with torch.no_grad():
                    for x in xs:
                        state = cell(x, state)

            def stateful(layer=layer, xs=xs[:, 0]) -> None:
                stream = layer.stream()
                for x in xs:
                    stream.step(x)

            ms = interleaved({"torch": theirs, "rnnkit": ours, "stream": stateful}, repeats)
            results.append(Streaming(kind, hidden, ms["torch"] * 1e3 / steps,
                                     ms["rnnkit"] * 1e3 / steps, ms["stream"] * 1e3 / steps))
    return results
