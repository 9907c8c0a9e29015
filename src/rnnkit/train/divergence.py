"""The divergence guard: stop at the first non-finite or exploding loss, gradient or weight.

A NaN or Inf spreads through every later update, so training that continues after one only
wastes time and overwrites good checkpoints. The trainer checks the loss before ``backward``,
the gradient norm before the optimiser step and the weights after it; the first failure raises
:class:`DivergenceError` naming the update, the last finite loss and what to try. Checkpoints
are written only between updates that passed, so the last one on disk stays loadable.

A loss can also explode and stay finite: with a learning rate of 1e9 and clipping, every update
moves the weights by about the learning rate, and the loss jumps from ~1 to ~1e19 while
gradients and weights remain finite numbers; such a run used to finish and save a model whose
errors were 1e20. So the loss is also compared with the first update's loss (that of the
initial weights): more than :data:`EXPLOSION_FACTOR` times it is divergence. No training that
makes progress gets there — a loss a million times worse than the untrained model's means the
weights are running away — and the reference is at least 1, so a tiny initial loss (targets
the untrained model already fits) cannot make ordinary noise look like an explosion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rnnkit.errors import RNNKitError

#: A loss more than this many times the first update's loss (at least 1) counts as divergence.
EXPLOSION_FACTOR = 1e6


def explosion_reference(first_loss: float) -> float:
    """The loss scale an exploding loss is measured against: ``max(|first loss|, 1)``.

    Losses can be negative (a Gaussian negative log-likelihood) or near zero at the start; the
    floor of 1 keeps ordinary noise on a tiny initial loss from counting as an explosion.
    """
    return max(abs(first_loss), 1.0)


def is_explosion(loss: float, first_loss: float | None,
                 factor: float | None = EXPLOSION_FACTOR) -> bool:
    """Whether a finite ``loss`` is more than ``factor`` × the first update's loss scale."""
    if first_loss is None or factor is None or not math.isfinite(loss):
        return False
    return loss > factor * explosion_reference(first_loss)


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


def divergence_error(what: str, value: float, report: DivergenceReport,
                     detail: str = "") -> DivergenceError:
    """The error for ``what`` ('loss', 'gradient norm', 'weights') being ``value``.

    ``detail`` follows the value in the message: how far an exploding loss has grown; its
    advice then leads with the command-line flag of the learning rate.
    """
    where = f"update {report.step} (epoch {report.epoch}, batch {report.batch})"
    if report.last_finite_loss is None:
        last = "no finite loss was seen before it"
    else:
        last = (f"the last finite loss was {report.last_finite_loss:.6g} "
                f"at update {report.last_finite_step}")
    if detail:
        advice = [f"a learning rate 10 to 1000 times lower (--lr, TrainConfig.lr; it is "
                  f"{report.lr:.3g} now)"]
    else:
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
    elif detail and report.checkpoint_step is not None and report.checkpoint_step >= report.step:
        # An exploding loss is measured on the weights of the update before: a checkpoint
        # written since then holds exactly those weights.
        saved = (f"the last checkpoint, {report.checkpoint} (written after "
                 f"{report.checkpoint_step} update(s)), already holds the weights that give this "
                 "loss: start over rather than resume from it")
    else:
        saved = (f"the last good checkpoint is {report.checkpoint}, written after "
                 f"{report.checkpoint_step} update(s)")
    shown = "nan" if math.isnan(value) else f"{value:g}"
    message = (
        f"Training diverged at {where}: the {what} is {shown}{detail}; {last}. "
        f"Try {', '.join(advice[:-1])} or {advice[-1]}. {state}; {saved}."
    )
    return DivergenceError(message, step=report.step, last_finite_loss=report.last_finite_loss,
                           checkpoint=report.checkpoint)


def explosion_error(value: float, first_loss: float, first_step: int,
                    report: DivergenceReport, factor: float = EXPLOSION_FACTOR) -> DivergenceError:
    """The error for a finite loss ``value`` that exploded past ``factor`` × the first loss."""
    detail = (
        f", more than {factor:g} times the first update's loss ({first_loss:.6g} at update "
        f"{first_step}, from the untrained weights): the loss is exploding, the weights are "
        "running away"
    )
    return divergence_error("loss", value, report, detail)
