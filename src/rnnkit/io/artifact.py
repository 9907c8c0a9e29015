"""Model artifacts: one safetensors file whose header carries the JSON that rebuilds the model.

An artifact holds

* the model's tensors (its ``state_dict``), stored by safetensors, which never executes code;
* JSON metadata in the same file's header: ``format`` (this module's format version), the rnnkit
  version, ``kind`` (which task model to rebuild), ``config`` (its constructor arguments),
  ``preprocessing`` (scalers, vocabularies, column names...), ``metrics``, and a SHA-256 digest
  (``sha256``) so that modified bytes are refused.

From format 3 the digest signs the whole artifact: the canonical JSON of the metadata (sorted
keys, no whitespace, everything but ``sha256`` itself) and then every tensor (name, dtype, shape,
bytes). A scaler changed in the JSON is refused like a flipped weight. Formats 1 and 2 signed the
tensors only; they still load (their tensors verified as before) with an
:class:`UnsignedMetadataWarning` that says how to re-save them.

Loading checks, in order: the file exists and parses as safetensors (a truncated or corrupted file
is refused), it is an rnnkit artifact of a format this version can read (a newer one is refused
with the versions named), the digest matches (a tampered file is refused), and the metadata has
the fields and JSON types an artifact has (each problem named by its field, e.g.
``config.model: expected a JSON object, got list``), all before any object is built. The task
checks the rest (model config against the tensors) in :meth:`rnnkit.tasks.pipeline.Task.load`.
Writing goes through a temporary file and an atomic rename, so an interrupted save never leaves a
half-written artifact in place of a good one.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.core.files import atomic_write_bytes
from rnnkit.errors import RNNKitError

#: 1: rnnkit 0.1.0 (the forecaster kept its model config at the top and its task config in the
#: preprocessing); 2: every task's config is ``{'model': ..., 'task': ...}``; 3: the digest signs
#: the metadata as well as the tensors. Tasks convert format 1 when they load it
#: (:meth:`rnnkit.tasks.pipeline.Task.upgrade`).
FORMAT_VERSION = 3
#: The first format whose digest covers the metadata.
SIGNED_METADATA_FORMAT = 3
_KEY = "rnnkit"  # the safetensors metadata key that holds our JSON


class ArtifactError(RNNKitError):
    """An artifact cannot be read: missing, corrupted, truncated, tampered, malformed or too new."""


class UnsignedMetadataWarning(UserWarning):
    """An artifact of format 1 or 2 was loaded: its tensors were verified, its JSON could not be."""


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
    #: The file it was loaded from ('' when built in memory), for messages.
    source: str = field(default="", compare=False)


def _tensor_digest(h: Any, tensors: dict[str, Tensor]) -> None:
    """Feed every tensor (name, dtype, shape, bytes; by name) into the hash ``h``."""
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def _canonical(meta: dict[str, Any]) -> bytes:
    """The metadata without its digest as one canonical JSON text (sorted keys, no spaces).

    Computed from the parsed JSON, so whitespace or key order in the file do not matter, but any
    changed value does.
    """
    signed = {k: v for k, v in meta.items() if k != "sha256"}
    return json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _digest(tensors: dict[str, Tensor], meta: dict[str, Any] | None = None) -> str:
    """SHA-256 of ``meta`` (format 3 on; None: formats 1 and 2, the tensors only) and tensors."""
    h = hashlib.sha256()
    if meta is not None:
        text = _canonical(meta)
        h.update(b"rnnkit-artifact\0")
        h.update(len(text).to_bytes(8, "little"))  # the length keeps JSON and tensors apart
        h.update(text)
    _tensor_digest(h, tensors)
    return h.hexdigest()


def save_artifact(path: str | os.PathLike[str], artifact: Artifact) -> Path:
    """Write ``artifact`` to ``path`` atomically, signed whole (format 3); returns the path.

    The metadata is written as given (its layout is checked when it is loaded); an artifact read
    from a format-1 file is re-saved after its task's ``upgrade``.

    Raises:
        ValueError: ``path``'s folder does not exist or is not writable.
        TypeError: the metadata holds something JSON cannot hold.
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
    }
    # Sign what a reader will parse: the JSON round trip turns tuples into lists and so on.
    meta = json.loads(json.dumps(meta))
    meta["sha256"] = _digest(tensors, meta)
    data = save(tensors, metadata={_KEY: json.dumps(meta, sort_keys=True)})
    try:
        atomic_write_bytes(path, data)
    except PermissionError as err:
        raise ValueError(f"artifact path must be writable, got {str(path)!r} ({err})") from err
    return path


def load_artifact(path: str | os.PathLike[str]) -> Artifact:
    """Read and verify an artifact written by :func:`save_artifact` (never executes code).

    Raises:
        ArtifactError: no file, not safetensors, not an rnnkit artifact, a newer format, a
            digest that does not match, or metadata without the fields and JSON types of an
            artifact (the message names the field).

    Warns:
        UnsignedMetadataWarning: a format-1 or format-2 artifact, whose metadata the digest
            does not cover (its tensors are verified).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"artifact file not found: {str(path)!r}")
    where = repr(str(path))
    raw = path.read_bytes()
    try:
        tensors = load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + header_len])
    except (SafetensorError, ValueError, UnicodeDecodeError) as err:
        raise ArtifactError(
            f"{where} is not a readable safetensors file (corrupted or truncated): {err}"
        ) from err
    extra = header.get("__metadata__") if isinstance(header, dict) else None
    text = extra.get(_KEY) if isinstance(extra, dict) else None
    if not isinstance(text, str):
        raise ArtifactError(f"{where} is a safetensors file but not an rnnkit artifact")
    try:
        meta = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise ArtifactError(f"{where} has unreadable rnnkit metadata: {err}") from err
    if not isinstance(meta, dict):
        raise ArtifactError(
            f"{where} has malformed rnnkit metadata: expected a JSON object, "
            f"got {_json_type(meta)}"
        )
    fmt = meta.get("format")
    if not _is_int(fmt) or fmt < 1 or fmt > FORMAT_VERSION:
        raise ArtifactError(
            f"{where} has artifact format {fmt!r}, but this rnnkit reads formats 1 to "
            f"{FORMAT_VERSION}; upgrade rnnkit (written by rnnkit {meta.get('rnnkit_version')})"
        )
    signed = fmt >= SIGNED_METADATA_FORMAT
    if meta.get("sha256") != _digest(tensors, meta if signed else None):
        covered = "the metadata and tensors" if signed else "the tensors"
        raise ArtifactError(
            f"{where} failed its integrity check: {covered} do not match the digest "
            f"recorded when it was saved (the file was modified)"
        )
    problems = metadata_problems(meta)
    if problems:
        raise ArtifactError(f"{where} has malformed rnnkit metadata: " + "; ".join(problems))
    if not signed:
        warnings.warn(_unsigned_message(where, meta), UnsignedMetadataWarning, stacklevel=2)
    return Artifact(
        kind=meta["kind"],
        config=meta["config"],
        tensors=tensors,
        preprocessing=meta["preprocessing"],
        metrics=meta["metrics"],
        rnnkit_version=meta["rnnkit_version"],
        format=fmt,
        source=str(path),
    )


def metadata_problems(meta: dict[str, Any]) -> list[str]:
    """Every way ``meta`` (parsed artifact JSON) lacks a field or has one of the wrong JSON type.

    Each message starts with the field's path (``config.model: ...``). Only the layout every
    artifact shares is checked here; the task checks its model config against the tensors.
    """
    problems = []
    expected = {
        "format": "int",
        "rnnkit_version": "str",
        "kind": "str",
        "config": "object",
        "preprocessing": "object",
        "metrics": "object",
        "sha256": "str",
    }
    for name, kind in expected.items():
        if name not in meta:
            problems.append(f"{name}: missing (expected a JSON {_NAMES[kind]})")
        elif not _has_type(meta[name], kind):
            problems.append(
                f"{name}: expected a JSON {_NAMES[kind]}, got {_json_type(meta[name])}"
            )
    extra = sorted(set(meta) - set(expected))
    if extra:
        problems.append(f"unknown field(s) {extra}; expected {sorted(expected)}")
    if isinstance(meta.get("kind"), str) and not meta["kind"]:
        problems.append("kind: expected a task model's kind, got ''")
    config = meta.get("config")
    # Format 1 kept the forecaster's model config at the top; its task upgrades the layout.
    if isinstance(config, dict) and _is_int(meta.get("format")) and meta["format"] >= 2:
        if sorted(config) != ["model", "task"]:
            problems.append(f"config: expected the keys ['model', 'task'], got {sorted(config)}")
        for part in ("model", "task"):
            if part in config and not isinstance(config[part], dict):
                problems.append(
                    f"config.{part}: expected a JSON object, got {_json_type(config[part])}"
                )
    return problems


_NAMES = {"int": "integer", "str": "string", "object": "object"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _has_type(value: Any, kind: str) -> bool:
    return {"int": _is_int, "str": lambda v: isinstance(v, str),
            "object": lambda v: isinstance(v, dict)}[kind](value)


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, with the value when it is short."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
             float: "number", type(None): "null"}
    name = names.get(type(value), type(value).__name__)
    shown = json.dumps(value) if not isinstance(value, (dict, list)) else ""
    return f"{name} {shown}" if shown and len(shown) <= 40 else name


def _unsigned_message(where: str, meta: dict[str, Any]) -> str:
    fmt = meta["format"]
    # Format 1 has an older layout: its task converts it before it is saved in today's format.
    upgrade = (
        "from rnnkit.tasks.registry import task_for_kind; "
        "art = task_for_kind(art.kind).upgrade(art); "
        if fmt < 2
        else ""
    )
    return (
        f"{where} is an artifact of format {fmt} (written by rnnkit "
        f"{meta.get('rnnkit_version') or 'unknown'}): its tensors were verified, but its "
        f"metadata (config, preprocessing, metrics) is not covered by its digest, so a change "
        f"to it cannot be detected. Once you trust it, re-save it in format {FORMAT_VERSION}, "
        f"which signs both: from rnnkit.io import load_artifact, save_artifact; "
        f"art = load_artifact(old_path); {upgrade}save_artifact(new_path, art). "
        f"Or retrain it."
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
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as err:
        raise ArtifactError(
            f"{str(path)!r} is not a readable rnnkit artifact (no rnnkit header): {err}"
        ) from err
