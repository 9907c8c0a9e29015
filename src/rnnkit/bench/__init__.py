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

Modules, one job each:

* :mod:`~rnnkit.bench.cases` — what is benchmarked: :data:`KINDS` (the one list of cells),
  :data:`GRID`, :data:`QUICK_GRID`, the torch/rnnkit layer pairs, the timed closures, FLOPs.
* :mod:`~rnnkit.bench.timing` — warm-up, interleaved repeats, medians (the clock is injectable).
* :mod:`~rnnkit.bench.measure` — in-process measurements: sgemm peak, grid, streaming.
* :mod:`~rnnkit.bench.memory` and :mod:`~rnnkit.bench.compiletime` — the fresh-process
  measurements, run through :mod:`~rnnkit.bench.probe` (``python -m rnnkit.bench.probe``) by
  :mod:`~rnnkit.bench.process`.
* :mod:`~rnnkit.bench.results` — the records; :mod:`~rnnkit.bench.report` — text, Markdown, JSON.
* :mod:`~rnnkit.bench.suite` — :func:`run_benchmarks`, the whole run in order.
"""

from rnnkit.bench.cases import GRID, KINDS, QUICK_GRID
from rnnkit.bench.compiletime import measure_compile
from rnnkit.bench.measure import sgemm_peak, time_grid, time_streaming
from rnnkit.bench.memory import measure_memory
from rnnkit.bench.report import format_report, report_json
from rnnkit.bench.results import Memory, Report, Streaming, Timing
from rnnkit.bench.suite import run_benchmarks
from rnnkit.bench.timing import interleaved

__all__ = [
    "GRID",
    "KINDS",
    "QUICK_GRID",
    "Memory",
    "Report",
    "Streaming",
    "Timing",
    "format_report",
    "interleaved",
    "measure_compile",
    "measure_memory",
    "report_json",
    "run_benchmarks",
    "sgemm_peak",
    "time_grid",
    "time_streaming",
]
