"""Per-step latency of streaming inference: ``layer.stream().step`` and ``layer.step``.

Usage:
    python benchmarks/streaming_latency.py                     # B=1, F=32, H=64, one thread
    python benchmarks/streaming_latency.py --hidden 128 --rounds 15
    PYTHONPATH=/path/to/other/checkout/src python benchmarks/streaming_latency.py   # compare

Each round times ``--steps`` calls of each API back to back (stream, then layer.step feeding its
own state), after a warm-up; the table gives the median over rounds of the time per step, in
two clocks:

* **thread CPU time** (``time.thread_time_ns``): what this thread spent running, so the time
  the scheduler gave other processes is left out — on a shared machine this is the number that
  says what the code costs;
* **wall time** (``time.perf_counter_ns``): what a caller waits, including being descheduled.

On an idle machine the two agree; their gap is the load. torch's tensor allocation (~0.85 µs
each here) is part of ``layer.step`` (it returns new tensors: 2 for RNN/GRU, 3 for LSTM) and
not of the stream, which writes into its own buffers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import rnnkit.nn as rnn


def time_layer(name: str, features: int, hidden: int, batch: int, steps: int, rounds: int):
    """Median µs per step: (stream CPU, stream wall, step CPU, step wall)."""
    layer = getattr(rnn, name)(features, hidden).eval()
    x = torch.randn(batch, features)
    samples: dict[str, list[float]] = {k: [] for k in ("stream_cpu", "stream_wall",
                                                       "step_cpu", "step_wall")}
    with torch.no_grad():
        stream = layer.stream(batch=batch)
        state = None
        for _ in range(500):  # compile or load the kernel, warm the caches
            stream.step(x)
            _, state = layer.step(x, state)
        for _ in range(rounds):
            cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
            for _ in range(steps):
                stream.step(x)
            samples["stream_cpu"].append((time.thread_time_ns() - cpu) / steps / 1e3)
            samples["stream_wall"].append((time.perf_counter_ns() - wall) / steps / 1e3)
            state = None
            cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
            for _ in range(steps):
                _, state = layer.step(x, state)
            samples["step_cpu"].append((time.thread_time_ns() - cpu) / steps / 1e3)
            samples["step_wall"].append((time.perf_counter_ns() - wall) / steps / 1e3)
    return tuple(statistics.median(samples[k]) for k in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=int, default=32, help="F")
    parser.add_argument("--hidden", type=int, default=64, help="H")
    parser.add_argument("--batch", type=int, default=1, help="B")
    parser.add_argument("--steps", type=int, default=20000, help="steps per round")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"B={args.batch} F={args.input} H={args.hidden}, {args.rounds} rounds of "
          f"{args.steps} steps, load average {load}")
    print("| layer | stream CPU µs | stream wall µs | step CPU µs | step wall µs |")
    print("|---|---|---|---|---|")
    for name in ("RNN", "GRU", "LSTM"):
        values = time_layer(name, args.input, args.hidden, args.batch, args.steps, args.rounds)
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in values) + " |")


if __name__ == "__main__":
    main()
