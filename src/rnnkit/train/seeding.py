"""One seed for python, numpy and torch, and their states for checkpoints.

Bit-for-bit repeatability on the CPU needs three things, all handled by the engine: the same
seed for every generator at the start (:func:`seed_everything`), a data order that depends only
on ``(seed, epoch)`` (the loaders in :mod:`rnnkit.data`), and on resume the generators' states
exactly as they were when the checkpoint was written (:func:`rng_state` /
:func:`set_rng_state`). Results also depend on the number of CPU threads (reductions may be
split differently), so compare runs with the same ``torch.get_num_threads()``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and every GPU)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed_everything: seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # numpy's legacy seed is 32-bit
    torch.manual_seed(seed)  # also seeds every CUDA device


def rng_state() -> dict[str, Any]:
    """The current states of python's, numpy's and torch's generators (for a checkpoint)."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(legacy=False),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore states captured by :func:`rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))
