"""The installed package's version, read from its metadata (``pyproject.toml`` is the source)."""

from __future__ import annotations

import importlib.metadata

# What a source tree that was never installed reports (PEP 440: version 0, local label).
UNKNOWN = "0+unknown"


def package_version(distribution: str = "rnnkit") -> str:
    """The version of the installed ``distribution``, or :data:`UNKNOWN` when not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return UNKNOWN
