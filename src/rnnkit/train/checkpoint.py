"""Training checkpoints: one safetensors file per checkpoint, written atomically, no pickle.

A checkpoint holds everything a resumed run needs to continue exactly where the saved one was
(``Trainer.state_dict()``):

===============  ==========================================================================
``model``        the model's ``state_dict()``
``optimizer``    the optimiser's ``state_dict()`` (moments, step counts)
``schedule``     reduce-on-plateau memory (the rest of the schedule is a function of ``step``)
``rng``          python, numpy and torch generator states at the moment of saving
``progress``     ``epoch``, ``batch`` (data-order position: batches done in that epoch),
                 ``step`` (updates so far), whether training had been told to stop, and
                 ``world_size`` (processes that wrote it; a run with another number
                 continues at the same place in the epoch)
``strategy``     the BPTT strategy's carried state (stateful streams)
``meters``       the running sums of the unfinished epoch (loss, metrics, clipping)
``callbacks``    each callback's memory (early-stopping patience, best value so far)
``history``      epoch rows and per-update entries so far
``config``       the :class:`TrainConfig` as a dict
===============  ==========================================================================

Tensors go to safetensors, everything else to JSON in the same file (:mod:`rnnkit.core.state`);
the file is replaced with ``os.replace`` after an ``fsync``, so a kill at any moment leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.core.state import StateFormatError, load_state, save_state

KIND = "rnnkit.train.checkpoint"
REQUIRED = ("model", "optimizer", "rng", "progress", "config")


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write a checkpoint dict (see the module docstring) atomically; returns the path."""
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise ValueError(f"save_checkpoint: state lacks {missing} (has {sorted(state)})")
    return save_state(path, state, kind=KIND)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors on the CPU).

    Raises:
        FileNotFoundError: no file at ``path``.
        StateFormatError: the file is not an rnnkit training checkpoint.
    """
    state = load_state(path, kind=KIND)
    missing = [k for k in REQUIRED if k not in state]
    if not isinstance(state, dict) or missing:
        raise StateFormatError(f"{path}: checkpoint lacks {missing}")
    return state


def load_weights(path: str | os.PathLike[str], model: nn.Module, *, strict: bool = True) -> dict:
    """Load only the model weights of a checkpoint into ``model``; returns the checkpoint's
    ``progress`` (epoch, batch, step) so callers can say which weights they hold.

    Example:
        >>> load_weights("runs/adding/best.safetensors", model)
        {'epoch': 7, 'batch': 0, 'step': 1000, 'stop': False, 'world_size': 1}
    """
    state = load_checkpoint(path)
    weights = state["model"]
    first = next(iter(model.parameters()), None)
    if first is not None:
        weights = {k: v.to(first.device) if isinstance(v, torch.Tensor) else v
                   for k, v in weights.items()}
    model.load_state_dict(weights, strict=strict)
    return dict(state["progress"])
