"""Model artifacts: one safetensors file whose header carries the JSON that rebuilds the model.

An artifact holds

* the model's tensors (its ``state_dict``), stored by safetensors, which never executes code;
* JSON metadata in the same file's header: ``format`` (this module's format version), the rnnkit
  version, ``kind`` (which task model to rebuild), ``config`` (its constructor arguments),
  ``preprocessing`` (scalers, vocabularies, column names...), ``metrics``, and a SHA-256 digest of
  the tensors so that modified bytes are refused.

Loading checks, in order: the file exists and parses as safetensors (a truncated or corrupted file
is refused), it is an rnnkit artifact of a format this version can read (a newer one is refused
with the versions named), and the digest matches (a tampered file is refused). Writing goes
through a temporary file and an atomic rename, so an interrupted save never leaves a half-written
artifact in place of a good one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.core.files import atomic_write_bytes
from rnnkit.errors import RNNKitError

#: 1: rnnkit 0.1.0 (the forecaster kept its model config at the top and its task config in the
#: preprocessing); 2: every task's config is ``{'model': ..., 'task': ...}``. Tasks convert
#: format 1 when they load it (:meth:`rnnkit.tasks.pipeline.Task.upgrade`).
FORMAT_VERSION = 2
_KEY = "rnnkit"  # the safetensors metadata key that holds our JSON


class ArtifactError(RNNKitError):
    """An artifact cannot be read: missing, corrupted, truncated, tampered or too new."""


@dataclass
class Artifact:
    """What an artifact file holds. ``tensors`` maps names to CPU tensors."""

    kind: str
    config: dict[str, Any]
    tensors: dict[str, Tensor]
    preprocessing: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    rnnkit_version: str = ""
    format: int = FORMAT_VERSION


def _digest(tensors: dict[str, Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_artifact(path: str | os.PathLike[str], artifact: Artifact) -> Path:
    """Write ``artifact`` to ``path`` atomically; returns the path.

    Raises:
        ValueError: ``path``'s folder does not exist or is not writable.
    """
    from safetensors.torch import save

    import rnnkit

    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"artifact path's folder must exist, got {str(path.parent)!r}")
    tensors = {k: v.detach().cpu().contiguous() for k, v in artifact.tensors.items()}
    meta = {
        "format": FORMAT_VERSION,
        "rnnkit_version": rnnkit.__version__,
        "kind": artifact.kind,
        "config": artifact.config,
        "preprocessing": artifact.preprocessing,
        "metrics": artifact.metrics,
        "sha256": _digest(tensors),
    }
    data = save(tensors, metadata={_KEY: json.dumps(meta, sort_keys=True)})
    try:
        atomic_write_bytes(path, data)
    except PermissionError as err:
        raise ValueError(f"artifact path must be writable, got {str(path)!r} ({err})") from err
    return path


def load_artifact(path: str | os.PathLike[str]) -> Artifact:
    """Read and verify an artifact written by :func:`save_artifact` (never executes code)."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"artifact file not found: {str(path)!r}")
    raw = path.read_bytes()
    try:
        tensors = load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + header_len])
    except (SafetensorError, ValueError, UnicodeDecodeError) as err:
        raise ArtifactError(
            f"{str(path)!r} is not a readable safetensors file (corrupted or truncated): {err}"
        ) from err
    text = (header.get("__metadata__") or {}).get(_KEY)
    if text is None:
        raise ArtifactError(f"{str(path)!r} is a safetensors file but not an rnnkit artifact")
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{str(path)!r} has unreadable rnnkit metadata: {err}") from err
    fmt = meta.get("format")
    if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
        raise ArtifactError(
            f"{str(path)!r} has artifact format {fmt!r}, but this rnnkit reads formats up to "
            f"{FORMAT_VERSION}; upgrade rnnkit (written by rnnkit {meta.get('rnnkit_version')})"
        )
    if meta.get("sha256") != _digest(tensors):
        raise ArtifactError(
            f"{str(path)!r} failed its integrity check: the tensors do not match the digest "
            f"recorded when it was saved (the file was modified)"
        )
    return Artifact(
        kind=meta["kind"],
        config=meta.get("config", {}),
        tensors=tensors,
        preprocessing=meta.get("preprocessing", {}),
        metrics=meta.get("metrics", {}),
        rnnkit_version=meta.get("rnnkit_version", ""),
        format=fmt,
    )


def read_kind(path: str | os.PathLike[str]) -> str:
    """The ``kind`` of an artifact from its JSON header alone (cheap: no tensor is read).

    Nothing is verified: use it to choose a reader, then :func:`load_artifact` verifies.

    Raises:
        ArtifactError: no file, or no readable rnnkit header.
    """
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"artifact file not found: {str(path)!r}")
    try:
        with path.open("rb") as f:
            header_len = int.from_bytes(f.read(8), "little")
            if header_len > 100_000_000:  # safetensors' own limit for a header
                raise ValueError(f"header of {header_len} bytes")
            header = json.loads(f.read(header_len))
        meta = json.loads(header["__metadata__"][_KEY])
        return str(meta["kind"])
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise ArtifactError(
            f"{str(path)!r} is not a readable rnnkit artifact (no rnnkit header): {err}"
        ) from err
