"""The divergence guard: stop at the first non-finite loss, gradient or weight, and say why.

A NaN or Inf spreads through every later update, so training that continues after one only
wastes time and overwrites good checkpoints. The trainer checks the loss before ``backward``,
the gradient norm before the optimiser step and the weights after it; the first failure raises
:class:`DivergenceError` naming the update, the last finite loss and what to try. Checkpoints
are written only between updates that passed, so the last one on disk stays loadable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rnnkit.errors import RNNKitError


class DivergenceError(RNNKitError, FloatingPointError):
    """Training produced a non-finite loss, gradient or weight; see the message for advice.

    Attributes:
        step: the update (0-based) that failed.
        last_finite_loss: the last finite training loss seen, or None.
        checkpoint: the last good checkpoint on disk, or None.
    """

    def __init__(self, message: str, *, step: int, last_finite_loss: float | None,
                 checkpoint: str | None) -> None:
        super().__init__(message)
        self.step, self.last_finite_loss, self.checkpoint = step, last_finite_loss, checkpoint


@dataclass
class DivergenceReport:
    """Where a run stands when the guard fires (filled in by the trainer)."""

    step: int
    epoch: int
    batch: int
    lr: float
    last_finite_loss: float | None
    last_finite_step: int | None
    clip_norm: float | None
    checkpoint: str | None
    checkpoint_step: int | None
    writes_checkpoints: bool = False


def divergence_error(what: str, value: float, report: DivergenceReport) -> DivergenceError:
    """The error for ``what`` ('loss', 'gradient norm', 'weights') being ``value``."""
    where = f"update {report.step} (epoch {report.epoch}, batch {report.batch})"
    if report.last_finite_loss is None:
        last = "no finite loss was seen before it"
    else:
        last = (f"the last finite loss was {report.last_finite_loss:.6g} "
                f"at update {report.last_finite_step}")
    advice = [f"a lower learning rate (it is {report.lr:.3g} now)"]
    if report.clip_norm is None:
        advice.append("gradient clipping (e.g. TrainConfig(clip_norm=1.0))")
    else:
        advice.append(f"a smaller clip_norm (it is {report.clip_norm:g})")
    advice.append("checking the data for NaN/Inf values")
    if what == "weights":
        state = "The optimiser step made the weights non-finite"
    else:
        state = "The weights were not updated with this step"
    if report.checkpoint is None and report.writes_checkpoints:
        saved = ("no checkpoint has been written yet (they are written at the end of each epoch "
                 "and, with checkpoint_every, within epochs)")
    elif report.checkpoint is None:
        saved = "no checkpoint was written (set out_dir to keep one)"
    else:
        saved = (f"the last good checkpoint is {report.checkpoint}, written after "
                 f"{report.checkpoint_step} update(s)")
    shown = "nan" if math.isnan(value) else f"{value:g}"
    message = (
        f"Training diverged at {where}: the {what} is {shown}; {last}. "
        f"Try {', '.join(advice[:-1])} or {advice[-1]}. {state}; {saved}."
    )
    return DivergenceError(message, step=report.step, last_finite_loss=report.last_finite_loss,
                           checkpoint=report.checkpoint)
