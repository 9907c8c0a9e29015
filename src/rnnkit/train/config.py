"""The training configuration: one typed, validated dataclass.

Every option of a run lives here, with a comment for each non-obvious default; it is stored in
every checkpoint and in ``history.json`` so that a run describes itself. ``TrainConfig(...)``
checks all fields at once and reports every problem in one :class:`ConfigError`;
:meth:`TrainConfig.from_dict` also rejects unknown keys with a suggestion ("did you mean").
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from rnnkit.core.checks import choice_problem, int_problem, number_problem
from rnnkit.core.suggest import did_you_mean
from rnnkit.errors import ConfigError

BPTT_MODES = ("full", "truncated", "stateful")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "step", "cosine")
MONITOR_MODES = ("min", "max")


__all__ = ["BPTT_MODES", "MONITOR_MODES", "OPTIMIZERS", "SCHEDULES", "ConfigError", "TrainConfig"]


@dataclass
class TrainConfig:
    """Options of a training run (see ``docs/training.md``).

    Loop
        epochs: passes over the training data.
        max_steps: stop after this many optimiser updates (``None``: no limit).
        max_time: wall-clock budget, e.g. '30m', '90s', '1h30m': training stops after the batch
            that passes it and keeps the best weights so far (``None``: no limit).
        seed: seeds python, numpy and torch at the start of a fresh run (a CPU run with the same
            seed is bit-for-bit repeatable).
        device: where the model and batches live ('cpu', 'cuda', 'cuda:1', 'mps'), checked
            against this machine's devices; under torchrun each process uses its local GPU
            when this is 'cuda'.

    Backpropagation through time
        bptt: 'full' (whole sequences), 'truncated' (chunks of k1 steps, gradients over k2
            steps) or 'stateful' (like 'truncated', and the state carries over from batch to
            batch: row j of batch i continues row j of batch i − 1).
        k1: steps between two updates (``None``: the whole batch, one update per batch).
        k2: steps the gradient flows back from an update (``None``: ``k1``); k2 >= k1.

    Optimiser and schedule
        optimizer: 'adam' (default, as in the seed), 'adamw', 'sgd' or 'rmsprop'.
        lr: peak learning rate.
        weight_decay: on weight matrices only (biases and 1-D parameters are not decayed);
            L2 in the gradient for adam/sgd/rmsprop, decoupled for adamw.
        momentum: for sgd and rmsprop.
        betas: for adam and adamw.
        schedule: 'constant', 'step' (× gamma every step_size updates) or 'cosine' (to min_lr
            at the last update).
        step_size, gamma: of the 'step' schedule.
        min_lr: floor of the 'cosine' schedule.
        warmup_steps: linear warm-up from lr / warmup_steps to lr over the first updates.
        plateau_patience: reduce-on-plateau: after this many epochs without improvement of
            ``monitor``, multiply the learning rate by plateau_factor (``None``: off).
        plateau_factor: the reduction factor, in (0, 1).

    Gradients
        clip_norm: rescale the gradient when its global 2-norm exceeds this (``None``: off).
        clip_value: clamp every gradient entry to [−clip_value, clip_value] (``None``: off).

    Monitoring and output
        monitor: the epoch value that early stopping, the best checkpoint and reduce-on-plateau
            watch: 'val_loss', 'val_<metric>', 'train_loss' or 'train_<metric>'.
        monitor_mode: 'min' or 'max' (which direction is better).
        early_stopping: stop after this many epochs without improvement (``None``: off).
        out_dir: where checkpoints, history and plots go (``None``: nothing is written).
        checkpoint_every: also write ``last`` every this many updates, at batch boundaries
            (``None``: at the end of each epoch only).
        plots: write learning curves as PNG at the end (needs matplotlib: ``rnnkit[plot]``).
        quiet: no progress bar and no printed summaries (scripts and CI).
        tensorboard: also write TensorBoard event files (losses, metrics, learning rate,
            gradient norm, clipping share, weight and gradient histograms) to
            ``<out_dir>/tensorboard`` (needs ``rnnkit[tensorboard]``).
        diagnostics_every: every this many epochs, measure the long-range diagnostics of
            ``rnnkit diagnose`` (‖∂L/∂h_t‖ by distance from the loss, saturated gates, ρ(W_hh))
            on a fixed validation batch; the run writes ``gradient_norms.png`` and states the
            effective memory length in ``summary.md`` (tasks whose loss sits at each
            sequence's end: classification; ``None``: off).

    Ensembles (the task runner, :mod:`rnnkit.tasks.ensemble`; the trainer itself ignores it)
        ensemble: train this many members with seeds seed, seed + 1, ... on the same data and
            ship them as one model that averages them (forecast, classify, tag; 1: off); the
            report gives the ensemble's scores beside each member's (mean ± std), and
            max_time applies to each member.
    """

    # loop
    epochs: int = 10
    max_steps: int | None = None
    max_time: str | None = None
    seed: int = 0
    device: str = "cpu"
    # backpropagation through time
    bptt: str = "full"
    k1: int | None = None
    k2: int | None = None
    # optimiser
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # torch's SGD default is 0; momentum is what recurrent nets need
    betas: tuple[float, float] = (0.9, 0.999)
    # schedule
    schedule: str = "constant"
    step_size: int = 1000
    gamma: float = 0.5  # halve, as in the published adding-problem reproduction
    min_lr: float = 0.0
    warmup_steps: int = 0
    plateau_patience: int | None = None
    plateau_factor: float = 0.5
    # gradients
    clip_norm: float | None = None
    clip_value: float | None = None
    # monitoring and output
    monitor: str = "val_loss"
    monitor_mode: str = "min"
    early_stopping: int | None = None
    out_dir: str | None = None
    checkpoint_every: int | None = None
    plots: bool = True
    quiet: bool = False
    tensorboard: bool = False
    diagnostics_every: int | None = None
    # ensembles
    ensemble: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.betas, list):
            self.betas = tuple(self.betas)  # from JSON
        if isinstance(self.out_dir, os.PathLike):
            self.out_dir = os.fspath(self.out_dir)
        problems = _problems(self)
        if problems:
            raise ConfigError(
                "TrainConfig: " + ("; ".join(problems) if len(problems) == 1 else
                                   f"{len(problems)} problems: " + "; ".join(problems))
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Build from a mapping (e.g. parsed JSON); unknown keys raise with a suggestion."""
        known = [f.name for f in fields(cls)]
        unknown = [k for k in values if k not in known]
        if unknown:
            hints = [f"{key!r}{did_you_mean(key, known)}" for key in unknown]
            raise ConfigError(f"TrainConfig: unknown option(s) {', '.join(hints)}")
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field."""
        return asdict(self)

    @property
    def uses_validation(self) -> bool:
        """Whether the monitored value comes from validation data."""
        return self.monitor.startswith("val_")


def _problems(c: TrainConfig) -> list[str]:
    """Every invalid field of ``c``, each as 'name must be ..., got ...'."""
    out: list[str] = []

    def add(problem: str | None) -> None:
        if problem is not None:
            out.append(problem)

    def integer(name: str, low: int, optional: bool = False) -> None:
        add(int_problem(name, getattr(c, name), low, optional=optional))

    def number(name: str, low: float, high: float = math.inf, *, optional: bool = False,
               low_open: bool = False, high_open: bool = False) -> None:
        add(number_problem(name, getattr(c, name), low, high, optional=optional,
                           low_open=low_open, high_open=high_open))

    def choice(name: str, allowed: tuple[str, ...]) -> None:
        add(choice_problem(name, getattr(c, name), allowed))

    integer("epochs", 1)
    integer("max_steps", 1, optional=True)
    if c.max_time is not None:
        from rnnkit.train.time_budget import parse_duration

        try:
            parse_duration(c.max_time, "max_time")
        except ValueError as err:
            out.append(str(err))
    integer("seed", 0)
    from rnnkit.train.distributed import device_problem

    add(device_problem(c.device))
    choice("bptt", BPTT_MODES)
    integer("k1", 1, optional=True)
    integer("k2", 1, optional=True)
    if c.bptt == "full" and (c.k1 is not None or c.k2 is not None):
        out.append(
            f"k1 and k2 apply to bptt='truncated' or 'stateful', got k1={c.k1!r}, k2={c.k2!r} "
            "with bptt='full'"
        )
    if isinstance(c.k1, int) and isinstance(c.k2, int) and c.k2 < c.k1:
        out.append(
            f"k2 must be >= k1 (each update backpropagates at least over its own k1 steps), "
            f"got k1={c.k1}, k2={c.k2}"
        )
    if c.bptt == "truncated" and c.k1 is None:
        out.append("k1 must be set for bptt='truncated' (steps between updates), got None")
    choice("optimizer", OPTIMIZERS)
    number("lr", 0.0, low_open=True)
    number("weight_decay", 0.0)
    number("momentum", 0.0, 1.0, high_open=True)
    if not (
        isinstance(c.betas, tuple) and len(c.betas) == 2
        and all(isinstance(b, (int, float)) and 0.0 <= b < 1.0 for b in c.betas)
    ):
        out.append(f"betas must be two numbers in [0, 1), got {c.betas!r}")
    choice("schedule", SCHEDULES)
    integer("step_size", 1)
    number("gamma", 0.0, 1.0, low_open=True)
    number("min_lr", 0.0)
    lr_ok = isinstance(c.lr, (int, float)) and c.lr > 0  # else that is the problem to report
    if lr_ok and isinstance(c.min_lr, (int, float)) and c.min_lr > c.lr:
        out.append(f"min_lr must be <= lr={c.lr}, got {c.min_lr}")
    integer("warmup_steps", 0)
    integer("plateau_patience", 1, optional=True)
    number("plateau_factor", 0.0, 1.0, low_open=True, high_open=True)
    number("clip_norm", 0.0, optional=True, low_open=True)
    number("clip_value", 0.0, optional=True, low_open=True)
    if not isinstance(c.monitor, str) or not c.monitor.startswith(("val_", "train_")):
        out.append(
            f"monitor must be 'val_loss', 'val_<metric>', 'train_loss' or 'train_<metric>', "
            f"got {c.monitor!r}"
        )
    choice("monitor_mode", MONITOR_MODES)
    integer("early_stopping", 1, optional=True)
    if c.out_dir is not None and not isinstance(c.out_dir, str):
        out.append(f"out_dir must be None or a path string, got {type(c.out_dir).__name__}")
    integer("checkpoint_every", 1, optional=True)
    integer("diagnostics_every", 1, optional=True)
    integer("ensemble", 1)
    for flag in ("plots", "quiet", "tensorboard"):
        if not isinstance(getattr(c, flag), bool):
            out.append(f"{flag} must be a bool, got {getattr(c, flag)!r}")
    return out
