"""Kernel compile times: all float32 kernels into an empty disk cache, then loaded from it.

Each of the two runs is a fresh process (:func:`prepare_kernels` through
:mod:`rnnkit.bench.probe`) sharing a temporary ``NUMBA_CACHE_DIR``: the first compiles, the
second only loads.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import torch

from rnnkit.bench.process import run_probe


def prepare_kernels() -> dict[str, Any]:
    """Seconds to import the compile module and to prepare every float32 kernel family here.

    ``compiled`` says whether anything was compiled rather than loaded from the cache.
    """
    t0 = time.perf_counter()
    from rnnkit.kernels.cpu import compile as compiled

    t1 = time.perf_counter()
    for family in compiled.families():  # cell families plus shared helpers
        compiled.kernels(family, torch.float32)
    t2 = time.perf_counter()
    return {"import": t1 - t0, "kernels": t2 - t1,
            "compiled": any(c for _, c in compiled.timings.values())}


def measure_compile() -> dict[str, float]:
    """Seconds to prepare all float32 kernels: into an empty disk cache, then from it."""
    with tempfile.TemporaryDirectory() as cache:
        out = {}
        for label in ("cold", "cached"):
            result = run_probe(["compile"], "compile probe", {"NUMBA_CACHE_DIR": cache},
                               timeout=900)
            out[label] = result["kernels"]
        return out
