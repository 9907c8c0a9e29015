"""The task-model protocol: everything the trainer knows about a model.

Shape legend: B batch, T time steps, F features, O outputs per step, S state width.

A task model is a ``torch.nn.Module`` with three things:

``forward(inputs, state=None, *, lengths=None) -> (outputs, state)``
    ``inputs`` is ``batch.inputs`` (B, T, F) and ``lengths`` is ``batch.lengths`` (B,) or None;
    ``outputs`` is (B, T, ...) with one entry per step. ``state`` is the recurrent state: ``None``
    means zeros, otherwise what a previous call returned (a tensor or a tuple of tensors, each
    with the batch on dim 1 like torch's ``h_n`` (L·D, B, H) — see :data:`STATE_BATCH_DIM`).
    The returned state is the one after each sample's last real step. Truncated BPTT and
    stateful streams pass it back in for the next chunk, detached; full BPTT never does.

``loss(outputs, batch) -> Tensor``
    A scalar: the *mean* over the (sample, step) pairs where ``batch.mask`` is True
    (``batch.targets`` holds the targets, aligned with the inputs). The trainer weights each
    batch's loss by ``batch.num_targets`` when it averages over an epoch or across processes.

``metrics(outputs, batch) -> {name: (sum, count)}`` (optional)
    Each metric as a sum and a count over the batch, so that the epoch value (sum of sums over
    sum of counts) is exact whatever the batch sizes and however many processes there are.

How a batch maps to inputs and targets is fixed by :class:`rnnkit.data.SequenceBatch`: inputs,
per-step targets, a target mask, lengths. Per-sequence targets sit at the last real step, masked
elsewhere. Because everything is aligned on the time axis, the trainer can cut a batch into
chunks for truncated BPTT without knowing the task.

A batch may carry more model inputs than ``inputs``: when it has a method
``forward_kwargs() -> {name: tensor}``, the trainer passes those as further keyword arguments,
``model(inputs, state, lengths=..., **batch.forward_kwargs())``. A sequence-to-sequence batch
(:class:`rnnkit.data.seq2seq_batching.Seq2SeqBatch`) sends its source this way, while
``inputs``/``targets``/``mask`` stay the (shifted) target, so loss, metrics and epoch means
work unchanged; such a batch refuses ``time_slice`` and is trained with full BPTT.

The forward is always called through ``module(...)`` (``__call__``), never a custom method, so
that hooks and ``DistributedDataParallel`` see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, Union, runtime_checkable

from torch import Tensor

from rnnkit.errors import RNNKitError

if TYPE_CHECKING:
    from rnnkit.data import SequenceBatch

#: A recurrent state: a tensor or a (nested) tuple of tensors.
State = Union[Tensor, tuple["State", ...]]  # noqa: UP007 - a recursive alias needs Union

#: The batch dimension of every state tensor (torch's convention: h_n is (L·D, B, H)).
STATE_BATCH_DIM = 1


@runtime_checkable
class TaskModel(Protocol):
    """What :class:`rnnkit.train.Trainer` needs from a model (see the module docstring)."""

    def __call__(
        self, inputs: Tensor, state: State | None = None, *, lengths: Tensor | None = None
    ) -> tuple[Tensor, State]: ...

    def loss(self, outputs: Tensor, batch: SequenceBatch) -> Tensor: ...


class ProtocolError(RNNKitError, TypeError):
    """A model does not implement the task-model protocol; the message says what is missing."""


def check_task_model(model: object) -> None:
    """Raise :class:`ProtocolError` unless ``model`` is an ``nn.Module`` with ``loss``."""
    import torch.nn as nn

    if not isinstance(model, nn.Module):
        raise ProtocolError(
            f"Trainer: model must be a torch.nn.Module implementing the task-model protocol, "
            f"got {type(model).__name__}"
        )
    if not callable(getattr(model, "loss", None)):
        raise ProtocolError(
            f"Trainer: model {type(model).__name__} has no loss(outputs, batch) method; a task "
            "model returns a scalar mean loss over the batch's masked targets"
        )


def model_metrics(model: object, outputs: Tensor, batch: SequenceBatch) -> dict[str, tuple]:
    """The model's ``metrics(outputs, batch)`` as ``{name: (sum, count)}``, ``{}`` if it has none.

    Raises:
        ProtocolError: a metric is not a (sum, count) pair.
    """
    fn = getattr(model, "metrics", None)
    if fn is None:
        return {}
    result = fn(outputs, batch)
    if not isinstance(result, Mapping):
        raise ProtocolError(
            f"{type(model).__name__}.metrics must return a dict of name -> (sum, count), "
            f"got {type(result).__name__}"
        )
    for name, value in result.items():
        if not (isinstance(value, tuple) and len(value) == 2):
            raise ProtocolError(
                f"{type(model).__name__}.metrics: metric {name!r} must be a (sum, count) pair, "
                f"got {value!r}"
            )
    return dict(result)
