"""Benchmark rnnkit's CPU kernels against torch: the same code as ``rnnkit bench``.

Usage:
    python benchmarks/bench_kernels.py            # the full grid (several minutes)
    python benchmarks/bench_kernels.py --quick    # two shapes, about a minute
    python benchmarks/bench_kernels.py --markdown --compile-times --json bench.json

See :mod:`rnnkit.bench` for what is measured and how, and :mod:`rnnkit.bench.cases` for the
layers and shapes.
"""

from __future__ import annotations

import sys

from rnnkit.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
