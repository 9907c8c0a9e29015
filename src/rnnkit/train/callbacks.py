"""Callbacks: small objects that the trainer calls at the edges of fit, epoch and batch.

Hooks (all optional, all receive the trainer; override the ones you need)::

    on_fit_start ─┬─ on_epoch_start ─┬─ on_batch_end ─┬─ on_epoch_end(row) ─┬─ on_fit_end
                  │                  └─ (per batch) ──┘                     │
                  └──────────────────── (per epoch) ────────────────────────┘

``on_epoch_end`` gets the epoch's history row (``train_loss``, ``val_loss``, metrics, ...). A
callback stops training by setting ``trainer.stop_training = True`` (and, for reports,
``trainer.stop_reason``): set in ``on_epoch_end`` it ends the run after that epoch; set in
``on_batch_end`` it ends the epoch after that batch (the epoch is then closed as usual:
validation, history row, checkpoints), as :class:`rnnkit.train.time_budget.TimeBudget` does.
Callbacks with memory implement ``state_dict``/``load_state_dict``; it goes into every
checkpoint. Callbacks that write files do so on rank 0 only (``trainer.is_main``).

Built in: :class:`EarlyStopping`, :class:`ModelCheckpoint` (best and last),
:class:`HistoryWriter` (CSV + JSON), :class:`ProgressBar` (tqdm) and :class:`LearningCurves`
(PNG); :func:`default_callbacks` builds them from a :class:`TrainConfig`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.core.checks import check_int
from rnnkit.core.suggest import did_you_mean
from rnnkit.train.config import TrainConfig
from rnnkit.train.history import write_history
from rnnkit.train.optim import improves

if TYPE_CHECKING:
    from rnnkit.train.trainer import Trainer


class Callback:
    """Base class: every hook does nothing."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Before the first epoch (after a resume has restored the trainer)."""

    def on_epoch_start(self, trainer: Trainer) -> None:
        """Before the first batch of an epoch (also when resuming in its middle)."""

    def on_batch_end(self, trainer: Trainer) -> None:
        """After every batch (its updates done, ``trainer.batch_index`` advanced)."""

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        """After an epoch's validation, with its history row."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """After the last epoch, after early stopping, and also when training raised."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def _monitor_problem(row: dict[str, Any], monitor: str, owner: str,
                     has_validation: bool | None) -> str:
    """Why ``monitor`` is not in ``row``: what the rows do have, and the closest name."""
    val = sorted(k for k in row if k.startswith("val_"))
    train = sorted(k for k in row if k.startswith("train_"))
    if val:
        have = f"the validation rows have {val} and the training rows {train}"
    elif monitor.startswith("val_") and has_validation is not True:
        have = (f"the training rows have {train}; no validation data was given to fit, so there "
                "are no 'val_' values")
    else:
        have = f"the training rows have {train} and there are no 'val_' values"
    return (f"{owner}: monitor={monitor!r} is not among this run's epoch values: {have}"
            f"{did_you_mean(monitor, val + train)}")


def monitored(row: dict[str, Any], monitor: str, owner: str) -> float:
    """The monitored value of an epoch row; a clear error if the row does not have it."""
    if monitor not in row:
        raise ValueError(_monitor_problem(row, monitor, owner, None))
    return float(row[monitor])


def check_monitor(row: dict[str, Any], monitor: str, *, has_validation: bool,
                  owner: str = "Trainer") -> None:
    """Refuse a ``monitor`` that an epoch row of this run lacks although it should have it.

    A 'val_' monitor without validation data is the one allowed absence (a run without
    ``val`` keeps the default monitor; early stopping and reduce-on-plateau refuse it at fit
    start). Anything else missing is a misspelt or unknown name, which would otherwise leave
    the best checkpoint and best weights silently unchosen.
    """
    if monitor in row or (monitor.startswith("val_") and not has_validation):
        return
    raise ValueError(_monitor_problem(row, monitor, owner, has_validation))


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: an epoch value, e.g. 'val_loss' or 'val_mse'.
        patience: epochs without improvement before stopping (>= 1).
        mode: 'min' or 'max'.
        min_delta: an improvement must beat the best value by more than this (absolute).
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, mode: str = "min",
                 min_delta: float = 0.0) -> None:
        check_int("patience", patience, 1, owner="EarlyStopping")
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.mode, self.min_delta = monitor, patience, mode, min_delta
        self.best: float | None = None
        self.bad_epochs = 0
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        value = monitored(row, self.monitor, "EarlyStopping")
        better = math.isfinite(value) and (
            self.best is None
            or (value < self.best - self.min_delta if self.mode == "min"
                else value > self.best + self.min_delta)
        )
        if better:
            self.best, self.bad_epochs = value, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            self.stopped_epoch = row["epoch"]
            trainer.stop_training = True
            trainer.stop_reason = f"early stopping after epoch {int(row['epoch']) + 1}"
            trainer.log(
                f"{trainer.stop_reason}: {self.monitor} has not improved on {self.best:.6g} "
                f"for {self.patience} epoch(s)"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs,
                "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_epochs = state["best"], state["bad_epochs"]
        self.stopped_epoch = state["stopped_epoch"]


class BestWeights(Callback):
    """Keeps an in-memory copy of the weights of the epoch with the best ``monitor`` value, so a
    task can end training holding its best epoch (epochs without a finite value are skipped).

    Attributes:
        best: the best value so far (None before the first finite one).
        epoch: the epoch it was reached at.
        weights: a detached copy of the model's state dict at that epoch.
    """

    def __init__(self, monitor: str, mode: str) -> None:
        self.monitor, self.mode = monitor, mode
        self.best: float | None = None
        self.epoch: int | None = None
        self.weights: dict[str, Any] | None = None

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        value = row.get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        if self.best is None or (value < self.best if self.mode == "min" else value > self.best):
            self.best, self.epoch = float(value), int(row["epoch"])
            self.weights = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}

    # In every checkpoint, so a resumed run ends holding the same best epoch as an
    # uninterrupted one (without it the epochs before the interruption were forgotten).
    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "epoch": self.epoch, "weights": self.weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.epoch, self.weights = state["best"], state["epoch"], state["weights"]


class ModelCheckpoint(Callback):
    """Write ``last.safetensors`` (resumable) and ``best.safetensors`` (best ``monitor``).

    ``last`` is written at the end of every epoch and, with ``every_steps``, whenever that many
    updates have passed since the previous one (checked at batch boundaries, so the data-order
    position is a whole number of batches). ``best`` is written at the end of an epoch whose
    monitored value improves (relative threshold 1e-4); without that value (e.g. no validation
    data) only ``last`` is kept. Both are full checkpoints: either can resume a run.

    Args:
        out_dir: folder of the two files.
        monitor, mode: what "best" means.
        every_steps: see above; ``None`` writes ``last`` at epoch ends only.
    """

    def __init__(self, out_dir: str | Path, monitor: str = "val_loss", mode: str = "min",
                 every_steps: int | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.monitor, self.mode, self.every_steps = monitor, mode, every_steps
        self.best: float | None = None
        self.saved_step = 0

    @property
    def last_path(self) -> Path:
        return self.out_dir / "last.safetensors"

    @property
    def best_path(self) -> Path:
        return self.out_dir / "best.safetensors"

    def on_batch_end(self, trainer: Trainer) -> None:
        if self.every_steps and trainer.step - self.saved_step >= self.every_steps:
            self._save_last(trainer)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        value = row.get(self.monitor)
        if value is not None and math.isfinite(value) and (
            self.best is None or improves(value, self.best, self.mode, 1e-4)
        ):
            self.best = float(value)
            if trainer.is_main:
                trainer.save_checkpoint(self.best_path)
        self._save_last(trainer)

    def _save_last(self, trainer: Trainer) -> None:
        self.saved_step = trainer.step  # before saving, so the file holds it too
        if trainer.is_main:
            trainer.save_checkpoint(self.last_path)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "saved_step": self.saved_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.saved_step = state["best"], state["saved_step"]


class HistoryWriter(Callback):
    """Write ``history.json``, ``history.csv`` and ``steps.csv`` after every epoch and at the
    end of fit (also after a divergence, so the failing run can be inspected)."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)

    def _write(self, trainer: Trainer) -> None:
        if trainer.is_main:
            info = {**trainer.config.to_dict(), "strategy": trainer.strategy.describe()}
            write_history(trainer.history, self.out_dir, info)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        self._write(trainer)

    def on_fit_end(self, trainer: Trainer) -> None:
        self._write(trainer)


class ProgressBar(Callback):
    """A tqdm bar per epoch with the running loss, a metric, sequences per second and the ETA,
    and one summary line per epoch. Rank 0 only.

    Args:
        metric: the model metric to show (default: the first one the model reports).
        mininterval: least seconds between two redraws (tqdm's; 0 redraws every batch).
    """

    def __init__(self, metric: str | None = None, mininterval: float = 0.1) -> None:
        self.metric, self.mininterval = metric, mininterval
        self._bar: Any = None
        self._start = 0.0
        self._samples = 0

    def on_epoch_start(self, trainer: Trainer) -> None:
        if not trainer.is_main:
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=trainer.batches_per_epoch, initial=trainer.batch_index,
            desc=f"epoch {trainer.epoch + 1}/{trainer.config.epochs}", unit="batch",
            dynamic_ncols=True, leave=False, mininterval=self.mininterval,
        )
        self._start, self._samples = time.perf_counter(), 0

    def on_batch_end(self, trainer: Trainer) -> None:
        if self._bar is None:
            return
        meters = trainer.meters
        self._samples += trainer.last_batch_size
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        postfix = {"loss": f"{meters.mean_loss:.4g}"}
        name = self.metric or next(iter(meters.metrics), None)
        if name is not None:
            postfix[name] = f"{meters.mean(name):.4g}"
        postfix["seq/s"] = f"{self._samples / elapsed:.0f}"
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(1)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        self._close()
        shown = [f"{k} {v:.4g}" for k, v in row.items()
                 if k.startswith(("train_", "val_")) and isinstance(v, float)]
        trainer.log(
            f"epoch {row['epoch'] + 1}/{trainer.config.epochs}  " + "  ".join(shown)
            + f"  lr {row['lr']:.3g}  clipped {100 * row['clipped_share']:.0f}%"
            + f"  {row['seconds']:.1f}s"
        )

    def on_fit_end(self, trainer: Trainer) -> None:
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class LearningCurves(Callback):
    """Write ``learning_curves.png`` at the end of fit (needs matplotlib, ``rnnkit[plot]``).

    The check for matplotlib happens at the start of fit, so a missing install fails before
    hours of training rather than after.
    """

    def __init__(self, out_dir: str | Path, clip_norm: float | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.clip_norm = clip_norm

    def on_fit_start(self, trainer: Trainer) -> None:
        if trainer.is_main:
            from rnnkit.train.plots import require_matplotlib

            require_matplotlib()

    def on_fit_end(self, trainer: Trainer) -> None:
        if trainer.is_main and trainer.history.num_steps:
            from rnnkit.train.plots import plot_history

            plot_history(trainer.history, self.out_dir / "learning_curves.png",
                         clip_norm=self.clip_norm)


def default_callbacks(config: TrainConfig) -> list[Callback]:
    """The callbacks a :class:`TrainConfig` asks for, in the order they must run.

    Progress first (it closes its bar before others print), early stopping before the
    checkpoint (so ``last`` records the decision), the history writer and plots last.
    """
    callbacks: list[Callback] = []
    if not config.quiet:
        callbacks.append(ProgressBar())
    if config.max_time is not None:
        from rnnkit.train.time_budget import TimeBudget

        callbacks.append(TimeBudget(config.max_time))
    if config.early_stopping is not None:
        callbacks.append(EarlyStopping(config.monitor, config.early_stopping, config.monitor_mode))
    if config.out_dir is not None:
        callbacks.append(ModelCheckpoint(config.out_dir, config.monitor, config.monitor_mode,
                                         config.checkpoint_every))
        callbacks.append(HistoryWriter(config.out_dir))
        if config.plots:
            callbacks.append(LearningCurves(config.out_dir, config.clip_norm))
        if config.tensorboard:
            from rnnkit.train.tensorboard import LOG_FOLDER, TensorBoardLogger

            callbacks.append(TensorBoardLogger(Path(config.out_dir) / LOG_FOLDER))
    return callbacks
