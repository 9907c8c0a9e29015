"""Recurrent dropout and zoneout: the fused numba LSTM/GRU/RNN against the reference backend (the
Python loop over the cell's step that served these calls before the fused kernels).

Usage:
    python benchmarks/regularised_vs_reference.py [--repeats N]

Each contender is ``LSTM``/``GRU``/``RNN(32, 128, backend=...)`` at B=16, T=100, F=32,
float32, timed with :func:`rnnkit.bench.timing.interleaved` (alternating, after a warm-up,
medians) in one process, at torch's default thread count; prints a Markdown table (ratio =
reference ms / numba ms) and the load average.
"""

from __future__ import annotations

import argparse
import os

import torch

import rnnkit.nn as rnn
from rnnkit.bench.cases import inference, training_step
from rnnkit.bench.timing import interleaved

# (label, layer options, whether the option acts in evaluation too)
REGULARISERS = [
    ("zoneout 0.1", {"zoneout": 0.1}, True),
    ("recurrent dropout 0.25", {"recurrent_dropout": 0.25}, False),  # off in evaluation
    ("both", {"zoneout": 0.1, "recurrent_dropout": 0.25}, True),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per contender")
    args = parser.parse_args()
    print(f"load average before {os.getloadavg()[0]:.2f}")
    torch.manual_seed(0)
    x = torch.randn(100, 16, 32)
    fns = {}
    for name, cls in (("LSTM", rnn.LSTM), ("GRU", rnn.GRU), ("RNN (tanh)", rnn.RNN)):
        for label, options, in_eval in REGULARISERS:
            tasks = [("training", training_step, True)]
            if in_eval:
                tasks.append(("inference", inference, False))
            for task, make, training in tasks:
                for backend in ("numba", "reference"):
                    layer = cls(32, 128, backend=backend, **options).train(training)
                    fns[(name, label, task, backend)] = make(layer, x)
    ms = interleaved(fns, args.repeats)
    print("| cell | regulariser | task | reference ms | numba ms | reference / numba |")
    print("|---|---|---|---|---|---|")
    for (name, label, task, backend), numba_ms in ms.items():
        if backend == "numba":
            ref_ms = ms[(name, label, task, "reference")]
            print(f"| {name} | {label} | {task} | {ref_ms:.1f} | {numba_ms:.1f} | "
                  f"{ref_ms / numba_ms:.1f}x |")
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
