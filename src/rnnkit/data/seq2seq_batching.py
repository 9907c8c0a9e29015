"""Batches of (source, target) id sequences for sequence-to-sequence models.

Shape legend: N pairs, B batch, S source steps, T target steps (each batch padded to its own
longest member).

A :class:`Seq2SeqBatch` is a :class:`rnnkit.data.SequenceBatch` whose ``inputs`` are the target
shifted right (``<bos> y_1 … y_{n−1}``), ``targets`` the target itself (``y_1 … y_n <eos>``)
and ``lengths`` the target lengths, so the trainer's loss, metrics and masking work unchanged;
the source travels beside them and reaches the model's ``forward`` as keyword arguments
(:meth:`Seq2SeqBatch.forward_kwargs`, see :mod:`rnnkit.train.protocol`). A decoder needs the
whole target from the encoder's state, so a batch cannot be cut along time: it is trained with
full BPTT (``time_slice`` refuses).

:class:`Seq2SeqLoader` draws length-bucketed batches (:func:`rnnkit.data.bucketing.
bucket_batches`, by source + target length) in an order fixed by ``(seed, epoch)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.batching import SequenceBatch
from rnnkit.data.bucketing import bucket_batches, pad_sequences


@dataclass
class Seq2SeqBatch(SequenceBatch):
    """A :class:`SequenceBatch` over the target, with the source beside it.

    Attributes:
        source: (B, S) int64 source ids, padded with 0.
        source_lengths: (B,) int64 real source steps.
        index: (B,) which pairs of the data set the rows are (to put outputs back in order).
        source_ext: (B, S) a copy model's source ids in the extended target vocabulary
            (None without copy; see :class:`rnnkit.models.Seq2Seq`).
    """

    source: Tensor | None = None
    source_lengths: Tensor | None = None
    index: Tensor | None = None
    source_ext: Tensor | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        B = self.inputs.shape[0]
        if not isinstance(self.source, Tensor) or self.source.dim() != 2 \
                or self.source.shape[0] != B or self.source.is_floating_point():
            raise ValueError(
                f"Seq2SeqBatch: source must be a ({B}, S) integer tensor, got "
                + (f"{self.source.dtype} {tuple(self.source.shape)}"
                   if isinstance(self.source, Tensor) else type(self.source).__name__)
            )
        if not isinstance(self.source_lengths, Tensor) \
                or tuple(self.source_lengths.shape) != (B,):
            raise ValueError(
                f"Seq2SeqBatch: source_lengths must be an integer tensor of shape ({B},), got "
                + (f"shape {tuple(self.source_lengths.shape)}"
                   if isinstance(self.source_lengths, Tensor)
                   else type(self.source_lengths).__name__)
            )

    def forward_kwargs(self) -> dict[str, Tensor]:
        """What the model's forward takes besides the shifted target and its lengths."""
        extra = {"source": self.source, "source_lengths": self.source_lengths}
        if self.source_ext is not None:
            extra["source_ext"] = self.source_ext
        return extra

    def time_slice(self, start: int, stop: int) -> SequenceBatch:
        raise ValueError(
            "a sequence-to-sequence batch cannot be cut along time (the decoder starts from the "
            f"encoder's state): train with bptt='full', got a time slice [{start}, {stop})"
        )

    def to(self, device: torch.device | str) -> Seq2SeqBatch:
        """The batch on ``device`` (lengths stay on the CPU, where layers read them)."""
        return Seq2SeqBatch(
            inputs=self.inputs.to(device), targets=self.targets.to(device),
            mask=self.mask.to(device), lengths=self.lengths, reset=None,
            source=self.source.to(device), source_lengths=self.source_lengths, index=self.index,
            source_ext=None if self.source_ext is None else self.source_ext.to(device),
        )


def make_batch(sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]],
               bos_id: int, eos_id: int, index: Sequence[int] | None = None,
               source_ext: Sequence[Sequence[int]] | None = None) -> Seq2SeqBatch:
    """The padded batch of ``sources`` and ``targets`` (id lists without ``<bos>``/``<eos>``):
    inputs ``<bos> y``, targets ``y <eos>``. ``source_ext``: a copy model's extended source
    ids, one list per source of the same length (the targets are then extended ids too)."""
    source, source_lengths = pad_sequences([list(s) for s in sources], dtype=torch.int64)
    inputs, lengths = pad_sequences([[bos_id, *t] for t in targets], dtype=torch.int64)
    shifted, _ = pad_sequences([[*t, eos_id] for t in targets], dtype=torch.int64)
    idx = torch.as_tensor(np.asarray(range(len(sources)) if index is None else index,
                                     dtype=np.int64))
    ext = None
    if source_ext is not None:
        if [len(e) for e in source_ext] != [len(s) for s in sources]:
            raise ValueError("make_batch: source_ext must hold one id per source token, got "
                             f"lengths {[len(e) for e in source_ext]} for sources of "
                             f"{[len(s) for s in sources]}")
        ext, _ = pad_sequences([list(e) for e in source_ext], dtype=torch.int64)
    return Seq2SeqBatch(inputs, shifted, lengths=lengths, source=source,
                        source_lengths=source_lengths, index=idx, source_ext=ext)


class Seq2SeqLoader:
    """Length-bucketed :class:`Seq2SeqBatch` es of (source, target) id pairs.

    Args:
        sources, targets: N id lists each (targets without ``<bos>``/``<eos>``; sources
            non-empty).
        bos_id, eos_id: the target's start and end ids.
        batch_size: pairs per batch (per process).
        shuffle: a new bucketed order every epoch from ``(seed, epoch)``; otherwise sorted by
            length (evaluation).
        seed: the order's seed.
        source_ext: a copy model's extended source ids (one list per source, same lengths;
            the targets are then in extended ids).
    """

    def __init__(self, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]], *,
                 bos_id: int, eos_id: int, batch_size: int = 64, shuffle: bool = True,
                 seed: int = 0, source_ext: Sequence[Sequence[int]] | None = None) -> None:
        if len(sources) != len(targets):
            raise ValueError(f"Seq2SeqLoader: sources and targets must pair up, got "
                             f"{len(sources)} sources and {len(targets)} targets")
        if len(sources) == 0:
            raise ValueError("Seq2SeqLoader: need at least one pair, got none")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"Seq2SeqLoader: batch_size must be an int >= 1, got {batch_size!r}")
        empty = [i for i, s in enumerate(sources) if len(s) == 0]
        if empty:
            raise ValueError(f"Seq2SeqLoader: every source must hold at least one token; "
                             f"pair {empty[0]} has none")
        if source_ext is not None and len(source_ext) != len(sources):
            raise ValueError(f"Seq2SeqLoader: source_ext must have one list per source, got "
                             f"{len(source_ext)} for {len(sources)} sources")
        self.sources, self.targets = list(sources), list(targets)
        self.source_ext = None if source_ext is None else list(source_ext)
        self.bos_id, self.eos_id = bos_id, eos_id
        self.batch_size, self.shuffle, self.seed = batch_size, bool(shuffle), int(seed)
        # Bucket by the longer side: both the encoder and the decoder run over padding.
        self.lengths = np.array([max(len(s), len(t) + 1)
                                 for s, t in zip(self.sources, self.targets, strict=True)])
        self.rank, self.world_size = 0, 1

    def shard(self, rank: int, world_size: int) -> Seq2SeqLoader:
        """This process's part of every batch (members rank, rank + world_size, ...)."""
        if not isinstance(world_size, int) or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"shard: need 0 <= rank < world_size, got rank={rank!r}, "
                             f"world_size={world_size!r}")
        part = Seq2SeqLoader.__new__(Seq2SeqLoader)
        part.__dict__.update(self.__dict__)
        part.rank, part.world_size = rank, world_size
        return part

    def _order(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        batches = bucket_batches(self.lengths, self.batch_size * self.world_size,
                                 shuffle=self.shuffle, rng=rng)
        if self.world_size == 1:
            return batches
        return [b[self.rank::self.world_size] for b in batches if len(b) >= self.world_size]

    def __len__(self) -> int:
        return len(self._order(0))

    def batches(self, epoch: int, start: int = 0) -> Iterator[Seq2SeqBatch]:
        """The batches of ``epoch`` from batch index ``start`` on."""
        for index in self._order(epoch)[start:]:
            ext = None if self.source_ext is None else [self.source_ext[i] for i in index]
            yield make_batch([self.sources[i] for i in index], [self.targets[i] for i in index],
                             self.bos_id, self.eos_id, index, ext)

    def __iter__(self) -> Iterator[Seq2SeqBatch]:
        return self.batches(0)
