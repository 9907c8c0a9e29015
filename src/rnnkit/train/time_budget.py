"""A wall-clock budget for a run: :class:`TimeBudget` stops training once it is spent.

The check runs after every batch (its optimiser updates done) and after every epoch, so the
run ends at a batch boundary, even in the middle of an epoch: the trainer then closes that
epoch as usual (validation, history row, checkpoints, best weights) and ends ``fit`` normally.
With truncated BPTT a batch holds several updates; the budget is checked after the last of them,
so the position stays one that a checkpoint can resume from.

:func:`parse_duration` reads budgets written by people: ``"90s"``, ``"30m"``, ``"1h30m"``,
``"2.5h"`` or ``"45"`` (seconds).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rnnkit.train.callbacks import Callback
from rnnkit.train.distributed import all_reduce_sum

if TYPE_CHECKING:
    from rnnkit.train.trainer import Trainer

__all__ = ["TimeBudget", "format_duration", "parse_duration"]

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_DURATION = re.compile(rf"(?:({_NUMBER})h)?\s*(?:({_NUMBER})m)?\s*(?:({_NUMBER})s)?")


def parse_duration(value: str | float, argument: str = "duration") -> float:
    """Seconds in a duration: ``"90s"``, ``"30m"``, ``"1h30m"``, ``"2.5h"``, ``"45"`` or a number.

    Units are ``h``, ``m`` and ``s``, each at most once and in that order; a bare number is
    seconds. The result must be finite and positive.

    Raises:
        ValueError: naming ``argument``, the accepted forms and the value received.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(_bad(argument, value))
    if isinstance(value, str):
        text = value.strip().lower()
        match = _DURATION.fullmatch(text) if text else None
        if re.fullmatch(_NUMBER, text):
            seconds = float(text)
        elif match and any(match.groups()):
            seconds = sum(float(part) * _UNITS[unit]
                          for part, unit in zip(match.groups(), "hms", strict=True) if part)
        else:
            raise ValueError(_bad(argument, value))
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{argument} must be a positive, finite duration, got {value!r}")
    return seconds


def _bad(argument: str, value: Any) -> str:
    return (f"{argument} must be a duration such as '90s', '30m', '1h30m' or '2.5h', or a "
            f"number of seconds, got {value!r}")


def format_duration(seconds: float) -> str:
    """A short text for ``seconds``: '45s', '30m', '1h30m', '2.5s' (inverse of
    :func:`parse_duration` for whole seconds)."""
    if seconds != int(seconds) or seconds < 60:
        return f"{seconds:g}s"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n)


class TimeBudget(Callback):
    """Stop training once ``seconds`` of wall-clock time have passed since fit started.

    Args:
        seconds: the budget, in seconds or as a duration text (see :func:`parse_duration`).
        clock: returns the time in seconds (default ``time.monotonic``); tests pass a fake.

    When the budget ends the run, the callback sets ``trainer.stop_training`` and
    ``trainer.stop_reason`` (e.g. ``"time budget 30m reached"``), and records
    :attr:`stopped` (True), :attr:`elapsed` (seconds at the stop) and :attr:`stopped_at_step`
    (updates done), for reports. Under data parallelism rank 0's clock decides and the
    decision is shared at every check, so every process stops after the same update.

    A run resumed from a checkpoint written after the budget stopped it gets a fresh budget
    and continues (a time stop is a pause, not a verdict on the model), unless something else
    had also ended it (early stopping, ``max_steps``, the last epoch).
    """

    def __init__(self, seconds: str | float,
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = parse_duration(seconds, "TimeBudget: seconds")
        self.clock = clock
        self.started: float | None = None
        self.stopped = False
        self.elapsed: float | None = None
        self.stopped_at_step: int | None = None

    @property
    def reason(self) -> str:
        """The stop reason this budget gives, e.g. 'time budget 30m reached'."""
        return f"time budget {format_duration(self.seconds)} reached"

    def on_fit_start(self, trainer: Trainer) -> None:
        self.started = self.clock()
        if self.stopped and trainer.stop_training and not _finished_otherwise(trainer):
            trainer.stop_training = False
            trainer.stop_reason = None
        self.stopped, self.elapsed, self.stopped_at_step = False, None, None

    def on_batch_end(self, trainer: Trainer) -> None:
        self._check(trainer)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        # Validation can take long too: do not start another epoch past the budget.
        self._check(trainer)

    def _check(self, trainer: Trainer) -> None:
        if self.started is None:  # fit not started through the trainer (direct hook calls)
            self.started = self.clock()
        elapsed = self.clock() - self.started
        over = elapsed >= self.seconds
        if trainer.dist.enabled:  # every process calls this at the same point: rank 0's
            # clock decides for all (its elapsed time is the one reported), so all stop after
            # the same update
            mine = float(over) if trainer.is_main else 0.0
            over = all_reduce_sum([mine], trainer.dist, trainer.device)[0] > 0
        if over and not trainer.stop_training:
            self.stopped, self.elapsed, self.stopped_at_step = True, elapsed, trainer.step
            trainer.stop_training = True
            trainer.stop_reason = self.reason
            trainer.log(f"{self.reason} after {elapsed:.1f}s: stopping after update "
                        f"{trainer.step} (epoch {trainer.epoch + 1})")

    def state_dict(self) -> dict[str, Any]:
        return {"stopped": self.stopped}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stopped = bool(state.get("stopped", False))


def _finished_otherwise(trainer: Trainer) -> bool:
    """Whether a restored run would be over even without the time stop."""
    c = trainer.config
    if trainer.epoch >= c.epochs or (c.max_steps is not None and trainer.step >= c.max_steps):
        return True
    return any(getattr(cb, "stopped_epoch", None) is not None for cb in trainer.callbacks)
