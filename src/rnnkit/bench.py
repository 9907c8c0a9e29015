"""Benchmarks: rnnkit's kernels against torch, measured in one process with interleaved runs.

What is measured (float32, default threads, CPU):

* **sgemm peak** — ``torch.mm`` of two n×n matrices, the machine's own matrix-product ceiling in
  this run; every GFLOP/s figure is also given as a share of it.
* **grid** — for RNN (tanh), LSTM and GRU and each (B, T, F, H) of :data:`GRID`: inference
  (``torch.no_grad()`` forward) and training (forward + backward of ``output.sum()``; the input
  does not require grad) of ``torch.nn.<kind>`` and ``rnnkit.nn.<kind>`` holding the same
  weights. The two are run alternately, ``repeats`` times each after a warm-up, and the medians
  are compared: ratio = torch ms / rnnkit ms (> 1 means rnnkit is faster).
  FLOPs: inference 2·T·B·G·H·(F + H) (G = 1, 4, 3 gate blocks; pointwise work not counted),
  training 3× that (the backward does two products for each forward one).
* **streaming** — per step at B = 1, under ``torch.no_grad()``: torch's cell
  (``nn.RNNCell``/``LSTMCell``/``GRUCell``) called with the carried state, rnnkit's functional
  ``layer.step(x_t, state)`` (new tensors every step) and its stateful ``layer.stream()``
  (state kept in internal buffers, no allocation per step).
* **memory** — peak resident memory added by one training step (forward + backward, gradients
  of the parameters included), each measured in a fresh process after warm-up steps on a tiny
  input: the peak resident size (``VmHWM``, reset through ``/proc/self/clear_refs`` just before
  the step) minus the resident size before it, with glibc's mmap threshold fixed so that freed
  blocks leave. Linux only.
* **compilation** — with ``compile_times=True``: the first-use compile of every kernel into an
  empty cache, and the load from that cache by a second process.

``run_benchmarks`` returns the numbers; ``format_report`` renders them as text or Markdown.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch

import rnnkit.nn as rnn

GRID: tuple[tuple[int, int, int, int], ...] = (
    (1, 1000, 16, 64),
    (8, 500, 32, 64),
    (32, 100, 32, 64),
    (64, 200, 64, 128),
    (32, 100, 128, 256),
    (128, 50, 256, 512),
    (16, 1000, 64, 128),
)
QUICK_GRID: tuple[tuple[int, int, int, int], ...] = ((8, 500, 32, 64), (64, 200, 64, 128))
KINDS = ("RNN", "LSTM", "GRU")
_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
_CELLS = {"RNN": "RNNCell", "LSTM": "LSTMCell", "GRU": "GRUCell"}


@dataclass
class Timing:
    """One (kind, shape, task) comparison; times are medians in milliseconds."""

    kind: str
    batch: int
    steps: int
    features: int
    hidden: int
    task: str  # 'inference' or 'training'
    torch_ms: float
    rnnkit_ms: float
    gflop: float

    @property
    def ratio(self) -> float:
        return self.torch_ms / self.rnnkit_ms

    @property
    def rnnkit_gflops(self) -> float:
        return self.gflop / (self.rnnkit_ms / 1e3)

    @property
    def torch_gflops(self) -> float:
        return self.gflop / (self.torch_ms / 1e3)


@dataclass
class Streaming:
    """µs per step: torch's cell, ``layer.step`` (functional) and ``layer.stream()`` (stateful)."""

    kind: str
    hidden: int
    torch_us: float
    rnnkit_us: float
    stream_us: float


@dataclass
class Memory:
    kind: str
    batch: int
    steps: int
    features: int
    hidden: int
    torch_mb: float
    rnnkit_mb: float


@dataclass
class Report:
    threads: int
    sgemm_peak_gflops: float
    timings: list[Timing] = field(default_factory=list)
    streaming: list[Streaming] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    compile_seconds: dict[str, float] = field(default_factory=dict)
    machine: str = ""
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)  # os.getloadavg() at the start
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)


def _median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1e3


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median milliseconds of each function, run alternately ``repeats`` times after a warm-up."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: _median_ms(t) for name, t in times.items()}


def sgemm_peak(n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of ``torch.mm`` on n×n float32 matrices (median of ``repeats``)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    ms = interleaved({"mm": lambda: torch.mm(a, b)}, repeats)["mm"]
    return 2 * n**3 / (ms / 1e3) / 1e9


def _pair(kind: str, features: int, hidden: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    theirs = getattr(torch.nn, kind)(features, hidden)
    ours = getattr(rnn, kind)(features, hidden, backend="numba")
    ours.load_state_dict(theirs.state_dict())
    return theirs, ours


def _training_step(layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        layer.zero_grad(set_to_none=True)
        out, _ = layer(x)
        out.sum().backward()

    return step


def _inference(layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def forward() -> None:
        with torch.no_grad():
            layer(x)

    return forward


def _repeats(fn: Callable[[], object], budget_s: float, low: int, high: int) -> int:
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    return max(low, min(high, int(budget_s / max(once, 1e-6))))


def time_grid(
    kinds: Sequence[str], grid: Sequence[tuple[int, int, int, int]], budget_s: float,
    low: int, high: int, progress: Callable[[str], None] | None = None,
) -> list[Timing]:
    """Interleaved torch-vs-rnnkit medians for every (kind, shape, task)."""
    results = []
    for kind in kinds:
        for batch, steps, features, hidden in grid:
            torch.manual_seed(0)
            theirs, ours = _pair(kind, features, hidden)
            x = torch.randn(steps, batch, features)
            flop = 2.0 * steps * batch * _GATES[kind] * hidden * (features + hidden)
            for task, make, factor in (("inference", _inference, 1), ("training",
                                       _training_step, 3)):
                fns = {"torch": make(theirs, x), "rnnkit": make(ours, x)}
                repeats = _repeats(fns["torch"], budget_s, low, high)
                ms = interleaved(fns, repeats)
                result = Timing(kind, batch, steps, features, hidden, task, ms["torch"],
                                ms["rnnkit"], factor * flop / 1e9)
                results.append(result)
                if progress:
                    progress(f"{kind} {task} B={batch} T={steps} F={features} H={hidden}: "
                             f"torch {result.torch_ms:.2f} ms, rnnkit {result.rnnkit_ms:.2f} ms "
                             f"({result.ratio:.2f}x)")
    return results


def time_streaming(kinds: Sequence[str], hiddens: Sequence[int], features: int = 32,
                   steps: int = 2000) -> list[Streaming]:
    """Microseconds per step at B = 1: ``layer.step`` vs torch's cell, interleaved."""
    results = []
    for kind in kinds:
        for hidden in hiddens:
            torch.manual_seed(0)
            layer = getattr(rnn, kind)(features, hidden).eval()
            cell = getattr(torch.nn, _CELLS[kind])(features, hidden)
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

            ms = interleaved({"torch": theirs, "rnnkit": ours, "stream": stateful}, 5)
            results.append(Streaming(kind, hidden, ms["torch"] * 1e3 / steps,
                                     ms["rnnkit"] * 1e3 / steps, ms["stream"] * 1e3 / steps))
    return results


_MEMORY_PROBE = """
import json, sys, torch
import rnnkit.nn as rnn


def kib(key):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1])
    raise LookupError(key)


impl, kind, B, T, F, H = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
torch.manual_seed(0)
if impl == "torch":
    layer = getattr(torch.nn, kind)(F, H)
else:
    layer = getattr(rnn, kind)(F, H, backend="numba")
small = torch.randn(3, 2, F)
for _ in range(2):  # warm up on a tiny input: kernels loaded, thread pools started
    layer.zero_grad(set_to_none=True)
    out, _ = layer(small)
    out.sum().backward()
    del out
layer.zero_grad(set_to_none=True)
x = torch.randn(T, B, F)
try:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak (VmHWM) to the current resident size
    before, key = kib("VmRSS"), "VmHWM"
except OSError:  # no /proc reset (not Linux): fall back to the lifetime peak
    before, key = None, None
out, _ = layer(x)
out.sum().backward()
if key is None:
    print(json.dumps({"mb": None}))
else:
    print(json.dumps({"mb": (kib(key) - before) / 1024}))
"""


def _probe_memory(impl: str, kind: str, shape: tuple[int, int, int, int]) -> float:
    # A fixed mmap threshold makes glibc return every large block when it is freed, so the
    # resident size follows what is live (its default adapts and keeps freed blocks resident).
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_MEMORY_PROBE), impl, kind, *map(str, shape)],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory probe {impl} {kind} {shape} failed:\n{done.stderr}")
    mb = json.loads(done.stdout.strip().splitlines()[-1])["mb"]
    return float("nan") if mb is None else float(mb)


def measure_memory(kinds: Sequence[str], grid: Sequence[tuple[int, int, int, int]]) -> list[Memory]:
    """Peak extra resident memory (MB) of one training step, torch vs rnnkit, fresh processes."""
    return [
        Memory(kind, *shape, _probe_memory("torch", kind, shape), _probe_memory("rnnkit", kind,
               shape))
        for kind in kinds
        for shape in grid
    ]


_COMPILE_PROBE = """
import json, time, torch
t0 = time.perf_counter()
from rnnkit.kernels.cpu import compile as compiled
t1 = time.perf_counter()
for family in ("elman", "gru", "lstm", "step", "products"):
    compiled.kernels(family, torch.float32)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "kernels": t2 - t1,
                  "compiled": any(c for _, c in compiled.timings.values())}))
"""


def measure_compile() -> dict[str, float]:
    """Seconds to prepare all float32 kernels: into an empty disk cache, then from it."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = {}
        for label in ("cold", "cached"):
            done = subprocess.run([sys.executable, "-c", textwrap.dedent(_COMPILE_PROBE)],
                                  capture_output=True, text=True, env=env, timeout=900,
                                  check=False)
            if done.returncode != 0:
                raise RuntimeError(f"compile probe failed:\n{done.stderr}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            out[label] = result["kernels"]
        return out


def run_benchmarks(
    quick: bool = False,
    kinds: Sequence[str] = KINDS,
    memory: bool = True,
    compile_times: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Run the benchmarks; ``quick`` uses :data:`QUICK_GRID` and fewer repeats (~1 minute)."""
    import platform

    grid = QUICK_GRID if quick else GRID
    say = progress or (lambda message: None)
    say("measuring sgemm peak")
    load = os.getloadavg()
    report = Report(threads=torch.get_num_threads(),
                    sgemm_peak_gflops=sgemm_peak(repeats=3 if quick else 7),
                    machine=f"{platform.processor() or platform.machine()}, "
                    f"{os.cpu_count()} CPUs", load_before=load)
    say("warming up the kernels (first use compiles or loads them)")
    for kind in kinds:
        _, ours = _pair(kind, 4, 4)
        out, _ = ours(torch.randn(2, 2, 4))
        out.sum().backward()
    report.timings = time_grid(kinds, grid, budget_s=1.0 if quick else 4.0,
                               low=3 if quick else 5, high=10 if quick else 30, progress=say)
    say("streaming latency")
    report.streaming = time_streaming(kinds, (64, 256), steps=500 if quick else 2000)
    if memory:
        say("peak memory of a training step (fresh processes)")
        report.memory = measure_memory(kinds, grid[-1:] if quick else grid)
    if compile_times:
        say("compile times (empty cache, then cached)")
        report.compile_seconds = measure_compile()
    report.load_after = os.getloadavg()
    return report


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    return "\n".join([fmt.format(*headers), *(fmt.format(*r) for r in rows)])


def format_report(report: Report, markdown: bool = False) -> str:
    """The report as aligned text (or Markdown tables)."""
    peak = report.sgemm_peak_gflops
    load = "/".join(f"{v:.1f}" for v in report.load_before)
    load_end = "/".join(f"{v:.1f}" for v in report.load_after)
    out = [f"threads: {report.threads}; machine: {report.machine}; load average (1/5/15 min) "
           f"{load} at the start, {load_end} at the end; "
           f"sgemm peak (torch.mm 2048³): {peak:.1f} GFLOP/s", ""]
    rows = []
    for t in report.timings:
        rows.append([t.kind, t.task, str(t.batch), str(t.steps), str(t.features), str(t.hidden),
                     f"{t.torch_ms:.2f}", f"{t.rnnkit_ms:.2f}", f"{t.ratio:.2f}",
                     f"{t.torch_gflops:.1f}", f"{t.rnnkit_gflops:.1f}",
                     f"{100 * t.rnnkit_gflops / peak:.0f}%"])
    out.append(_table(["layer", "task", "B", "T", "F", "H", "torch ms", "rnnkit ms",
                       "torch/rnnkit", "torch GFLOP/s", "rnnkit GFLOP/s", "rnnkit % peak"],
                      rows, markdown))
    summary = []
    for kind in sorted({t.kind for t in report.timings}):
        for task in ("inference", "training"):
            ratios = [t.ratio for t in report.timings if t.kind == kind and t.task == task]
            small = [t.ratio for t in report.timings
                     if t.kind == kind and t.task == task and t.batch <= 8]
            if ratios:
                summary.append([kind, task, f"{statistics.median(ratios):.2f}",
                                f"{min(ratios):.2f}",
                                f"{min(small):.2f}" if small else "-"])
    out += ["", _table(["layer", "task", "median torch/rnnkit", "worst", "worst at B ≤ 8"],
                       summary, markdown)]
    if report.streaming:
        rows = [[s.kind, str(s.hidden), f"{s.torch_us:.2f}", f"{s.rnnkit_us:.2f}",
                 f"{s.stream_us:.2f}", f"{s.torch_us / s.rnnkit_us:.1f}",
                 f"{s.torch_us / s.stream_us:.1f}"] for s in report.streaming]
        out += ["", "streaming, B = 1, F = 32, µs per step (torch: its cell)",
                _table(["layer", "H", "torch cell µs", "layer.step µs", "layer.stream µs",
                        "torch/step", "torch/stream"], rows, markdown)]
    if report.memory:
        rows = [[m.kind, str(m.batch), str(m.steps), str(m.features), str(m.hidden),
                 f"{m.torch_mb:.1f}", f"{m.rnnkit_mb:.1f}"] for m in report.memory]
        out += ["", "peak extra memory of one training step (MB, fresh process each)",
                _table(["layer", "B", "T", "F", "H", "torch MB", "rnnkit MB"], rows, markdown)]
    if report.compile_seconds:
        c = report.compile_seconds
        out += ["", f"kernel preparation, all float32 kernels: {c['cold']:.1f} s compiling into "
                f"an empty cache, {c['cached']:.2f} s loading from it in a new process"]
    return "\n".join(out)


def report_json(report: Report) -> str:
    """The raw numbers as JSON (derived ratios included)."""
    data = asdict(report)
    for t, raw in zip(report.timings, data["timings"], strict=True):
        raw.update(ratio=t.ratio, rnnkit_gflops=t.rnnkit_gflops, torch_gflops=t.torch_gflops)
    return json.dumps(data, indent=2)
