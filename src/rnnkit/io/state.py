"""Nested state saved without pickle: the format now lives in :mod:`rnnkit.core.state`.

This module re-exports the same names so that existing imports keep working; new code imports
from :mod:`rnnkit.core.state` (the format) and :mod:`rnnkit.core.files` (atomic writes).
"""

from rnnkit.core.files import atomic_write_bytes
from rnnkit.core.state import (
    FORMAT,
    VERSION,
    StateFormatError,
    flatten_state,
    load_state,
    read_state_bytes,
    save_state,
    state_to_bytes,
    unflatten_state,
)

__all__ = [
    "FORMAT",
    "VERSION",
    "StateFormatError",
    "atomic_write_bytes",
    "flatten_state",
    "load_state",
    "read_state_bytes",
    "save_state",
    "state_to_bytes",
    "unflatten_state",
]
