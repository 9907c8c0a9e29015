"""Peak resident memory added by one training step, torch vs rnnkit, each in a fresh process.

The child (:func:`step_peak_mb`, run through :mod:`rnnkit.bench.probe`) warms the layer up on a
tiny input, resets the peak (``VmHWM``, through ``/proc/self/clear_refs``) to the current
resident size, runs the step and reports the peak minus the resident size before it. Linux only:
elsewhere the value is NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

import rnnkit.nn as rnn
from rnnkit.bench.process import run_probe
from rnnkit.bench.results import Memory

#: A fixed mmap threshold makes glibc return every large block when it is freed, so the resident
#: size follows what is live (its default adapts and keeps freed blocks resident). It must be in
#: the environment when the child starts, hence a fresh process rather than a fork.
MMAP_THRESHOLD_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072"}


def _kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1])
    raise LookupError(key)


def step_peak_mb(impl: str, kind: str, shape: Sequence[int]) -> float | None:
    """MB of extra peak memory of one training step in *this* process (None without /proc).

    ``impl`` is ``'torch'`` or ``'rnnkit'``; ``shape`` is (B, T, F, H). Meant for a fresh
    process: in a used one, earlier peaks and cached blocks blur the number.
    """
    batch, steps, features, hidden = shape
    torch.manual_seed(0)
    if impl == "torch":
        layer = getattr(torch.nn, kind)(features, hidden)
    else:
        layer = getattr(rnn, kind)(features, hidden, backend="numba")
    small = torch.randn(3, 2, features)
    for _ in range(2):  # warm up on a tiny input: kernels loaded, thread pools started
        layer.zero_grad(set_to_none=True)
        out, _ = layer(small)
        out.sum().backward()
        del out
    layer.zero_grad(set_to_none=True)
    x = torch.randn(steps, batch, features)
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # reset the peak (VmHWM) to the current resident size
        before = _kib("VmRSS")
    except OSError:  # no /proc reset (not Linux)
        before = None
    out, _ = layer(x)
    out.sum().backward()
    return None if before is None else (_kib("VmHWM") - before) / 1024


def probe_memory(impl: str, kind: str, shape: tuple[int, int, int, int]) -> float:
    """:func:`step_peak_mb` in a fresh process; NaN where it cannot be measured."""
    mb = run_probe(["memory", impl, kind, *map(str, shape)],
                   f"memory probe {impl} {kind} {shape}", MMAP_THRESHOLD_ENV)["mb"]
    return float("nan") if mb is None else float(mb)


def measure_memory(kinds: Sequence[str], grid: Sequence[tuple[int, int, int, int]]) -> list[Memory]:
    """Peak extra resident memory (MB) of one training step, torch vs rnnkit, fresh processes."""
    return [
        Memory(kind, *shape, probe_memory("torch", kind, shape),
               probe_memory("rnnkit", kind, shape))
        for kind in kinds
        for shape in grid
    ]
