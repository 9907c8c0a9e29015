"""The printed report and the JSON of given measurements (the format ``rnnkit bench`` prints)."""

from __future__ import annotations

import json

import pytest

from rnnkit.bench import Memory, Report, Streaming, Timing, format_report, report_json
from rnnkit.bench.report import table


@pytest.fixture
def report() -> Report:
    r = Report(threads=2, sgemm_peak_gflops=100.0, machine="x86_64, 2 CPUs",
               load_before=(1.0, 0.5, 0.25), load_after=(2.0, 1.25, 0.5))
    r.timings = [
        Timing("GRU", 8, 500, 32, 64, "inference", 4.0, 2.0, 0.1),
        Timing("GRU", 8, 500, 32, 64, "training", 9.0, 3.0, 0.3),
        Timing("GRU", 64, 200, 64, 128, "inference", 10.0, 8.0, 2.0),
        Timing("GRU", 64, 200, 64, 128, "training", 30.0, 40.0, 6.0),
        Timing("LSTM", 64, 200, 64, 128, "training", 12.0, 10.0, 8.0),
    ]
    r.streaming = [Streaming("GRU", 64, 30.0, 10.0, 5.0)]
    r.memory = [Memory("GRU", 64, 200, 64, 128, 50.25, 20.5)]
    r.compile_seconds = {"cold": 12.34, "cached": 0.456}
    return r


TEXT = """\
threads: 2; machine: x86_64, 2 CPUs; load average (1/5/15 min) 1.0/0.5/0.2 at the start, \
2.0/1.2/0.5 at the end; sgemm peak (torch.mm 2048³): 100.0 GFLOP/s

layer       task   B    T   F    H  torch ms  rnnkit ms  torch/rnnkit  torch GFLOP/s  \
rnnkit GFLOP/s  rnnkit % peak
  GRU  inference   8  500  32   64      4.00       2.00          2.00           25.0  \
          50.0            50%
  GRU   training   8  500  32   64      9.00       3.00          3.00           33.3  \
         100.0           100%
  GRU  inference  64  200  64  128     10.00       8.00          1.25          200.0  \
         250.0           250%
  GRU   training  64  200  64  128     30.00      40.00          0.75          200.0  \
         150.0           150%
 LSTM   training  64  200  64  128     12.00      10.00          1.20          666.7  \
         800.0           800%

layer       task  median torch/rnnkit  worst  worst at B ≤ 8
  GRU  inference                 1.62   1.25            2.00
  GRU   training                 1.88   0.75            3.00
 LSTM   training                 1.20   1.20               -

streaming, B = 1, F = 32, µs per step (torch: its cell)
layer   H  torch cell µs  layer.step µs  layer.stream µs  torch/step  torch/stream
  GRU  64          30.00          10.00             5.00         3.0           6.0

peak extra memory of one training step (MB, fresh process each)
layer   B    T   F    H  torch MB  rnnkit MB
  GRU  64  200  64  128      50.2       20.5

kernel preparation, all float32 kernels: 12.3 s compiling into an empty cache, 0.46 s loading \
from it in a new process"""


def test_text_report(report: Report) -> None:
    assert format_report(report) == TEXT


def test_markdown_report(report: Report) -> None:
    lines = format_report(report, markdown=True).splitlines()
    assert lines[2] == ("| layer | task | B | T | F | H | torch ms | rnnkit ms | torch/rnnkit | "
                        "torch GFLOP/s | rnnkit GFLOP/s | rnnkit % peak |")
    assert lines[3] == "|" + "|".join(["---"] * 12) + "|"
    assert lines[4] == ("| GRU | inference | 8 | 500 | 32 | 64 | 4.00 | 2.00 | 2.00 | 25.0 | "
                        "50.0 | 50% |")
    assert "| LSTM | training | 1.20 | 1.20 | - |" in lines
    assert "| GRU | 64 | 30.00 | 10.00 | 5.00 | 3.0 | 6.0 |" in lines
    assert "| GRU | 64 | 200 | 64 | 128 | 50.2 | 20.5 |" in lines


def test_optional_sections_are_left_out() -> None:
    text = format_report(Report(threads=1, sgemm_peak_gflops=50.0))
    assert text.splitlines() == [
        "threads: 1; machine: ; load average (1/5/15 min) 0.0/0.0/0.0 at the start, "
        "0.0/0.0/0.0 at the end; sgemm peak (torch.mm 2048³): 50.0 GFLOP/s",
        "",
        "layer  task  B  T  F  H  torch ms  rnnkit ms  torch/rnnkit  torch GFLOP/s  "
        "rnnkit GFLOP/s  rnnkit % peak",
        "",
        "layer  task  median torch/rnnkit  worst  worst at B ≤ 8",
    ]


def test_json_has_the_raw_numbers_and_the_derived_ones(report: Report) -> None:
    data = json.loads(report_json(report))
    assert data["threads"] == 2 and data["sgemm_peak_gflops"] == 100.0
    assert data["load_before"] == [1.0, 0.5, 0.25]
    first = data["timings"][0]
    assert first == {"kind": "GRU", "batch": 8, "steps": 500, "features": 32, "hidden": 64,
                     "task": "inference", "torch_ms": 4.0, "rnnkit_ms": 2.0, "gflop": 0.1,
                     "ratio": 2.0, "rnnkit_gflops": pytest.approx(50.0),
                     "torch_gflops": pytest.approx(25.0)}
    assert data["streaming"] == [{"kind": "GRU", "hidden": 64, "torch_us": 30.0,
                                  "rnnkit_us": 10.0, "stream_us": 5.0}]
    assert data["memory"][0]["torch_mb"] == 50.25
    assert data["compile_seconds"] == {"cold": 12.34, "cached": 0.456}


def test_table_aligns_right_or_renders_markdown() -> None:
    rows = [["a", "1.5"], ["bbb", "22"]]
    assert table(["x", "value"], rows, markdown=False) == "  x  value\n  a    1.5\nbbb     22"
    assert table(["x", "value"], rows, markdown=True) == (
        "| x | value |\n|---|---|\n| a | 1.5 |\n| bbb | 22 |")
