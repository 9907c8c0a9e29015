"""Artifacts on disk: safetensors for tensors, JSON for everything else, never pickle.

* :mod:`rnnkit.io.artifact` — trained models as one safetensors file whose header carries the
  JSON that rebuilds them (config, preprocessing, metrics, integrity digest);
* :mod:`rnnkit.io.state` — any nested state (model and optimiser state dicts, RNG states,
  configs) as one safetensors file; the training engine's checkpoints are built on it.
"""

from rnnkit.io.artifact import (
    FORMAT_VERSION,
    Artifact,
    ArtifactError,
    UnsignedMetadataWarning,
    atomic_write_bytes,
    load_artifact,
    save_artifact,
)
from rnnkit.io.state import (
    StateFormatError,
    flatten_state,
    load_state,
    read_state_bytes,
    save_state,
    state_to_bytes,
    unflatten_state,
)

__all__ = [
    "FORMAT_VERSION",
    "Artifact",
    "ArtifactError",
    "StateFormatError",
    "UnsignedMetadataWarning",
    "atomic_write_bytes",
    "flatten_state",
    "load_artifact",
    "load_state",
    "read_state_bytes",
    "save_artifact",
    "save_state",
    "state_to_bytes",
    "unflatten_state",
]
