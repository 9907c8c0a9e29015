"""One benchmark run: every measurement in order, under the settings of ``--quick`` or not."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence

import torch

from rnnkit.bench.cases import GRID, KINDS, QUICK_GRID, STREAM_HIDDENS, pair
from rnnkit.bench.compiletime import measure_compile
from rnnkit.bench.measure import sgemm_peak, time_grid, time_streaming
from rnnkit.bench.memory import measure_memory
from rnnkit.bench.results import Report


def warm_up(kinds: Sequence[str]) -> None:
    """One tiny training step of each rnnkit layer, so first-use compiles or loads are not timed."""
    for kind in kinds:
        _, ours = pair(kind, 4, 4)
        out, _ = ours(torch.randn(2, 2, 4))
        out.sum().backward()


def run_benchmarks(
    quick: bool = False,
    kinds: Sequence[str] = KINDS,
    memory: bool = True,
    compile_times: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Run the benchmarks; ``quick`` uses :data:`QUICK_GRID` and fewer repeats (~1 minute)."""
    grid = QUICK_GRID if quick else GRID
    say = progress or (lambda message: None)
    say("measuring sgemm peak")
    load = os.getloadavg()
    report = Report(threads=torch.get_num_threads(),
                    sgemm_peak_gflops=sgemm_peak(repeats=3 if quick else 7),
                    machine=f"{platform.processor() or platform.machine()}, "
                    f"{os.cpu_count()} CPUs", load_before=load)
    say("warming up the kernels (first use compiles or loads them)")
    warm_up(kinds)
    report.timings = time_grid(kinds, grid, budget_s=1.0 if quick else 4.0,
                               low=3 if quick else 5, high=10 if quick else 30, progress=say)
    say("streaming latency")
    report.streaming = time_streaming(kinds, STREAM_HIDDENS, steps=500 if quick else 2000)
    if memory:
        say("peak memory of a training step (fresh processes)")
        report.memory = measure_memory(kinds, grid[-1:] if quick else grid)
    if compile_times:
        say("compile times (empty cache, then cached)")
        report.compile_seconds = measure_compile()
    report.load_after = os.getloadavg()
    return report
