"""Artifacts on disk: safetensors for tensors, JSON for everything else, never pickle.

:mod:`rnnkit.io.state` saves and loads any nested state (model and optimiser state dicts, RNG
states, configs) as one safetensors file; the training engine's checkpoints are built on it.
"""

from rnnkit.io.state import (
    StateFormatError,
    atomic_write_bytes,
    flatten_state,
    load_state,
    read_state_bytes,
    save_state,
    state_to_bytes,
    unflatten_state,
)

__all__ = [
    "StateFormatError",
    "atomic_write_bytes",
    "flatten_state",
    "load_state",
    "read_state_bytes",
    "save_state",
    "state_to_bytes",
    "unflatten_state",
]
