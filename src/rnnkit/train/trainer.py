"""The trainer: a ladder of small steps, each one overridable.

::

    fit(train, val, resume=)                        seed or resume, then per epoch:
     └─ run_epoch(train, val, epoch)                batches from the data-order position
         ├─ train_batch(batch)                      the BPTT strategy cuts it into updates
         │   └─ update(batch, state) -> state       one forward/backward/step:
         │       ├─ forward(batch, state)             model(inputs, state, lengths=)
         │       ├─ compute_loss(outputs, batch)      model.loss
         │       ├─ check_loss(loss)                  divergence guard (all processes agree)
         │       ├─ backward(loss)                    loss.backward()
         │       └─ optimizer_step()                  lr, clip, guard, step
         └─ end_epoch(val) -> row                   epoch means, validate(val), plateau
             └─ evaluate(loader, prefix)            no-gradient pass, exact means

The trainer knows the model only through the task-model protocol
(:mod:`rnnkit.train.protocol`): ``forward``, ``loss`` and optionally ``metrics``. Everything else
lives in its own module: BPTT strategies (:mod:`.bptt`), clipping (:mod:`.clipping`),
optimisers and schedules (:mod:`.optim`), callbacks (:mod:`.callbacks`), checkpoints
(:mod:`.checkpoint`), data parallelism (:mod:`.distributed`).

Example:
    >>> from rnnkit.data import BatchLoader, adding_problem
    >>> from rnnkit.models import SequenceRegressor
    >>> from rnnkit.train import TrainConfig, Trainer
    >>> x, y = adding_problem(2000, 50, seed=0)
    >>> train = BatchLoader(x, y, batch_size=32, target_at="last")
    >>> model = SequenceRegressor(2, 16, cell="lstm")
    >>> history = Trainer(model, TrainConfig(epochs=5, lr=1e-2, clip_norm=1.0)).fit(train)
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data.batching import Loader, SequenceBatch
from rnnkit.train.bptt import (
    BPTTStrategy,
    check_strategy_fits,
    make_strategy,
    run_model,
    windows,
)
from rnnkit.train.callbacks import (
    Callback,
    ModelCheckpoint,
    check_monitor,
    default_callbacks,
    monitored,
)
from rnnkit.train.checkpoint import load_checkpoint, save_checkpoint
from rnnkit.train.clipping import ClipResult, clip_gradients
from rnnkit.train.config import TrainConfig
from rnnkit.train.distributed import (
    DistributedContext,
    all_reduce_max,
    all_reduce_sum,
    current_context,
    resolve_device,
    wrap_model,
)
from rnnkit.train.divergence import (
    EXPLOSION_FACTOR,
    DivergenceReport,
    divergence_error,
    explosion_error,
    is_explosion,
)
from rnnkit.train.history import History
from rnnkit.train.meters import Meters
from rnnkit.train.optim import LRSchedule, PlateauReducer, build_optimizer, set_lr
from rnnkit.train.protocol import State, check_task_model, model_metrics
from rnnkit.train.seeding import rng_state, seed_everything, set_rng_state


class Trainer:
    """Fits a task model with a BPTT strategy, an optimiser, clipping and callbacks.

    Args:
        model: an ``nn.Module`` implementing the task-model protocol.
        config: the run's options (default ``TrainConfig()``).
        strategy: a :class:`BPTTStrategy`; default built from ``config.bptt``, ``k1``, ``k2``.
        callbacks: default built from the config (progress, early stopping, checkpoints,
            history, plots); pass a list to replace them.
        distributed: the data-parallel context; default: the active process group, if any.

    After :meth:`fit`, ``trainer.history`` holds every epoch row and update.

    ``divergence_factor``: a finite loss more than this many times the first update's loss
    (at least 1) stops training as divergence (:mod:`rnnkit.train.divergence`); set it to
    None on a subclass or an instance to switch that check off.
    """

    divergence_factor: float | None = EXPLOSION_FACTOR

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig | None = None,
        *,
        strategy: BPTTStrategy | None = None,
        callbacks: list[Callback] | None = None,
        distributed: DistributedContext | None = None,
    ) -> None:
        check_task_model(model)
        self.config = config if config is not None else TrainConfig()
        if not isinstance(self.config, TrainConfig):
            raise TypeError(
                f"Trainer: config must be a TrainConfig, got {type(self.config).__name__}"
            )
        self.dist = distributed if distributed is not None else current_context()
        self.device = resolve_device(self.config.device, self.dist)
        self.model = model.to(self.device)
        self.module = wrap_model(self.model, self.dist, self.device)  # what forward calls
        c = self.config
        self.strategy = strategy if strategy is not None else make_strategy(c.bptt, c.k1, c.k2)
        self.optimizer = build_optimizer(self.model, c)
        self.plateau = (
            PlateauReducer(c.plateau_patience, c.plateau_factor, c.monitor_mode)
            if c.plateau_patience is not None else None
        )
        self.callbacks = default_callbacks(c) if callbacks is None else list(callbacks)
        self.history = History()
        self.meters = Meters()
        self.schedule: LRSchedule | None = None
        # Position: epoch index, batches done in it, optimiser updates so far. Together they
        # are the data-order position of a checkpoint.
        self.epoch = 0
        self.batch_index = 0
        self.step = 0
        self.stop_training = False
        # Why the run ended early, for reports ("early stopping after epoch 7", "max_steps 500
        # reached", "time budget 30m reached"); None while it runs or when it ran all epochs.
        self.stop_reason: str | None = None
        self.batches_per_epoch = 0
        self.last_batch_size = 0
        self.last_finite_loss: float | None = None
        self.last_finite_step: int | None = None
        # The loss of the first update (the untrained weights), what an exploding loss is
        # measured against; kept in checkpoints so a resumed run measures against the same.
        self.first_loss: float | None = None
        self.first_loss_step: int | None = None
        self.last_checkpoint: tuple[str, int] | None = None
        # Targets of the current update over all ranks (set by check_loss).
        self._targets_total = 0.0

    # --- small facts ----------------------------------------------------------------------

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints (rank 0)."""
        return self.dist.is_main

    def log(self, message: str) -> None:
        """Print a line on rank 0 unless quiet (through tqdm, so bars are not torn)."""
        if self.is_main and not self.config.quiet:
            from tqdm.auto import tqdm

            tqdm.write(message)

    def lr_at(self, step: int) -> float:
        """The learning rate of update ``step``: schedule × reduce-on-plateau scale."""
        base = self.schedule(step) if self.schedule is not None else self.config.lr
        return base * (self.plateau.scale if self.plateau is not None else 1.0)

    def _reduce(self, values: list[float]) -> list[float]:
        return all_reduce_sum(values, self.dist, self.device)

    def _reduce_max(self, values: list[float]) -> list[float]:
        return all_reduce_max(values, self.dist, self.device)

    def _agreed_batches(self, batches: Iterator[SequenceBatch]) -> Iterator[SequenceBatch]:
        """``batches`` while every rank still has one (DistributedSampler's drop-last).

        An update is a collective operation under DDP: a rank that ran out of batches while
        another still trains would leave that one waiting for ever. The in-memory loaders give
        every rank equally many batches, so nothing is dropped there; stateful streams of
        unequal lengths can differ by a batch. One all-reduce of one number per batch.
        """
        if not self.dist.enabled:
            yield from batches
            return
        while True:
            batch = next(batches, None)
            if self._reduce_max([float(batch is None)])[0]:
                return
            yield batch  # type: ignore[misc]

    # --- fit ------------------------------------------------------------------------------

    def fit(self, train: Loader, val: Loader | None = None, *,
            resume: str | os.PathLike[str] | bool | None = None) -> History:
        """Train for ``config.epochs`` epochs (or until early stopping or ``max_steps``).

        Args:
            train: training batches (:class:`rnnkit.data.Loader`).
            val: validation batches, evaluated after every epoch (optional).
            resume: a checkpoint path to continue from; ``True`` or ``'auto'`` continues from
                ``out_dir/last.safetensors`` when it exists and starts fresh otherwise.

        Returns:
            The history (also ``self.history``).
        """
        # A bidirectional model cannot be cut into windows run forward in time: refuse
        # truncated or stateful BPTT before any work.
        check_strategy_fits(self.model, self.strategy, owner="Trainer.fit")
        train = self._shard(train, "train")
        val = self._shard(val, "val") if val is not None else None
        self.batches_per_epoch = len(train)
        if self.dist.enabled:  # every rank makes as many updates as the one with fewest batches
            self.batches_per_epoch = -int(self._reduce_max([-float(len(train))])[0])
        if self.batches_per_epoch == 0:
            raise ValueError("Trainer.fit: train must yield at least one batch, got 0 per epoch")
        c = self.config
        if val is None and c.monitor.startswith("val_") and (
            c.early_stopping is not None or c.plateau_patience is not None
        ):
            raise ValueError(
                f"Trainer.fit: early stopping and reduce-on-plateau watch monitor={c.monitor!r}, "
                "which needs validation data: pass val=..., or monitor a 'train_' value"
            )
        path = self._resume_path(resume)
        if path is not None:
            self.load_state_dict(load_checkpoint(path))
            self.last_checkpoint = (str(path), self.step)
            self.log(f"resumed from {path} at epoch {self.epoch + 1}, batch {self.batch_index}, "
                     f"update {self.step}")
        else:
            seed_everything(self.config.seed)
        self.schedule = LRSchedule(self.config, self._horizon(train))
        self.model.train()
        for cb in self.callbacks:
            cb.on_fit_start(self)
        try:
            while self.epoch < self.config.epochs and not self.stop_training:
                self.run_epoch(train, val)
        finally:
            for cb in self.callbacks:
                cb.on_fit_end(self)
        return self.history

    def _shard(self, loader: Loader, name: str) -> Loader:
        if not isinstance(loader, Loader):
            raise TypeError(
                f"Trainer.fit: {name} must be a loader with __len__, batches(epoch, start) and "
                f"shard(rank, world_size) (e.g. rnnkit.data.BatchLoader), "
                f"got {type(loader).__name__}"
            )
        return loader.shard(self.dist.rank, self.dist.world_size) if self.dist.enabled else loader

    def _resume_path(self, resume: str | os.PathLike[str] | bool | None) -> Path | None:
        if resume is None or resume is False:
            return None
        if resume is True or resume == "auto":
            for cb in self.callbacks:
                if isinstance(cb, ModelCheckpoint) and cb.last_path.exists():
                    return cb.last_path
            if self.config.out_dir is not None:
                candidate = Path(self.config.out_dir) / "last.safetensors"
                if candidate.exists():
                    return candidate
            return None
        path = Path(resume)
        if not path.exists():
            raise FileNotFoundError(f"Trainer.fit: resume checkpoint {str(path)!r} does not exist")
        return path

    def _horizon(self, train: Loader) -> int:
        """Updates in the whole run (the cosine schedule's end): max_steps, or epochs × batches
        × updates per batch, the latter counted on the first batch."""
        if self.config.max_steps is not None:
            return self.config.max_steps
        first = next(iter(train.batches(0)))
        per_batch = 1
        k1 = getattr(self.strategy, "k1", None)
        if k1 is not None:
            k2 = getattr(self.strategy, "k2", None) or k1
            per_batch = sum(
                1 for w in windows(first.num_steps, k1, k2)
                if bool(first.mask[:, w.first_target : w.stop].any())
            )
        return max(1, self.config.epochs * self.batches_per_epoch * max(1, per_batch))

    # --- epoch ----------------------------------------------------------------------------

    def run_epoch(self, train: Loader, val: Loader | None) -> dict[str, Any]:
        """Run (the rest of) epoch ``self.epoch`` and its end; returns its history row."""
        if self.batch_index == 0:
            self.meters = Meters()
            self.strategy.start_epoch()
        self.model.train()
        for cb in self.callbacks:
            cb.on_epoch_start(self)
        for batch in self._agreed_batches(iter(train.batches(self.epoch, start=self.batch_index))):
            started = time.perf_counter()
            batch = batch.to(self.device)
            self.train_batch(batch)
            self.batch_index += 1
            self.last_batch_size = batch.batch_size
            self.meters.samples += batch.batch_size
            self.meters.seconds += time.perf_counter() - started
            for cb in self.callbacks:
                cb.on_batch_end(self)
            if self.config.max_steps is not None and self.step >= self.config.max_steps:
                self.stop_training = True
                self.stop_reason = f"max_steps {self.config.max_steps} reached"
                break
            if self.stop_training:  # a callback ended the run mid-epoch (e.g. a time budget)
                break
        row = self.end_epoch(val)
        for cb in self.callbacks:
            cb.on_epoch_end(self, row)
        return row

    def train_batch(self, batch: SequenceBatch) -> None:
        """All updates of one batch, as the BPTT strategy cuts it."""
        self.strategy.train_batch(self, batch)

    def end_epoch(self, val: Loader | None) -> dict[str, Any]:
        """Epoch means, validation, reduce-on-plateau; appends and returns the history row."""
        row: dict[str, Any] = {"epoch": self.epoch, "step": self.step}
        row.update(self.meters.summary("train", self._reduce, training=True))
        if val is not None:
            row.update(self.evaluate(val, prefix="val"))
        row["lr"] = self.lr_at(max(self.step - 1, 0))
        row["seconds"] = self.meters.seconds
        # A monitor this run never produces would leave early stopping, the best checkpoint and
        # the best weights silently idle: say so after the first epoch, with what exists.
        check_monitor(row, self.config.monitor, has_validation=val is not None)
        if self.plateau is not None:
            value = monitored(row, self.config.monitor, "reduce-on-plateau")
            if self.plateau.update(value):
                self.log(f"{self.config.monitor} has not improved for "
                         f"{self.plateau.patience} epoch(s): learning rate × "
                         f"{self.plateau.factor:g} (now {self.lr_at(self.step):.3g})")
        self.history.add_epoch(row)
        # The next epoch starts here; a checkpoint written by on_epoch_end resumes there.
        self.epoch += 1
        self.batch_index = 0
        return row

    # --- one update -----------------------------------------------------------------------

    def update(self, batch: SequenceBatch, state: State | None) -> State:
        """One optimiser update on ``batch`` from ``state``; returns the final state (still
        attached to the graph; strategies detach it before reuse)."""
        outputs, final = self.forward(batch, state)
        loss = self.compute_loss(outputs, batch)
        value = self.check_loss(loss, batch)
        if self.dist.enabled and self._targets_total:
            # DDP averages the ranks' gradients: weighting each rank's mean loss by its share
            # of the targets makes that average the gradient of the mean over all targets, as
            # one process on the global batch computes (the factor is 1 when shares are equal).
            share = batch.num_targets * self.dist.world_size / self._targets_total
            if share != 1.0:
                loss = loss * share
        self.backward(loss)
        clip = self.optimizer_step()
        self.meters.add_loss(value, batch.num_targets)
        self.meters.add_metrics(model_metrics(self.model, outputs.detach(), batch))
        self.meters.add_update(clip.norm, clip.clipped)
        self.history.add_step(step=self.step - 1, epoch=self.epoch, loss=value,
                              grad_norm=clip.norm, clipped=clip.clipped,
                              lr=self.lr_at(self.step - 1))
        return final

    def has_targets(self, batch: SequenceBatch) -> bool:
        """Whether any process's ``batch`` carries a target, i.e. whether to update on it.

        All processes must take the same decision: an update is a collective operation under
        DDP. A process without targets then contributes a zero gradient to the average.
        """
        if not self.dist.enabled:
            return batch.num_targets > 0
        return self._reduce([float(batch.num_targets)])[0] > 0

    def forward(self, batch: SequenceBatch, state: State | None) -> tuple[Tensor, State]:
        """``model(batch.inputs, state, lengths=batch.lengths)`` through DDP when distributed."""
        return run_model(self.module, batch, state)

    def compute_loss(self, outputs: Tensor, batch: SequenceBatch) -> Tensor:
        """The model's scalar loss."""
        loss = self.model.loss(outputs, batch)
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            raise TypeError(
                f"{type(self.model).__name__}.loss must return a 0-dim tensor, got "
                + (f"shape {tuple(loss.shape)}" if isinstance(loss, Tensor)
                   else type(loss).__name__)
            )
        return loss

    def check_loss(self, loss: Tensor, batch: SequenceBatch) -> float:
        """Divergence guard on the loss, agreed by all processes; returns the mean loss over
        processes (the value logged)."""
        local = float(loss.detach())
        finite = math.isfinite(local)
        weighted, count, bad = self._reduce(
            [local * batch.num_targets if finite else 0.0, float(batch.num_targets),
             0.0 if finite else 1.0]
        )
        if bad:
            self.optimizer.zero_grad(set_to_none=True)
            shown = local if not finite else float("nan")
            raise divergence_error("loss", shown, self._report())
        value = weighted / count if count else local
        self._targets_total = count
        if self.first_loss is None:
            self.first_loss, self.first_loss_step = value, self.step
        elif is_explosion(value, self.first_loss, self.divergence_factor):
            self.optimizer.zero_grad(set_to_none=True)
            raise explosion_error(value, self.first_loss, self.first_loss_step or 0,
                                  self._report(), self.divergence_factor)
        self.last_finite_loss, self.last_finite_step = value, self.step
        return value

    def backward(self, loss: Tensor) -> None:
        """Gradients of the loss (DDP averages them over processes here)."""
        loss.backward()

    def optimizer_step(self) -> ClipResult:
        """Set the learning rate, clip, check the gradient, step, check the weights."""
        c = self.config
        set_lr(self.optimizer, self.lr_at(self.step))
        clip = clip_gradients(self.model.parameters(), max_norm=c.clip_norm,
                              max_value=c.clip_value)
        if not math.isfinite(clip.norm):
            self.optimizer.zero_grad(set_to_none=True)
            raise divergence_error("gradient norm", clip.norm, self._report())
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        finite = torch.stack([torch.isfinite(p).all() for p in self.model.parameters()])
        if not bool(finite.all()):  # one device sync for all parameters
            raise divergence_error("weights", float("nan"), self._report())
        self.step += 1
        return clip

    def _report(self) -> DivergenceReport:
        path, saved = self.last_checkpoint if self.last_checkpoint else (None, None)
        return DivergenceReport(
            step=self.step, epoch=self.epoch, batch=self.batch_index, lr=self.lr_at(self.step),
            last_finite_loss=self.last_finite_loss, last_finite_step=self.last_finite_step,
            clip_norm=self.config.clip_norm, checkpoint=path, checkpoint_step=saved,
            writes_checkpoints=any(isinstance(cb, ModelCheckpoint) for cb in self.callbacks),
        )

    # --- evaluation -----------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, loader: Loader, prefix: str = "test") -> dict[str, float]:
        """Loss and metrics over ``loader`` without gradient, e.g. ``{'test_loss': ...,
        'test_mse': ...}``; exact means over all targets (and all processes)."""
        if not isinstance(loader, Loader):
            raise TypeError(f"Trainer.evaluate: loader must be a Loader, got "
                            f"{type(loader).__name__}")
        was_training = self.model.training
        self.model.eval()
        self.strategy.start_evaluation()
        meters = Meters()
        try:
            for batch in loader.batches(0):
                batch = batch.to(self.device)
                if not batch.num_targets:
                    continue
                outputs = self.strategy.eval_batch(self, batch)
                meters.add_loss(float(self.model.loss(outputs, batch)), batch.num_targets)
                meters.add_metrics(model_metrics(self.model, outputs, batch))
        finally:
            self.model.train(was_training)
        return meters.summary(prefix, self._reduce)

    # --- checkpoints ----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (see :mod:`rnnkit.train.checkpoint`)."""
        names: dict[str, int] = {}
        callbacks = {}
        for cb in self.callbacks:
            key = type(cb).__name__
            names[key] = names.get(key, 0) + 1
            callbacks[key if names[key] == 1 else f"{key}#{names[key]}"] = cb.state_dict()
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": {"plateau": None if self.plateau is None else self.plateau.state_dict()},
            "rng": rng_state(),
            "progress": {"epoch": self.epoch, "batch": self.batch_index, "step": self.step,
                         "stop": self.stop_training, "world_size": self.dist.world_size},
            "strategy": {"name": self.strategy.describe(), "state": self.strategy.state_dict()},
            "meters": self.meters.state_dict(),
            "callbacks": callbacks,
            "history": self.history.state_dict(),
            "guard": {"last_finite_loss": self.last_finite_loss,
                      "last_finite_step": self.last_finite_step,
                      "first_loss": self.first_loss, "first_loss_step": self.first_loss_step},
            "config": self.config.to_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (model and optimiser move to this trainer's device)."""
        saved_strategy = state["strategy"]["name"]
        if saved_strategy != self.strategy.describe():
            raise ValueError(
                f"Trainer: the checkpoint was trained with strategy {saved_strategy}, this "
                f"trainer uses {self.strategy.describe()}; resume with the same bptt, k1 and k2"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.plateau is not None and state["schedule"]["plateau"] is not None:
            self.plateau.load_state_dict(state["schedule"]["plateau"])
        progress = state["progress"]
        self.epoch, self.batch_index = progress["epoch"], progress["batch"]
        self.step, self.stop_training = progress["step"], progress["stop"]
        saved_world = int(progress.get("world_size", 1))
        if saved_world != self.dist.world_size and self.batch_index:
            # Batch i of a run of W processes is global batch i of W × batch_size sequences:
            # continue at the batch that holds the first sequence not yet trained on (at most
            # one global batch is seen twice; whole epochs carry over exactly).
            before = self.batch_index
            self.batch_index = before * saved_world // self.dist.world_size
            self.log(f"the checkpoint was written by {saved_world} process(es), this run has "
                     f"{self.dist.world_size}: batch {before} of its epoch is batch "
                     f"{self.batch_index} here")
        self.strategy.load_state_dict(state["strategy"]["state"])
        self.meters.load_state_dict(state["meters"])
        saved = state["callbacks"]
        names: dict[str, int] = {}
        for cb in self.callbacks:
            key = type(cb).__name__
            names[key] = names.get(key, 0) + 1
            key = key if names[key] == 1 else f"{key}#{names[key]}"
            if key in saved:
                cb.load_state_dict(saved[key])
        self.history.load_state_dict(state["history"])
        self.last_finite_loss = state["guard"]["last_finite_loss"]
        self.last_finite_step = state["guard"]["last_finite_step"]
        # Checkpoints written before the explosion check lack these: the check then starts
        # from the first update after the resume.
        self.first_loss = state["guard"].get("first_loss")
        self.first_loss_step = state["guard"].get("first_loss_step")
        set_rng_state(state["rng"])

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write a full checkpoint atomically (call on rank 0; other ranks need not)."""
        written = save_checkpoint(path, self.state_dict())
        self.last_checkpoint = (str(written), self.step)
        return written
