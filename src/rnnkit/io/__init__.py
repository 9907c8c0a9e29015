"""Artifacts: saving and loading trained models as safetensors + JSON (never pickle)."""

from rnnkit.io.artifact import (
    FORMAT_VERSION,
    Artifact,
    ArtifactError,
    atomic_write_bytes,
    load_artifact,
    save_artifact,
)

__all__ = [
    "FORMAT_VERSION",
    "Artifact",
    "ArtifactError",
    "atomic_write_bytes",
    "load_artifact",
    "save_artifact",
]
