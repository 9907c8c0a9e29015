"""Padding and length bucketing for variable-length sequences (text, sensors, videos).

:class:`BucketLoader` is a :class:`rnnkit.data.Loader` for the training engine: it keeps the
sequences unpadded, draws batches of similar length (:func:`bucket_batches`) in an order that
depends only on ``(seed, epoch)`` (so an interrupted epoch resumes exactly), and pads each batch
only to its own longest member (:func:`pad_sequences`). Compared with padding every batch to the
longest sequence of the data set, far fewer padded steps are computed; lengths are passed on,
so padding never changes a result.

Shape legend: N sequences, B batch, T steps (of the longest member of a batch), ``*`` the
shape of one step (F features, an (H, W[, C]) frame, or nothing for token ids).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.batching import SequenceBatch


def pad_sequences(
    sequences: Sequence[Sequence[int] | np.ndarray | Tensor],
    *,
    pad_value: float = 0,
    dtype: torch.dtype | None = None,
) -> tuple[Tensor, Tensor]:
    """Stack variable-length sequences into one padded batch.

    Args:
        sequences: B sequences, each of shape (T_i, ...) with the same trailing shape; lists
            of ints become int64 token ids.
        pad_value: value written past each sequence's length.
        dtype: dtype of the result (default: int64 for integer data, float32 otherwise).

    Returns:
        padded (B, T_max, ...) and lengths (B,) int64.
    """
    if len(sequences) == 0:
        raise ValueError("sequences must hold at least one sequence, got none")
    tensors = [torch.as_tensor(np.asarray(s)) for s in sequences]
    lengths = torch.tensor([t.shape[0] for t in tensors], dtype=torch.int64)
    if int(lengths.min()) < 1:
        bad = int((lengths < 1).nonzero()[0, 0])
        raise ValueError(f"every sequence must have at least one step, sequence {bad} has 0")
    trailing = tensors[0].shape[1:]
    for i, t in enumerate(tensors):
        if t.shape[1:] != trailing:
            raise ValueError(
                f"sequence {i} has step shape {tuple(t.shape[1:])}, expected {tuple(trailing)} "
                f"like sequence 0"
            )
    if dtype is None:
        floating = any(t.is_floating_point() for t in tensors)
        dtype = torch.float32 if floating else torch.int64
    out = torch.full((len(tensors), int(lengths.max()), *trailing), pad_value, dtype=dtype)
    for i, t in enumerate(tensors):
        out[i, : t.shape[0]] = t.to(dtype)
    return out, lengths


def bucket_batches(
    lengths: Sequence[int] | np.ndarray,
    batch_size: int,
    *,
    shuffle: bool,
    rng: np.random.Generator | None = None,
    pool_batches: int = 50,
) -> list[np.ndarray]:
    """Index batches whose members have similar lengths.

    With ``shuffle``, indices are shuffled, cut into pools of ``pool_batches`` batches, each pool
    is sorted by length and cut into batches, and the batch order is shuffled again: batches stay
    random from epoch to epoch but hold similar lengths, so little compute goes to padding.
    Without ``shuffle`` all indices are sorted by length (for evaluation, where order is
    irrelevant once outputs are put back by index).

    Returns:
        a list of int64 index arrays, each of at most ``batch_size`` indices, covering every
        index exactly once.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    lengths = np.asarray(lengths)
    n = len(lengths)
    if not shuffle:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    rng = rng if rng is not None else np.random.default_rng()
    perm = rng.permutation(n)
    pool = batch_size * max(1, pool_batches)
    batches = []
    for start in range(0, n, pool):
        chunk = perm[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


class BucketLoader:
    """Batches of similar-length sequences for :class:`rnnkit.train.Trainer`.

    Args:
        sequences: N sequences, each (T_i, *) (token-id lists are fine).
        targets: (N,) one class per sequence (``target_at='last'``: placed at the last real
            step, masked elsewhere), or N per-step target sequences of length T_i
            (``target_at='every'``, padded with ``target_pad``).
        batch_size: sequences per batch (per process).
        shuffle: a new bucketed order every epoch from ``(seed, epoch)``; otherwise sorted by
            length (evaluation).
        seed: the order's seed.
        target_at: 'last' or 'every', as above.
        pad_value: input padding value (0: the padding token id, or zero features).
        target_pad: target padding value for ``target_at='every'`` (masked out anyway).
        class_balanced: with ``shuffle`` and ``target_at='last'``, each epoch is N sequences
            drawn with replacement, sequence i with probability ∝ 1 / N_{y_i}, so every class
            is drawn equally often on average (for imbalanced classes; the draw depends only on
            ``(seed, epoch)`` like the order).

    With ``shard(rank, world_size)`` the epoch's batches are formed with ``batch_size ×
    world_size`` sequences and rank r takes members r, r + world_size, ...; batches too small
    to give every rank a sequence are dropped from the sharded epoch.
    """

    def __init__(
        self,
        sequences: Sequence[Sequence[int] | np.ndarray | Tensor],
        targets: Sequence[object] | np.ndarray | Tensor,
        *,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        target_at: str = "last",
        pad_value: float = 0,
        target_pad: int = 0,
        class_balanced: bool = False,
    ) -> None:
        if target_at not in ("last", "every"):
            raise ValueError(
                f"BucketLoader: target_at must be 'last' or 'every', got {target_at!r}"
            )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"BucketLoader: batch_size must be an integer >= 1, got {batch_size!r}"
            )
        if len(sequences) == 0:
            raise ValueError("BucketLoader: sequences must hold at least one sequence, got none")
        if len(targets) != len(sequences):
            raise ValueError(
                f"BucketLoader: targets must have one entry per sequence ({len(sequences)}), "
                f"got {len(targets)}"
            )
        self.sequences = list(sequences)
        self.targets = targets
        self.lengths = np.array([len(s) for s in self.sequences], dtype=np.int64)
        if target_at == "every":
            for i, t in enumerate(targets):
                if len(t) != self.lengths[i]:
                    raise ValueError(
                        f"BucketLoader: sequence {i} has {self.lengths[i]} steps but "
                        f"{len(t)} targets"
                    )
        self.batch_size, self.shuffle, self.seed = batch_size, bool(shuffle), int(seed)
        self.target_at, self.pad_value, self.target_pad = target_at, pad_value, target_pad
        self.rank, self.world_size = 0, 1
        self.draw_weights: np.ndarray | None = None
        if class_balanced:
            if target_at != "last":
                raise ValueError(
                    "BucketLoader: class_balanced=True needs target_at='last' (one class per "
                    f"sequence), got target_at={target_at!r}"
                )
            keys = np.asarray([str(t) for t in np.asarray(targets).tolist()])
            _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
            weights = 1.0 / counts[inverse]
            self.draw_weights = weights / weights.sum()

    def shard(self, rank: int, world_size: int) -> BucketLoader:
        """This process's part of every batch (see the class docstring)."""
        if not isinstance(world_size, int) or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(
                f"shard: need 0 <= rank < world_size, got rank={rank!r}, world_size={world_size!r}"
            )
        # The loader's own class, so that a subclass's per-epoch draws (rotation, clips) stay.
        part = type(self).__new__(type(self))
        part.__dict__.update(self.__dict__)
        part.rank, part.world_size = rank, world_size
        return part

    def _order(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        if self.shuffle and self.draw_weights is not None:
            n = len(self.lengths)
            drawn = rng.choice(n, size=n, replace=True, p=self.draw_weights)
            batches = [
                drawn[b]
                for b in bucket_batches(
                    self.lengths[drawn], self.batch_size * self.world_size, shuffle=True, rng=rng
                )
            ]
        else:
            batches = bucket_batches(
                self.lengths, self.batch_size * self.world_size, shuffle=self.shuffle, rng=rng
            )
        if self.world_size == 1:
            return batches
        return [b[self.rank :: self.world_size] for b in batches if len(b) >= self.world_size]

    def __len__(self) -> int:
        return len(self._order(0))

    def batches(self, epoch: int, start: int = 0) -> Iterator[SequenceBatch]:
        """The batches of ``epoch`` from batch index ``start`` on."""
        for index in self._order(epoch)[start:]:
            yield self.batch(index)

    def batch(self, index: Sequence[int] | np.ndarray) -> SequenceBatch:
        """The padded batch of the sequences at ``index``."""
        inputs, lengths = pad_sequences(
            [self.sequences[i] for i in index], pad_value=self.pad_value
        )
        b, t = inputs.shape[:2]
        if self.target_at == "every":
            targets, _ = pad_sequences(
                [np.asarray(self.targets[i], dtype=np.int64) for i in index],
                pad_value=self.target_pad,
            )
            return SequenceBatch(inputs, targets, lengths=lengths)
        per_sequence = torch.as_tensor(np.asarray([self.targets[i] for i in index]))
        rows = torch.arange(b)
        targets = per_sequence.new_zeros((b, t, *per_sequence.shape[1:]))
        targets[rows, lengths - 1] = per_sequence
        mask = torch.zeros(b, t, dtype=torch.bool)
        mask[rows, lengths - 1] = True
        return SequenceBatch(inputs, targets, mask=mask, lengths=lengths)
