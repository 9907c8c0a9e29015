"""Which data a model's test split is: recorded at training, checked at evaluation.

``rnnkit evaluate RUN`` without data scores a model on "its own test data". That must be exactly
the split the model was scored on at training, not the whole file (training rows included), not
a file of the same name found from another current directory, and not a file that has changed
since. So every task records, in the artifact, the *identity* of its test split::

    {"source":    {"path": "/abs/data.csv", "sha256": "9f2c..."}      a file (or folder)
                  {"dataset": "sunspots", "package": "...", "version": "1.2"}   bundled data
                  null                                                 in-memory data
     "selection": {"rows": [3, 17, ...]}       row indices of the test part in the source
                  {"rows": null}               the whole source (a separate test file)
                  {"val_start": ..., "test_start": ...}   a time split (forecasting)}

and :func:`stored_source` gives back the file or dataset to read, or refuses with the reason:
the file moved (its recorded path is named), the file changed (the SHA-256 differs), the
bundled dataset's package is another version, or the data were never a file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.errors import RNNKitError

_CHUNK = 1 << 20


class TestDataError(RNNKitError, ValueError):
    """A model's own test data cannot be read back exactly (moved, changed, never a file)."""

    __test__ = False  # not a pytest test class, despite the name


def sha256_of(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file's bytes, or of a folder's files (names and bytes, sorted)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def identify_source(data: Any, *, prefer_dataset: bool = False) -> dict[str, Any] | None:
    """The identity of ``data`` as a task read it: an existing file or folder (absolute path and
    SHA-256), a bundled dataset name (with its package's version), or None for anything else
    (a DataFrame or other in-memory data, which no later run can find again).

    Args:
        data: what the task's ``data`` option held.
        prefer_dataset: the task reads a registered dataset name before a file of that name
            (forecasting does); otherwise an existing file wins (classify, tag).
    """
    if not isinstance(data, (str, os.PathLike)):
        return None
    name = str(data)
    dataset = _dataset(name)
    path = Path(name)
    if dataset is not None and (prefer_dataset or not path.exists()):
        return dataset
    if path.exists():
        resolved = path.resolve()
        return {"path": str(resolved), "sha256": sha256_of(resolved)}
    return None


def identify_test_data(
    data: Any, selection: dict[str, Any] | None = None, *, prefer_dataset: bool = False
) -> dict[str, Any]:
    """``{"source": identify_source(data), "selection": selection}``; the default selection
    ``{"rows": None}`` is the whole source."""
    return {
        "source": identify_source(data, prefer_dataset=prefer_dataset),
        "selection": selection if selection is not None else {"rows": None},
    }


def rows_selection(rows: Sequence[int] | np.ndarray) -> dict[str, Any]:
    """The selection of the given row indices of the source (in the order given)."""
    return {"rows": [int(i) for i in rows]}


def stored_source(identity: dict[str, Any] | None) -> str:
    """The file path or bundled dataset name that holds a model's test split, checked.

    Raises:
        TestDataError: nothing recorded (an older artifact), in-memory data, a file that moved
            or changed since training, or a bundled dataset from another package version;
            the message says which and asks for the data to be given.
    """
    give = "; give the data to evaluate on explicitly (rnnkit evaluate RUN DATA)"
    if identity is None:
        raise TestDataError(
            "the model's own test data is not recorded in this artifact (it was saved by an "
            "older rnnkit)" + give
        )
    source = identity.get("source")
    if source is None:
        raise TestDataError(
            "the model was trained on in-memory data (e.g. a DataFrame), which the artifact "
            "cannot name" + give
        )
    if "dataset" in source:
        now = _dataset(source["dataset"])
        if now is None:
            raise TestDataError(
                f"the model was trained on the bundled dataset {source['dataset']!r}, which is "
                "not registered in this rnnkit" + give
            )
        if now.get("version") != source.get("version"):
            raise TestDataError(
                f"the bundled dataset {source['dataset']!r} comes from {now['package']} "
                f"{now.get('version')}, but the model was trained on version "
                f"{source.get('version')}: its test split may differ" + give
            )
        return str(source["dataset"])
    path = Path(source["path"])
    if not path.exists():
        raise TestDataError(
            f"the model's test data was read from {str(path)!r}, which no longer exists (moved "
            "or removed)" + give
        )
    digest = sha256_of(path)
    if digest != source["sha256"]:
        raise TestDataError(
            f"the file {str(path)!r} has changed since the model was trained (its SHA-256 is "
            f"{digest[:16]}…, the artifact recorded {source['sha256'][:16]}…), so its test split "
            "is not the one the model was scored on" + give
        )
    return str(path)


def selected_rows(identity: dict[str, Any], n: int) -> np.ndarray | None:
    """Row indices of the test split in a source of ``n`` rows (None: all of them).

    Raises:
        TestDataError: a recorded index is not below ``n`` (the source is not the one recorded).
    """
    rows = identity.get("selection", {}).get("rows")
    if rows is None:
        return None
    index = np.asarray(rows, dtype=np.int64)
    if index.size and (index.min() < 0 or index.max() >= n):
        raise TestDataError(
            f"the recorded test rows reach row {int(index.max())}, but the data has {n} rows: "
            "it is not the data the model was trained on"
        )
    return index


@dataclass
class Rows:
    """Row numbers standing in for a dataset in a replay of its split.

    A split function that reads only ``labels``, the fixed ``split`` marks, ``len`` and
    ``subset`` draws the same random numbers on a :class:`Rows` as on the data itself, so
    replaying it with the same seed tells which source rows went into each part.
    """

    rows: np.ndarray
    labels: np.ndarray | None = None
    split: np.ndarray | None = None

    @classmethod
    def of(cls, data: Any) -> Rows:
        """The rows 0..N-1 of ``data`` (any object with ``len``, ``split`` and maybe
        ``labels``)."""
        labels = getattr(data, "labels", None)
        return cls(np.arange(len(data)), labels, getattr(data, "split", None))

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, index: Sequence[int] | np.ndarray) -> Rows:
        index = np.asarray(index, dtype=np.int64)
        return Rows(
            self.rows[index],
            None if self.labels is None else np.asarray(self.labels)[index],
            None if self.split is None else self.split[index],
        )


def _dataset(name: str) -> dict[str, Any] | None:
    """The identity of a registered dataset called ``name`` (None: there is none)."""
    import importlib.metadata

    import rnnkit.data  # noqa: F401  (its import registers the bundled datasets)
    from rnnkit.data.registry import list_datasets

    info = next((d for d in list_datasets() if d.name == name), None)
    if info is None:
        return None
    try:
        version = importlib.metadata.version(info.package)
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {"dataset": name, "package": info.package, "version": version}
