"""Optimisers, learning-rate schedules and reduce-on-plateau.

The schedule is a pure function of the update count (nanoGPT's ``get_lr``): no scheduler object
to step in the right order, nothing to save but the step. Reduce-on-plateau is the one schedule
with memory; it is a small object with ``state_dict``. The learning rate of update ``s`` is

.. math::  \\mathrm{lr}(s) = \\mathrm{lr}_{\\text{peak}} \\cdot w(s) \\cdot d(s) \\cdot p

with warm-up ``w(s) = min(1, (s + 1) / warmup_steps)``, decay ``d(s)`` (1, ``gamma^⌊s /
step_size⌋`` or a half cosine down to ``min_lr``) and ``p`` the product of plateau reductions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from rnnkit.train.config import TrainConfig


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser named by ``config.optimizer`` over ``model``'s trainable parameters.

    Weight decay applies to parameters with two or more dimensions (weight matrices) only:
    decaying biases and gains towards 0 has no regularising purpose and hurts small models.
    """
    decay, no_decay = _split_decay(model.named_parameters())
    groups = [{"params": decay, "weight_decay": config.weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    if not decay and not no_decay:
        raise ValueError(f"build_optimizer: {type(model).__name__} has no trainable parameters")
    lr = config.lr
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=config.betas)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=config.betas)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=config.momentum)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, momentum=config.momentum)
    raise ValueError(  # TrainConfig validates; this guards direct callers
        f"build_optimizer: optimizer must be one of adam, adamw, sgd, rmsprop, "
        f"got {config.optimizer!r}"
    )


def _split_decay(
    named: Iterable[tuple[str, nn.Parameter]],
) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    decay, no_decay = [], []
    for _, p in named:
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return decay, no_decay


class LRSchedule:
    """Learning rate as a pure function of the update count (see the module docstring).

    Args:
        config: supplies lr, schedule, warmup_steps, step_size, gamma, min_lr.
        total_steps: updates in the whole run, the horizon of the 'cosine' schedule.
    """

    def __init__(self, config: TrainConfig, total_steps: int) -> None:
        if total_steps < 1:
            raise ValueError(f"LRSchedule: total_steps must be >= 1, got {total_steps}")
        self.peak = config.lr
        self.kind = config.schedule
        self.warmup = config.warmup_steps
        self.step_size, self.gamma = config.step_size, config.gamma
        self.min_lr = config.min_lr
        self.total = total_steps

    def __call__(self, step: int) -> float:
        """The learning rate of update ``step`` (0-based)."""
        warm = min(1.0, (step + 1) / self.warmup) if self.warmup else 1.0
        if self.kind == "step":
            return self.peak * warm * self.gamma ** (step // self.step_size)
        if self.kind == "cosine":
            span = max(1, self.total - self.warmup - 1)
            progress = min(1.0, max(0.0, (step - self.warmup) / span))
            cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
            return warm * (self.min_lr + (self.peak - self.min_lr) * cosine)
        return self.peak * warm


class PlateauReducer:
    """Reduce-on-plateau: scale the learning rate by ``factor`` after ``patience`` epochs
    without an improvement of the monitored value (relative threshold 1e-4, as in torch).

    ``scale`` is the product of all reductions so far; the trainer multiplies the schedule's
    learning rate by it.
    """

    def __init__(self, patience: int, factor: float, mode: str = "min",
                 threshold: float = 1e-4) -> None:
        self.patience, self.factor, self.mode, self.threshold = patience, factor, mode, threshold
        self.best: float | None = None
        self.bad_epochs = 0
        self.scale = 1.0

    def update(self, value: float) -> bool:
        """Record an epoch's monitored value; returns True if the learning rate was reduced."""
        if not math.isfinite(value):
            return False
        if self.best is None or improves(value, self.best, self.mode, self.threshold):
            self.best, self.bad_epochs = value, 0
            return False
        self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            self.scale *= self.factor
            self.bad_epochs = 0
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs, "scale": self.scale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_epochs, self.scale = state["best"], state["bad_epochs"], state["scale"]


def improves(value: float, best: float, mode: str, threshold: float) -> bool:
    """Relative improvement, as torch's ReduceLROnPlateau(threshold_mode='rel')."""
    if mode == "min":
        return value < best * (1.0 - threshold) if best > 0 else value < best * (1.0 + threshold)
    return value > best * (1.0 + threshold) if best > 0 else value > best * (1.0 - threshold)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr
