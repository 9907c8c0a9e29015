"""TensorBoard logging as a training-engine callback (``--tensorboard`` / ``tensorboard = true``).

Writes event files under ``<out_dir>/tensorboard`` with :mod:`torch.utils.tensorboard`, so
``tensorboard --logdir runs/`` shows every run beside the others:

* per update (x axis: the update number): ``update/loss``, ``update/grad_norm`` (the global
  2-norm before clipping), ``update/clipped`` (1 when the update was clipped), ``update/lr``;
* per epoch (x axis: the 1-based epoch): every number of the epoch's history row as
  ``epoch/<name>`` — ``train_loss``, ``val_loss``, the task's metrics (``val_accuracy``,
  ``val_mae_scaled``, ...), ``lr``, ``train_grad_norm``, ``train_clipped_share`` (the share of
  the epoch's updates that were clipped), ``seconds``;
* per epoch: histograms of every parameter (``weights/<name>``) and of its gradient at the
  epoch's last update (``gradients/<name>``, after clipping: the gradient the optimiser used).

Gradients are caught by a post-accumulate hook on each parameter, because the trainer frees
them (``zero_grad(set_to_none=True)``) right after each step. Only the main process writes.
The model graph is not written: rnnkit's recurrent layers run compiled numba kernels, which
``torch.jit.trace`` (what ``SummaryWriter.add_graph`` uses) cannot follow.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.errors import RNNKitError
from rnnkit.train.callbacks import Callback

if TYPE_CHECKING:
    from rnnkit.train.trainer import Trainer

#: The folder of a run directory that holds the event files.
LOG_FOLDER = "tensorboard"


class TensorBoardDependencyError(RNNKitError, ImportError):
    """TensorBoard logging was asked for but the ``tensorboard`` package is not installed."""


def summary_writer_class() -> Any:
    """``torch.utils.tensorboard.SummaryWriter``, or a clear error naming the extra."""
    try:
        with warnings.catch_warnings():
            # tensorboard's own imports raise deprecation warnings of its dependencies.
            warnings.simplefilter("ignore")
            from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise TensorBoardDependencyError(
            "tensorboard=True needs the tensorboard package, which is not installed; install "
            f"it with: pip install rnnkit[tensorboard] ({err})"
        ) from None
    return SummaryWriter


class TensorBoardLogger(Callback):
    """Write scalars and histograms of a fit as TensorBoard event files (module docstring).

    Args:
        log_dir: the folder of the event files (made if missing).
    """

    def __init__(self, log_dir: str | Path) -> None:
        self.log_dir = Path(log_dir)
        self._writer_class = summary_writer_class()  # fail at once, before any training
        self._writer: Any = None
        self._grads: dict[str, Any] = {}
        self._hooks: list[Any] = []
        self._steps_seen = 0

    def on_fit_start(self, trainer: Trainer) -> None:
        if not trainer.is_main:
            return
        self._writer = self._writer_class(log_dir=str(self.log_dir))
        self._steps_seen = trainer.history.num_steps
        for name, p in trainer.model.named_parameters():
            if p.requires_grad:
                self._hooks.append(p.register_post_accumulate_grad_hook(self._keeper(name)))

    def _keeper(self, name: str) -> Any:
        def keep(p: Any) -> None:
            # The tensor itself: clipping rescales it in place before the step, so what is kept
            # is the gradient the optimiser used; zero_grad only drops the parameter's reference.
            self._grads[name] = p.grad

        return keep

    def on_batch_end(self, trainer: Trainer) -> None:
        if self._writer is None:
            return
        steps = trainer.history.steps
        while self._steps_seen < trainer.history.num_steps:
            i = self._steps_seen
            step = int(steps["step"][i])
            self._writer.add_scalar("update/loss", float(steps["loss"][i]), step)
            self._writer.add_scalar("update/grad_norm", float(steps["grad_norm"][i]), step)
            self._writer.add_scalar("update/clipped", float(bool(steps["clipped"][i])), step)
            self._writer.add_scalar("update/lr", float(steps["lr"][i]), step)
            self._steps_seen += 1

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        if self._writer is None:
            return
        epoch = int(row["epoch"]) + 1  # 1-based, as metrics.json's best_epoch
        for name, value in row.items():
            if name in ("epoch", "step") or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)) and math.isfinite(value):
                self._writer.add_scalar(f"epoch/{name}", float(value), epoch)
        for name, p in trainer.model.named_parameters():
            self._writer.add_histogram(f"weights/{name}", p.detach().cpu(), epoch)
            grad = self._grads.get(name)
            if grad is not None:
                self._writer.add_histogram(f"gradients/{name}", grad.detach().cpu(), epoch)
        self._writer.flush()

    def on_fit_end(self, trainer: Trainer) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        self._grads.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
