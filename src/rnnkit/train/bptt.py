"""Backpropagation-through-time strategies: full, truncated (k1, k2) and stateful streams.

Shape legend: B batch, T time steps of a batch, k1 steps between updates, k2 steps of gradient.

A strategy decides how one batch becomes forward passes and optimiser updates; the trainer
supplies the update itself (:meth:`rnnkit.train.Trainer.update`: forward → loss → backward →
clip → step). Worked example for T = 6, k1 = 2, k2 = 3 (``|`` detached state, ``=`` steps in
the gradient window, ``*`` steps whose targets enter that update's loss)::

    step         0  1  2  3  4  5
    update 1    |=  =                  window [0, 2), loss on 0 1
                 *  *
    update 2       |=  =  =            window [1, 4), loss on 2 3 (step 1 is burn-in)
                       *  *
    update 3             |=  =  =      window [3, 6), loss on 4 5 (step 3 is burn-in)
                             *  *

Each update backpropagates over the last k2 steps before its end, so a window starts
k2 − k1 steps before the new targets (a *burn-in* that is recomputed with gradient, from the
detached state saved at its start). With k1 = k2 windows do not overlap and nothing is
recomputed; with k1 = k2 = T it is exactly full BPTT.

* :class:`FullBPTT` — one update per batch over whole (padded, length-aware) sequences, state
  starting at zero.
* :class:`TruncatedBPTT` — windows as above; the state starts at zero for every batch and is
  carried (detached) from window to window.
* :class:`StatefulBPTT` — truncated BPTT whose state also carries from batch to batch (row j of
  batch i continues row j of batch i − 1, see :class:`rnnkit.data.StreamLoader`); rows with
  ``batch.reset`` and every row at the start of an epoch begin from zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from rnnkit.data.batching import SequenceBatch
from rnnkit.train.protocol import STATE_BATCH_DIM, State

if TYPE_CHECKING:
    from rnnkit.train.trainer import Trainer


# --- state helpers (states are tensors or nested tuples of tensors, batch on dim 1) ---------


def map_state(fn: Callable[[Tensor], Tensor], state: State) -> State:
    """Apply ``fn`` to every tensor of a state."""
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, (tuple, list)):
        return tuple(map_state(fn, s) for s in state)
    raise TypeError(
        f"a recurrent state must be a tensor or a tuple of tensors, got {type(state).__name__}"
    )


def zip_state(fn: Callable[[Tensor, Tensor], Tensor], a: State, b: State) -> State:
    """Combine two states of the same structure tensor by tensor."""
    if isinstance(a, Tensor):
        return fn(a, b)
    return tuple(zip_state(fn, x, y) for x, y in zip(a, b, strict=True))


def detach_state(state: State | None) -> State | None:
    """The same state cut from the graph: no gradient flows back past it."""
    return None if state is None else map_state(lambda t: t.detach(), state)


def _rows(flags: Tensor, like: Tensor) -> Tensor:
    """A (B,) bool as a mask that broadcasts over a state tensor's batch dimension."""
    shape = [1] * like.dim()
    shape[STATE_BATCH_DIM] = -1
    return flags.to(like.device).view(shape)


def reset_rows(state: State | None, reset: Tensor | None) -> State | None:
    """Zero the state of the rows where ``reset`` (B,) is True (they start a new stream)."""
    if state is None or reset is None or not bool(reset.any()):
        return state
    if bool(reset.all()):
        return None  # every row starts over: the model's zero initial state
    return map_state(lambda t: t.masked_fill(_rows(reset, t), 0.0), state)


def run_model(
    module: nn.Module, batch: SequenceBatch, state: State | None
) -> tuple[Tensor, State]:
    """``module(batch.inputs, state, lengths=batch.lengths)``, also for rows of length 0.

    A batch with a ``forward_kwargs()`` method passes what it returns as further keyword
    arguments (a sequence-to-sequence batch's source; see :mod:`rnnkit.train.protocol`).

    A time slice can hold rows that ended earlier (length 0). Layers need lengths >= 1, so such
    rows run one dummy step, then get zero outputs and keep their incoming state.
    """
    lengths = batch.lengths
    extra = batch.forward_kwargs() if hasattr(batch, "forward_kwargs") else {}
    if lengths is None or not bool((lengths == 0).any()):
        return module(batch.inputs, state, lengths=lengths, **extra)
    empty = lengths == 0  # (B,)
    outputs, new_state = module(batch.inputs, state, lengths=lengths.clamp(min=1), **extra)
    rows = empty.to(outputs.device).view(-1, *([1] * (outputs.dim() - 1)))
    outputs = outputs.masked_fill(rows, 0.0)
    old = state if state is not None else map_state(torch.zeros_like, new_state)
    new_state = zip_state(lambda new, prev: torch.where(_rows(empty, new), prev, new),
                          new_state, old)
    return outputs, new_state


# --- windows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One update of truncated BPTT over steps ``[start, stop)`` of a batch.

    Attributes:
        start: first step of the forward with gradient (the state there is detached).
        first_target: steps ``[start, first_target)`` are burn-in: run, but not in the loss.
        stop: end of the window (exclusive).
        next_start: where the next window starts; its state is taken from this window's run.
    """

    start: int
    first_target: int
    stop: int
    next_start: int


def windows(num_steps: int, k1: int, k2: int) -> Iterator[Window]:
    """The truncated-BPTT windows of a batch of T = ``num_steps`` steps (see module docstring).

    Update i ends at e_i = min((i + 1)·k1, T), takes the loss on [i·k1, e_i) and
    backpropagates over [max(0, e_i − k2), e_i).
    """
    if not 1 <= k1 <= k2:
        raise ValueError(f"windows: need 1 <= k1 <= k2, got k1={k1}, k2={k2}")
    for first in range(0, num_steps, k1):
        stop = min(first + k1, num_steps)
        next_stop = min(stop + k1, num_steps)
        yield Window(
            start=max(0, stop - k2),
            first_target=first,
            stop=stop,
            next_start=max(0, next_stop - k2) if stop < num_steps else stop,
        )


# --- strategies ------------------------------------------------------------------------------


class BPTTStrategy:
    """How a batch becomes updates. Subclasses override :meth:`train_batch` (and, for state that
    outlives a batch, :meth:`start_epoch`, :meth:`state_dict` and :meth:`load_state_dict`)."""

    name = "base"

    def start_epoch(self) -> None:
        """Called before the first batch of every epoch (not when resuming mid-epoch)."""

    def train_batch(self, trainer: Trainer, batch: SequenceBatch) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement train_batch")

    def start_evaluation(self) -> None:
        """Called before the first batch of an evaluation pass."""

    def eval_batch(self, trainer: Trainer, batch: SequenceBatch) -> Tensor:
        """Outputs for one batch without gradient: one pass over the whole batch."""
        outputs, _ = run_model(trainer.model, batch, None)
        return outputs

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def describe(self) -> str:
        return self.name


class FullBPTT(BPTTStrategy):
    """One update per batch: forward over the whole sequences from a zero state, backward
    through every step (length-aware: padding is neither run nor in the loss)."""

    name = "full"

    def train_batch(self, trainer: Trainer, batch: SequenceBatch) -> None:
        if trainer.has_targets(batch):
            trainer.update(batch, None)


class TruncatedBPTT(BPTTStrategy):
    """Truncated BPTT(k1, k2): an update every k1 steps, each backpropagating k2 steps.

    Args:
        k1: steps between updates; ``None`` means the whole batch (one update per batch).
        k2: steps the gradient flows back from an update's end; ``None`` means k1. k2 >= k1.

    The state crosses window boundaries detached. A window without any target (e.g. the early
    chunks of a sequence whose only target is at its end) makes no update; its state is still
    carried forward.
    """

    name = "truncated"
    carry_across_batches = False

    def __init__(self, k1: int | None = None, k2: int | None = None) -> None:
        for arg, value in (("k1", k1), ("k2", k2)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(
                    f"{type(self).__name__}: {arg} must be None or a positive int, got {value!r}"
                )
        if k1 is not None and k2 is not None and k2 < k1:
            raise ValueError(f"{type(self).__name__}: k2 must be >= k1, got k1={k1}, k2={k2}")
        if k1 is None and k2 is not None:
            raise ValueError(f"{type(self).__name__}: k2={k2} needs k1 to be set too")
        self.k1, self.k2 = k1, k2
        self.state: State | None = None  # carried between batches (stateful only)

    def _initial_state(self, batch: SequenceBatch) -> State | None:
        return None

    def train_batch(self, trainer: Trainer, batch: SequenceBatch) -> None:
        T = batch.num_steps
        k1 = self.k1 or T
        k2 = self.k2 or k1
        state = self._initial_state(batch)  # the detached state at the window's start
        for w in windows(T, k1, k2):
            window = batch.time_slice(w.start, w.stop).without_targets_before(
                w.first_target - w.start
            )
            next_state = state
            if w.start < w.next_start < w.stop:
                # The next window starts inside this one: run up to it first, without gradient
                # and with the weights of this update, so it sees what this forward saw.
                with torch.no_grad():
                    head = batch.time_slice(w.start, w.next_start)
                    _, next_state = run_model(trainer.model, head, state)
            if trainer.has_targets(window):
                final = trainer.update(window, state)
            elif w.next_start == w.stop:
                with torch.no_grad():
                    _, final = run_model(trainer.model, window, state)
            else:
                final = None  # not needed: the next window starts before this one's end
            if w.next_start == w.stop:
                next_state = final
            state = detach_state(next_state)
        self._end_batch(state)

    def _end_batch(self, state: State | None) -> None:
        """What to do with the state after a batch's last window (dropped here)."""

    def describe(self) -> str:
        k1 = "T" if self.k1 is None else self.k1
        k2 = k1 if self.k2 is None else self.k2
        return f"{self.name}(k1={k1}, k2={k2})"


class StatefulBPTT(TruncatedBPTT):
    """Stateful streams: truncated BPTT whose state carries over to the next batch.

    Row j of batch i continues row j of batch i − 1 (a long series cut into B parallel streams,
    :class:`rnnkit.data.StreamLoader`). The gradient never crosses a batch boundary: the state
    handed to the next batch is detached, and windows start afresh at step 0 of every batch.
    The state is reset to zero at the start of every epoch and of every evaluation pass, and for
    the rows a batch marks with ``reset`` (a new stream starts there). The carried state is part
    of every checkpoint, so a run resumed mid-epoch continues exactly.

    Args:
        k1, k2: as :class:`TruncatedBPTT`; ``None`` (default) makes one update per batch.
    """

    name = "stateful"
    carry_across_batches = True

    def __init__(self, k1: int | None = None, k2: int | None = None) -> None:
        super().__init__(k1, k2)
        self.eval_state: State | None = None

    def start_epoch(self) -> None:
        self.state = None

    def _initial_state(self, batch: SequenceBatch) -> State | None:
        state = _fit_rows(self.state, batch.batch_size)
        if state is not None:  # a state loaded from a checkpoint sits on the CPU
            state = map_state(lambda t: t.to(batch.inputs.device), state)
        return reset_rows(state, batch.reset)

    def _end_batch(self, state: State | None) -> None:
        self.state = state

    def start_evaluation(self) -> None:
        self.eval_state = None

    def eval_batch(self, trainer: Trainer, batch: SequenceBatch) -> Tensor:
        state = reset_rows(_fit_rows(self.eval_state, batch.batch_size), batch.reset)
        outputs, final = run_model(trainer.model, batch, state)
        self.eval_state = detach_state(final)
        return outputs

    def state_dict(self) -> dict[str, Any]:
        return {"state": self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        carried = state.get("state")
        self.state = None if carried is None else map_state(lambda t: t, carried)


def _fit_rows(state: State | None, batch_size: int) -> State | None:
    """Drop a carried state whose batch size no longer matches (a loader of another width)."""
    if state is None:
        return None
    first = state
    while not isinstance(first, Tensor):
        first = first[0]
    return state if first.shape[STATE_BATCH_DIM] == batch_size else None


def bidirectional_layers(model: nn.Module) -> list[str]:
    """Names of the innermost submodules of ``model`` that run in both directions
    (``bidirectional`` set, as on ``torch.nn.RNN/LSTM/GRU`` and ``rnnkit.nn`` layers; a wrapper
    that only passes the flag on is left out); '' is the model itself."""
    flagged = [name for name, module in model.named_modules()
               if getattr(module, "bidirectional", False) is True]
    return [name for name in flagged
            if not any(other != name and (name == "" or other.startswith(name + "."))
                       for other in flagged)]


def check_strategy_fits(model: nn.Module, strategy: BPTTStrategy, *,
                        owner: str = "Trainer") -> None:
    """Refuse truncated or stateful BPTT for a model with a bidirectional layer.

    Truncation cuts each sequence into windows run forward in time, and a stateful stream
    carries the state from one batch into the next; a backward direction reads each sequence
    from its end, so it would see only the window's end (not the sequence's) and would carry
    a state backwards across unrelated windows and batches. A :class:`TruncatedBPTT` with
    ``k1=None`` that carries nothing (one window per whole batch) is full BPTT and is allowed.
    """
    if not isinstance(strategy, TruncatedBPTT):
        return
    if strategy.k1 is None and not strategy.carry_across_batches:
        return
    layers = bidirectional_layers(model)
    if not layers:
        return
    shown = ", ".join(repr(name) if name else type(model).__name__ for name in layers[:3])
    raise ValueError(
        f"{owner}: bptt={strategy.name!r} ({strategy.describe()}) needs a unidirectional "
        f"model, got a bidirectional one ({shown}): a backward direction reads each sequence "
        "from its end, so it cannot be cut into windows run forward in time nor carry its state "
        "from one batch to the next; use bptt='full' (--bptt full) or a unidirectional model "
        "(bidirectional=False)"
    )


def make_strategy(bptt: str, k1: int | None = None, k2: int | None = None) -> BPTTStrategy:
    """The strategy named by ``TrainConfig.bptt``: 'full', 'truncated' or 'stateful'."""
    if bptt == "full":
        if k1 is not None or k2 is not None:
            raise ValueError(f"make_strategy: k1/k2 apply to truncated or stateful, got {bptt!r}")
        return FullBPTT()
    if bptt == "truncated":
        return TruncatedBPTT(k1, k2)
    if bptt == "stateful":
        return StatefulBPTT(k1, k2)
    raise ValueError(
        f"make_strategy: bptt must be 'full', 'truncated' or 'stateful', got {bptt!r}"
    )
