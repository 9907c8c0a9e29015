"""Class labels ↔ integer ids, fit on training labels and saved with the model artifact."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def _plain(value: Any) -> str | int:
    """A JSON-friendly label: ints stay ints (also 1.0 from a float column), the rest str."""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return str(value)


class LabelSet:
    """The classes of a task in a fixed order; id i is ``names[i]``.

    Integer labels are sorted numerically, others as strings, so ids do not depend on the order
    of the data. Labels are compared in their plain form (int or str): a CSV column of 0/1 and
    one of '0'/'1' both work at prediction time.
    """

    def __init__(self, names: Sequence[str | int]) -> None:
        names = [_plain(n) for n in names]
        if len(set(map(str, names))) != len(names):
            raise ValueError(f"label names must be unique, got {names}")
        self.names = names
        self._ids = {str(n): i for i, n in enumerate(names)}

    @classmethod
    def fit(cls, labels: Iterable[Any], *, argument: str = "labels") -> LabelSet:
        """Classes of the training labels; at least two are needed to classify."""
        values = {_plain(v) for v in labels}
        if len(values) < 2:
            raise ValueError(
                f"{argument} must hold at least 2 distinct classes to train a classifier, got "
                f"{len(values)}: {sorted(map(str, values))}"
            )
        if all(isinstance(v, int) for v in values):
            return cls(sorted(values))
        return cls(sorted(map(str, values)))

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"LabelSet({self.names})"

    def encode(self, labels: Iterable[Any], *, argument: str = "labels") -> np.ndarray:
        """Ids (N,) int64 of ``labels``.

        Raises:
            ValueError: a label the model was not trained on (all unseen ones are named).
        """
        labels = list(labels)
        keys = [str(_plain(v)) for v in labels]
        unseen = sorted({k for k in keys if k not in self._ids})
        if unseen:
            raise ValueError(
                f"{argument} must be among the classes seen in training {self.names}, got "
                f"unseen label(s) {unseen}"
            )
        return np.array([self._ids[k] for k in keys], dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str | int]:
        return [self.names[int(i)] for i in ids]

    def to_json(self) -> list[str | int]:
        return list(self.names)

    @classmethod
    def from_json(cls, state: Sequence[str | int]) -> LabelSet:
        return cls(state)
