"""Batches of sequences and two loaders with a seeded, resumable order.

Shape legend: N sequences (or steps of a long series), B batch, T time steps, F features,
``*`` the trailing shape of a target.

:class:`SequenceBatch` is what the training engine consumes: batch-first inputs, per-step targets
aligned with them, a mask that says which (sample, step) pairs carry a target, per-sample
lengths, and for stateful streams which rows start a new stream. A per-sequence target (one
number per sequence, as in the adding problem) is a per-step target masked to the sequence's last
real step, so full, truncated and stateful training can all cut a batch along time the same way.

Both loaders draw their order from ``(seed, epoch)`` alone, so ``batches(epoch, start=k)``
resumes an epoch at batch k with exactly the batches an uninterrupted run would see, and
``shard(rank, world_size)`` splits every batch across data-parallel processes such that the
union of the ranks' batch i is the single-process batch i of ``batch_size × world_size``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

TARGET_AT = ("every", "last")


@dataclass
class SequenceBatch:
    """One batch, batch-first.

    Attributes:
        inputs: (B, T, F) float features, or (B, T) integer ids.
        targets: (B, T, *) per-step targets aligned with ``inputs``.
        mask: (B, T) bool, True where a step carries a target. ``None`` on construction means
            every real step (``t < lengths[b]``) does.
        lengths: (B,) int64 real steps per sample (0 allowed for a row with nothing in a time
            slice), or ``None`` when every row has all T steps.
        reset: (B,) bool, for stateful streams: rows whose recurrent state is zeroed before this
            batch because they start a new stream. ``None``: no row starts one.
    """

    inputs: Tensor
    targets: Tensor
    mask: Tensor | None = None
    lengths: Tensor | None = None
    reset: Tensor | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.inputs, Tensor) or self.inputs.dim() < 2:
            raise ValueError(
                "SequenceBatch: inputs must be a (B, T, ...) tensor, got "
                + _describe(self.inputs)
            )
        B, T = self.inputs.shape[:2]
        if not isinstance(self.targets, Tensor) or tuple(self.targets.shape[:2]) != (B, T):
            raise ValueError(
                f"SequenceBatch: targets must be a tensor of shape ({B}, {T}, ...) aligned with "
                f"inputs, got {_describe(self.targets)}"
            )
        if self.lengths is not None:
            if tuple(self.lengths.shape) != (B,) or self.lengths.is_floating_point():
                raise ValueError(
                    f"SequenceBatch: lengths must be an integer tensor of shape ({B},), "
                    f"got {_describe(self.lengths)}"
                )
            if bool(((self.lengths < 0) | (self.lengths > T)).any()):
                raise ValueError(
                    f"SequenceBatch: lengths must be in [0, {T}], got {self.lengths.tolist()}"
                )
        if self.mask is None:
            self.mask = _valid_steps(self.lengths, B, T, self.inputs.device)
        elif tuple(self.mask.shape) != (B, T) or self.mask.dtype != torch.bool:
            raise ValueError(
                f"SequenceBatch: mask must be a bool tensor of shape ({B}, {T}), "
                f"got {_describe(self.mask)}"
            )
        if self.reset is not None and (
            tuple(self.reset.shape) != (B,) or self.reset.dtype != torch.bool
        ):
            raise ValueError(
                f"SequenceBatch: reset must be a bool tensor of shape ({B},), "
                f"got {_describe(self.reset)}"
            )

    @property
    def batch_size(self) -> int:
        """B."""
        return self.inputs.shape[0]

    @property
    def num_steps(self) -> int:
        """T."""
        return self.inputs.shape[1]

    @property
    def num_targets(self) -> int:
        """How many (sample, step) pairs carry a target: the weight of this batch's mean loss."""
        return int(self.mask.sum())

    def time_slice(self, start: int, stop: int) -> SequenceBatch:
        """Steps ``[start, stop)`` of every row, as a batch of ``stop − start`` steps.

        Lengths become ``clamp(lengths − start, 0, stop − start)`` (0: the row ended earlier);
        ``reset`` is kept only for a slice that starts at step 0. When every row is full the
        lengths are dropped (``None``) so that layers can take their faster unmasked path.
        """
        if not 0 <= start < stop <= self.num_steps:
            raise ValueError(
                f"SequenceBatch.time_slice: need 0 <= start < stop <= {self.num_steps}, "
                f"got start={start}, stop={stop}"
            )
        width = stop - start
        lengths = None
        if self.lengths is not None:
            lengths = (self.lengths - start).clamp(0, width)
            if bool((lengths == width).all()):
                lengths = None
        return SequenceBatch(
            inputs=self.inputs[:, start:stop],
            targets=self.targets[:, start:stop],
            mask=self.mask[:, start:stop],
            lengths=lengths,
            reset=self.reset if start == 0 else None,
        )

    def without_targets_before(self, step: int) -> SequenceBatch:
        """The same batch with no targets at steps ``< step`` (a burn-in prefix)."""
        mask = self.mask.clone()
        mask[:, :step] = False
        return replace(self, mask=mask)

    def to(self, device: torch.device | str) -> SequenceBatch:
        """The batch on ``device`` (lengths stay where they are: layers read them on the CPU)."""
        return SequenceBatch(
            inputs=self.inputs.to(device),
            targets=self.targets.to(device),
            mask=self.mask.to(device),
            lengths=self.lengths,
            reset=None if self.reset is None else self.reset.to(device),
        )


@runtime_checkable
class Loader(Protocol):
    """What the trainer needs from training and validation data.

    ``batches(epoch, start)`` yields the epoch's batches from index ``start`` on, in an order that
    depends only on the loader's seed and ``epoch``; ``len(loader)`` is the number of batches per
    epoch; ``shard(rank, world_size)`` is this process's part for data-parallel training.
    """

    def __len__(self) -> int: ...

    def batches(self, epoch: int, start: int = 0) -> Iterator[SequenceBatch]: ...

    def shard(self, rank: int, world_size: int) -> Loader: ...


class BatchLoader:
    """Mini-batches of whole (padded) sequences held in memory, in a seeded order.

    Args:
        inputs: (N, T, F) padded inputs (or (N, T) integer ids).
        targets: (N, T, *) per-step targets with ``target_at='every'``, or (N, *) one target per
            sequence with ``target_at='last'`` (placed at each sequence's last real step).
        lengths: (N,) real steps per sequence, each in [1, T]; ``None``: all T.
        batch_size: sequences per batch *per process*.
        shuffle: draw a new order every epoch from ``(seed, epoch)``; otherwise keep N's order.
        seed: the order's seed.
        drop_last: drop a final batch smaller than ``batch_size``.
        target_at: 'every' or 'last', as above.

    With ``shard(rank, world_size)`` the epoch's order is cut to a multiple of ``world_size``
    (the last N mod world_size sequences of that order are not used) and dealt round-robin, so
    rank r's batch i holds positions ``world_size·(i·batch_size + k) + r``.
    """

    def __init__(
        self,
        inputs: Tensor,
        targets: Tensor,
        *,
        lengths: Tensor | Sequence[int] | None = None,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        target_at: str = "every",
    ) -> None:
        name = "BatchLoader"
        _check_positive(name, "batch_size", batch_size)
        if target_at not in TARGET_AT:
            raise ValueError(
                f"{name}: target_at must be one of {list(TARGET_AT)}, got {target_at!r}"
            )
        if not isinstance(inputs, Tensor) or inputs.dim() < 2 or inputs.shape[0] == 0:
            raise ValueError(
                f"{name}: inputs must be an (N, T, ...) tensor with N >= 1, got {_describe(inputs)}"
            )
        N, T = inputs.shape[:2]
        if not isinstance(targets, Tensor) or targets.shape[0] != N:
            raise ValueError(
                f"{name}: targets must be a tensor with one entry per sequence ({N}), "
                f"got {_describe(targets)}"
            )
        if target_at == "every" and (targets.dim() < 2 or targets.shape[1] != T):
            raise ValueError(
                f"{name}: with target_at='every', targets must be (N, T, ...) = ({N}, {T}, ...), "
                f"got {tuple(targets.shape)} (use target_at='last' for one target per sequence)"
            )
        lens = None
        if lengths is not None:
            lens = torch.as_tensor(lengths)
            if lens.shape != (N,) or lens.is_floating_point():
                raise ValueError(
                    f"{name}: lengths must be {N} integers, got {_describe(lens)}"
                )
            lens = lens.to(torch.int64)
            if bool(((lens < 1) | (lens > T)).any()):
                raise ValueError(f"{name}: lengths must be in [1, {T}], got {lens.tolist()}")
        self.inputs, self.targets, self.lengths = inputs, targets, lens
        self.batch_size, self.shuffle, self.seed = batch_size, bool(shuffle), int(seed)
        self.drop_last, self.target_at = bool(drop_last), target_at
        self.rank, self.world_size = 0, 1

    def shard(self, rank: int, world_size: int) -> BatchLoader:
        """This process's part of every batch (see the class docstring)."""
        _check_rank(rank, world_size)
        part = BatchLoader.__new__(BatchLoader)
        part.__dict__.update(self.__dict__)
        part.rank, part.world_size = rank, world_size
        return part

    def _order(self, epoch: int) -> np.ndarray:
        N = self.inputs.shape[0]
        order = (
            np.random.default_rng([self.seed, epoch]).permutation(N) if self.shuffle
            else np.arange(N)
        )
        usable = N - N % self.world_size
        return order[:usable][self.rank :: self.world_size]

    def __len__(self) -> int:
        n = self.inputs.shape[0] // self.world_size
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def batches(self, epoch: int, start: int = 0) -> Iterator[SequenceBatch]:
        """The batches of ``epoch`` from batch index ``start`` on."""
        order = self._order(epoch)
        for i in range(start, len(self)):
            idx = torch.from_numpy(order[i * self.batch_size : (i + 1) * self.batch_size])
            yield self._make(idx)

    def _make(self, idx: Tensor) -> SequenceBatch:
        inputs = self.inputs.index_select(0, idx)
        lengths = None if self.lengths is None else self.lengths.index_select(0, idx)
        B, T = inputs.shape[:2]
        if self.target_at == "every":
            return SequenceBatch(inputs, self.targets.index_select(0, idx), lengths=lengths)
        last = (lengths - 1) if lengths is not None else torch.full((B,), T - 1)
        rows = torch.arange(B)
        per_sequence = self.targets.index_select(0, idx)  # (B, *)
        targets = per_sequence.new_zeros((B, T, *per_sequence.shape[1:]))
        targets[rows, last] = per_sequence
        mask = torch.zeros(B, T, dtype=torch.bool)
        mask[rows, last] = True
        return SequenceBatch(inputs, targets, mask=mask, lengths=lengths)


class StreamLoader:
    """Stateful streams: series cut into chunks; row j of batch i continues row j of batch i−1.

    Picture for one long series cut into B = 3 streams and chunks of T = 4 steps::

        series  a0 a1 ... a7 | b0 ... b7 | c0 ... c7        (N = 24 steps)
        batch 0 [a0..a3]  [b0..b3]  [c0..c3]   reset = all True
        batch 1 [a4..a7]  [b4..b7]  [c4..c7]   reset = all False (state carried)

    Args:
        series: one (N, F) tensor — cut into ``batch_size × world_size`` contiguous streams of
            equal length (the last N mod that count steps are dropped) — or a list of (N_k, F)
            tensors, each its own stream.
        targets: per-step targets with the same structure: (N, *) or a list of (N_k, *).
        batch_size: streams (rows) per batch *per process*.
        chunk_len: T, steps per batch.
        shuffle: with a list, the order in which series fill the rows is drawn per epoch from
            ``(seed, epoch)``; a stream itself is never reordered.
        seed: that order's seed.

    Rows ("lanes") take series one after another; a series is given to the lane that has the
    fewest chunks so far. The first chunk of a series has ``reset = True``; a series' last chunk
    may be shorter (its length says so); a lane that has run out gets empty rows (length 0, no
    targets) until the epoch ends with the longest lane.
    """

    def __init__(
        self,
        series: Tensor | Sequence[Tensor],
        targets: Tensor | Sequence[Tensor],
        *,
        batch_size: int,
        chunk_len: int,
        shuffle: bool = False,
        seed: int = 0,
    ) -> None:
        name = "StreamLoader"
        _check_positive(name, "batch_size", batch_size)
        _check_positive(name, "chunk_len", chunk_len)
        self.single = isinstance(series, Tensor)
        if self.single != isinstance(targets, Tensor):
            raise TypeError(
                f"{name}: series and targets must both be tensors or both lists of tensors, "
                f"got {type(series).__name__} and {type(targets).__name__}"
            )
        series_list = [series] if self.single else list(series)
        target_list = [targets] if self.single else list(targets)
        if not series_list or len(series_list) != len(target_list):
            raise ValueError(
                f"{name}: need one or more series and one target series each, got "
                f"{len(series_list)} series and {len(target_list)} target series"
            )
        for k, (x, y) in enumerate(zip(series_list, target_list, strict=True)):
            if not isinstance(x, Tensor) or x.dim() < 1 or x.shape[0] == 0:
                raise ValueError(f"{name}: series[{k}] must be a non-empty (N, F) tensor")
            if not isinstance(y, Tensor) or y.shape[0] != x.shape[0]:
                raise ValueError(
                    f"{name}: targets[{k}] must have one entry per step ({x.shape[0]}), "
                    f"got {_describe(y)}"
                )
        self.series, self.targets = series_list, target_list
        self.batch_size, self.chunk_len = batch_size, chunk_len
        self.shuffle, self.seed = bool(shuffle), int(seed)
        self.rank, self.world_size = 0, 1
        if self.single and series_list[0].shape[0] < batch_size:
            raise ValueError(
                f"{name}: a series of {series_list[0].shape[0]} steps cannot be cut into "
                f"batch_size={batch_size} streams"
            )

    def shard(self, rank: int, world_size: int) -> StreamLoader:
        """Lanes ``rank, rank + world_size, ...`` of the ``batch_size × world_size`` lanes."""
        _check_rank(rank, world_size)
        part = StreamLoader.__new__(StreamLoader)
        part.__dict__.update(self.__dict__)
        part.rank, part.world_size = rank, world_size
        return part

    def _streams(self) -> list[tuple[Tensor, Tensor]]:
        lanes = self.batch_size * self.world_size
        if not self.single:
            return list(zip(self.series, self.targets, strict=True))
        x, y = self.series[0], self.targets[0]
        size = x.shape[0] // lanes
        if size == 0:
            raise ValueError(
                f"StreamLoader: a series of {x.shape[0]} steps cannot be cut into {lanes} streams "
                f"(batch_size × world_size)"
            )
        return [(x[j * size : (j + 1) * size], y[j * size : (j + 1) * size]) for j in range(lanes)]

    def _plan(self, epoch: int) -> list[list[tuple[int, int]]]:
        """Per lane, the list of (stream index, chunk start) it runs through, in order."""
        streams = self._streams()
        lanes = self.batch_size * self.world_size
        order = np.arange(len(streams))
        if self.shuffle and not self.single:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(streams))
        plan: list[list[tuple[int, int]]] = [[] for _ in range(lanes)]
        for s in order:
            lane = min(range(lanes), key=lambda j: len(plan[j]))  # fewest chunks, lowest index
            steps = streams[s][0].shape[0]
            plan[lane].extend((int(s), start) for start in range(0, steps, self.chunk_len))
        return [plan[j] for j in range(self.rank, lanes, self.world_size)]

    def __len__(self) -> int:
        """Batches in epoch 0 (with ``shuffle`` and series of unequal lengths, another epoch's
        plan can differ by a batch or so; ``batches`` always runs to the longest lane)."""
        return max(len(lane) for lane in self._plan(0))

    def batches(self, epoch: int, start: int = 0) -> Iterator[SequenceBatch]:
        """Batches ``start, start + 1, ...`` of ``epoch``; row j always follows lane j."""
        streams = self._streams()
        plan = self._plan(epoch)
        total = max(len(lane) for lane in plan)
        x0, y0 = streams[0]
        for i in range(start, total):
            rows = [lane[i] if i < len(lane) else None for lane in plan]
            widths = [
                0 if r is None else min(self.chunk_len, streams[r[0]][0].shape[0] - r[1])
                for r in rows
            ]
            T = max(widths)
            inputs = x0.new_zeros((len(rows), T, *x0.shape[1:]))
            targets = y0.new_zeros((len(rows), T, *y0.shape[1:]))
            reset = torch.zeros(len(rows), dtype=torch.bool)
            for j, (r, w) in enumerate(zip(rows, widths, strict=True)):
                if r is None:
                    reset[j] = True  # an exhausted lane: nothing to carry
                    continue
                x, y = streams[r[0]]
                inputs[j, :w] = x[r[1] : r[1] + w]
                targets[j, :w] = y[r[1] : r[1] + w]
                reset[j] = r[1] == 0
            lengths = torch.tensor(widths, dtype=torch.int64)
            yield SequenceBatch(
                inputs, targets, lengths=None if bool((lengths == T).all()) else lengths,
                reset=reset,
            )


def _valid_steps(lengths: Tensor | None, B: int, T: int, device: torch.device) -> Tensor:
    """(B, T) bool: step t of row b is real (t < lengths[b])."""
    if lengths is None:
        return torch.ones(B, T, dtype=torch.bool, device=device)
    steps = torch.arange(T, device=device).unsqueeze(0)  # (1, T)
    return steps < lengths.to(device).unsqueeze(1)  # (B, T)


def _describe(x: object) -> str:
    if isinstance(x, Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    return type(x).__name__


def _check_positive(owner: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")


def _check_rank(rank: object, world_size: object) -> None:
    _check_positive("shard", "world_size", world_size)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"shard: rank must be an int in [0, {world_size}), got {rank!r}")
