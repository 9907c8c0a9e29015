"""Splitting a dataset into train / validation / test parts: stratified, random, or by time.

Every split is seeded through the ``numpy.random.Generator`` it is given, and returns sorted
indices, so a part keeps the order of the data. A dataset that a split function handles is any
object with ``len()``, ``subset(index)`` and ``split`` (an (N,) array of fixed 'train'/'test'
marks, or None), like :class:`rnnkit.data.classification_data.ClassificationData` and
:class:`rnnkit.data.tagging.TaggedCorpus`. Splits by time (for forecasting) are
:func:`rnnkit.data.windows.time_split`, re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np

from rnnkit.data.windows import TimeSplit, time_split

__all__ = [
    "Splittable",
    "TimeSplit",
    "random_sample",
    "random_split",
    "stratified_sample",
    "stratified_split",
    "three_way_split",
    "time_split",
]


class Splittable(Protocol):
    """What :func:`three_way_split` needs of a dataset."""

    split: np.ndarray | None

    def __len__(self) -> int: ...

    def subset(self, index: np.ndarray) -> Any: ...


D = TypeVar("D", bound=Splittable)

#: ``holdout(data, fraction, rng) -> (kept, held)`` index arrays.
Holdout = Callable[[Any, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]
#: ``sample(data, k, rng) -> kept`` index array of k items.
Sample = Callable[[Any, int, np.random.Generator], np.ndarray]


def stratified_split(
    labels: Sequence[Any] | np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    *,
    min_held: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) indices: round(fraction · N_c) of each class c held out, at least one
    of each class kept.

    ``min_held`` raises the held-out count of every class to at least that many (never taking
    a class's last kept item, and only when ``fraction > 0``): with ``min_held=1`` a validation
    split of 10 classes × 5 items at fraction 0.1 holds one item per class instead of rounding
    to none.
    """
    keys = np.asarray([str(v) for v in labels])
    kept, held = [], []
    for key in sorted(set(keys)):
        idx = rng.permutation(np.flatnonzero(keys == key))
        n = round(len(idx) * fraction)
        if fraction > 0:
            n = max(n, min_held)
        n = min(n, len(idx) - 1)
        held.append(idx[:n])
        kept.append(idx[n:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def stratified_sample(
    labels: Sequence[Any] | np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """About ``k`` indices with the class proportions of ``labels`` (each class kept)."""
    kept, _ = stratified_split(labels, 1 - k / len(labels), rng)
    return kept


def random_split(
    n: int, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) indices of ``n`` items: round(fraction · n) held out at random."""
    perm = rng.permutation(n)
    k = round(n * fraction)
    return np.sort(perm[k:]), np.sort(perm[:k])


def random_sample(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` of ``n`` indices at random, sorted."""
    return np.sort(rng.permutation(n)[:k])


def three_way_split(
    data: D,
    *,
    rng: np.random.Generator,
    holdout: Holdout,
    test_fraction: float,
    val_fraction: float,
    max_train: int | None = None,
    sample: Sample | None = None,
    test: D | None = None,
    val_holdout: Holdout | None = None,
) -> dict[str, D]:
    """Train / validation / test parts of ``data``.

    The test part is ``test`` when given (all of ``data`` is then for training), else the
    items ``data.split`` marks 'test' (a bundled dataset's fixed split), else ``holdout`` of
    ``test_fraction``. Validation is ``holdout`` of ``val_fraction`` of the rest; at most
    ``max_train`` training items are kept (``sample``). The random draws happen in this
    order, from ``rng``.

    Returns:
        ``{'train': ..., 'val': ..., 'test': ...}``, each ``data.subset(...)``.
    """
    if test is not None:
        pool = data
    elif data.split is not None:
        pool = data.subset(np.flatnonzero(data.split == "train"))
        test = data.subset(np.flatnonzero(data.split == "test"))
    else:
        keep, held = holdout(data, test_fraction, rng)
        pool, test = data.subset(keep), data.subset(held)
    keep, held = (val_holdout or holdout)(pool, val_fraction, rng)
    train, val = pool.subset(keep), pool.subset(held)
    if max_train is not None and len(train) > max_train:
        if sample is None:
            raise ValueError("sample must be given with max_train, got None")
        train = train.subset(sample(train, max_train, rng))
    return {"train": train, "val": val, "test": test}
