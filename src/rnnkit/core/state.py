"""Nested state saved without pickle: tensors in safetensors, everything else as JSON.

A *state* is a tree of ``dict``, ``list`` and ``tuple`` nodes whose leaves are tensors, numpy
arrays or JSON scalars (``None``, ``bool``, ``int``, ``float``, ``str``); numpy scalars are
accepted and come back as Python numbers. Model and optimiser ``state_dict()``\\ s, RNG states
and configs are all such trees.

:func:`flatten_state` splits a tree into

* ``tensors``, a flat ``{key: Tensor}`` for safetensors, each key the leaf's path in the tree
  (``"model/lstm.weight_ih_l0"``, ``"optimizer/state/0/exp_avg"``), and
* ``skeleton``, a JSON-able copy of the tree in which each tensor leaf is replaced by a
  reference to its key.

JSON cannot say everything a state dict needs, so a few nodes are tagged (a one-key object)::

    {"__tensor__": key}         a torch tensor stored under ``key``
    {"__ndarray__": key}        a numpy array stored (as a tensor) under ``key``
    {"__tuple__": [...]}        a tuple (JSON only has lists)
    {"__dict__": [[k, v], ...]} a dict whose keys are not all strings (optimiser state uses ints)
    {"__float__": "nan"}        a non-finite float ("nan", "inf", "-inf"; strict JSON has none)

:func:`save_state` writes both halves into **one** safetensors file, the skeleton in the header's
metadata, and replaces the target atomically (:func:`rnnkit.core.files.atomic_write_bytes`), so a
reader sees either the old file or the new one, never a torn write. Tensors are stored on the CPU,
contiguous and detached; ``requires_grad`` and the device are not kept.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

from rnnkit.core import files
from rnnkit.errors import RNNKitError

FORMAT = "rnnkit.state"
VERSION = 1
_TAGS = ("__tensor__", "__ndarray__", "__tuple__", "__dict__", "__float__")


class StateFormatError(RNNKitError, ValueError):
    """A file or skeleton is not a valid rnnkit state (wrong format, version or structure)."""


def flatten_state(state: Any) -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested state into ``(tensors, skeleton)`` (see the module docstring).

    Raises:
        TypeError: a leaf is neither a tensor, a numpy array nor a JSON scalar; the message
            names its path.
    """
    tensors: dict[str, torch.Tensor] = {}

    def key_for(path: tuple[str, ...]) -> str:
        key = "/".join(path) or "."
        # Distinct paths can join to the same text (keys "a/b" vs nested "a" → "b"); number them.
        base, n = key, 1
        while key in tensors:
            key, n = f"{base}~{n}", n + 1
        return key

    def encode(node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, torch.Tensor):
            key = key_for(path)
            tensors[key] = node.detach().to("cpu").contiguous().clone()
            return {"__tensor__": key}
        if isinstance(node, np.ndarray):
            key = key_for(path)
            tensors[key] = torch.from_numpy(np.ascontiguousarray(node).copy())
            return {"__ndarray__": key}
        if node is None or isinstance(node, (bool, str)):
            return node
        if isinstance(node, (int, np.integer)) and not isinstance(node, np.bool_):
            return int(node)
        if isinstance(node, np.bool_):
            return bool(node)
        if isinstance(node, (float, np.floating)):
            value = float(node)
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(node, tuple):
            return {"__tuple__": [encode(v, (*path, str(i))) for i, v in enumerate(node)]}
        if isinstance(node, list):
            return [encode(v, (*path, str(i))) for i, v in enumerate(node)]
        if isinstance(node, Mapping):
            plain = all(isinstance(k, str) for k in node) and not any(k in _TAGS for k in node)
            if plain:
                return {k: encode(v, (*path, k)) for k, v in node.items()}
            return {
                "__dict__": [
                    [encode(k, (*path, "<key>")), encode(v, (*path, str(k)))]
                    for k, v in node.items()
                ]
            }
        where = "/".join(path) or "<root>"
        raise TypeError(
            f"flatten_state: the leaf at {where!r} must be a tensor, a numpy array, None, bool, "
            f"int, float or str (or a dict/list/tuple of them), got {type(node).__name__}"
        )

    skeleton = encode(state, ())
    return tensors, skeleton


def unflatten_state(tensors: Mapping[str, torch.Tensor], skeleton: Any) -> Any:
    """Rebuild the tree that :func:`flatten_state` split; the inverse of it.

    Raises:
        StateFormatError: a tensor reference has no tensor, or a tagged node is malformed.
    """

    def tensor(key: object) -> torch.Tensor:
        if not isinstance(key, str) or key not in tensors:
            raise StateFormatError(
                f"unflatten_state: the skeleton refers to tensor {key!r}, which is not among "
                f"the {len(tensors)} stored tensors"
            )
        return tensors[key]

    def decode(node: Any) -> Any:
        if isinstance(node, list):
            return [decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (tag, value), = node.items()
            if tag == "__tensor__":
                return tensor(value)
            if tag == "__ndarray__":
                return tensor(value).numpy().copy()
            if tag == "__tuple__":
                return tuple(decode(v) for v in value)
            if tag == "__dict__":
                return {_hashable(decode(k)): decode(v) for k, v in value}
            if tag == "__float__":
                if value not in ("nan", "inf", "-inf"):
                    raise StateFormatError(
                        f"unflatten_state: __float__ must be 'nan', 'inf' or '-inf', got {value!r}"
                    )
                return float(value)
        return {k: decode(v) for k, v in node.items()}

    return decode(skeleton)


def _hashable(key: Any) -> Any:
    # A tuple key comes back as a tuple (hashable); a list key cannot have been a dict key.
    if isinstance(key, list):
        raise StateFormatError(f"unflatten_state: a dict key decodes to a list {key!r}")
    return key


def state_to_bytes(state: Any, *, kind: str = "state") -> bytes:
    """Serialise a state to the bytes of one safetensors file (the skeleton in its metadata).

    ``kind`` names what the file holds (e.g. ``"checkpoint"``); :func:`read_state_bytes` can
    insist on it.
    """
    tensors, skeleton = flatten_state(state)
    metadata = {
        "format": FORMAT,
        "version": str(VERSION),
        "kind": kind,
        "skeleton": json.dumps(skeleton, allow_nan=False, separators=(",", ":")),
    }
    return _st_save(tensors, metadata=metadata)


def read_state_bytes(data: bytes, *, kind: str | None = None, source: str = "<bytes>") -> Any:
    """Inverse of :func:`state_to_bytes`; ``kind`` (if given) must match what was written."""
    try:
        tensors = _st_load(data)
        metadata = _read_metadata(data)
    except (SafetensorError, ValueError) as exc:
        raise StateFormatError(f"{source} is not a safetensors file: {exc}") from exc
    if metadata.get("format") != FORMAT:
        raise StateFormatError(
            f"{source}: expected an {FORMAT!r} file, got format {metadata.get('format')!r} "
            "(is it a plain safetensors file of weights?)"
        )
    if metadata.get("version") != str(VERSION):
        raise StateFormatError(
            f"{source}: expected {FORMAT} version {VERSION}, got {metadata.get('version')!r}"
        )
    if kind is not None and metadata.get("kind") != kind:
        raise StateFormatError(
            f"{source}: expected a {kind!r} file, got a {metadata.get('kind')!r} file"
        )
    try:
        skeleton = json.loads(metadata["skeleton"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise StateFormatError(f"{source}: the state skeleton is missing or not JSON") from exc
    return unflatten_state(tensors, skeleton)


def _read_metadata(data: bytes) -> dict[str, str]:
    # A safetensors file starts with an 8-byte little-endian header size, then the JSON header.
    if len(data) < 8:
        raise ValueError("file shorter than a safetensors header")
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    return dict(header.get("__metadata__") or {})


def save_state(path: str | os.PathLike[str], state: Any, *, kind: str = "state") -> Path:
    """Save a nested state atomically as one safetensors file; returns the path.

    Example:
        >>> save_state("model.safetensors", {"weights": model.state_dict(), "epoch": 3})
    """
    return files.atomic_write_bytes(path, state_to_bytes(state, kind=kind))


def load_state(path: str | os.PathLike[str], *, kind: str | None = None) -> Any:
    """Load a state written by :func:`save_state` (tensors on the CPU).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        StateFormatError: the file is not an rnnkit state (or not of ``kind``).
    """
    source = Path(path)
    return read_state_bytes(source.read_bytes(), kind=kind, source=str(source))
