"""Rendering a :class:`~rnnkit.bench.results.Report`: aligned text or Markdown tables, and JSON."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict

from rnnkit.bench.cases import STREAM_FEATURES
from rnnkit.bench.results import Report


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    """Right-aligned columns separated by two spaces, or a Markdown table."""
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
    out.append(table(["layer", "task", "B", "T", "F", "H", "torch ms", "rnnkit ms",
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
    out += ["", table(["layer", "task", "median torch/rnnkit", "worst", "worst at B ≤ 8"],
                      summary, markdown)]
    if report.streaming:
        rows = [[s.kind, str(s.hidden), f"{s.torch_us:.2f}", f"{s.rnnkit_us:.2f}",
                 f"{s.stream_us:.2f}", f"{s.torch_us / s.rnnkit_us:.1f}",
                 f"{s.torch_us / s.stream_us:.1f}"] for s in report.streaming]
        out += ["", f"streaming, B = 1, F = {STREAM_FEATURES}, µs per step (torch: its cell)",
                table(["layer", "H", "torch cell µs", "layer.step µs", "layer.stream µs",
                       "torch/step", "torch/stream"], rows, markdown)]
    if report.memory:
        rows = [[m.kind, str(m.batch), str(m.steps), str(m.features), str(m.hidden),
                 f"{m.torch_mb:.1f}", f"{m.rnnkit_mb:.1f}"] for m in report.memory]
        out += ["", "peak extra memory of one training step (MB, fresh process each)",
                table(["layer", "B", "T", "F", "H", "torch MB", "rnnkit MB"], rows, markdown)]
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
