"""Fuzzing the artifact loader: random bytes, truncations, header edits and signed but malformed
metadata all end in a loaded model or an ArtifactError (harness.py), never in a traceback."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from safetensors.torch import load as load_bytes
from safetensors.torch import save

import rnnkit
from rnnkit.io import UnsignedMetadataWarning, load_artifact, save_artifact
from rnnkit.io.artifact import _digest
from rnnkit.tasks.registry import task_for_kind

from .conftest import LEGACY
from .harness import assert_ends_cleanly, json_values


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> bytes:
    """The bytes of a small signed (format 3) tagger artifact."""
    with pytest.warns(UnsignedMetadataWarning):
        art = load_artifact(LEGACY / "tagger.safetensors")
    path = tmp_path_factory.mktemp("art") / "tagger.safetensors"
    return save_artifact(path, task_for_kind(art.kind).upgrade(art)).read_bytes()


def split(raw: bytes) -> tuple[dict[str, Any], bytes]:
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def join(header: dict[str, Any], data: bytes) -> bytes:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


def load(path: Path) -> Any:
    return rnnkit.load(path)


@given(content=st.binary(max_size=300))
@example(content=b"")
@example(content=(2**63).to_bytes(8, "little"))
def test_random_bytes(content) -> None:
    assert_ends_cleanly(load, "model.safetensors", content)


@given(cut=st.integers(0, 10**6), byte=st.integers(0, 255), flip=st.booleans())
def test_truncated_or_changed_bytes(signed, cut, byte, flip) -> None:
    at = cut % len(signed)
    changed = signed[:at] + bytes([byte]) + signed[at + 1 :] if flip else signed[:at]
    assert_ends_cleanly(load, "model.safetensors", changed)


tensor_edits = st.fixed_dictionaries({}, optional={
    "dtype": st.sampled_from(["F32", "F16", "F64", "I64", "BOOL", "U8", "XX", 3]),
    "shape": st.lists(st.integers(-2, 40), max_size=4),
    "data_offsets": st.lists(st.integers(-8, 10**5), max_size=3),
})


@given(
    which=st.integers(0, 100),
    edit=tensor_edits,
    metadata=st.one_of(st.none(), json_values, st.dictionaries(st.just("rnnkit"), json_values)),
    keep_metadata=st.booleans(),
)
def test_header_edits(signed, which, edit, metadata, keep_metadata) -> None:
    header, data = split(signed)
    names = sorted(k for k in header if k != "__metadata__")
    header[names[which % len(names)]].update(edit)
    if not keep_metadata:
        header["__metadata__"] = metadata
    assert_ends_cleanly(load, "model.safetensors", join(header, data))


FIELDS = ["format", "rnnkit_version", "kind", "config", "preprocessing", "metrics",
          "config.model", "config.task", "config.model.hidden_size", "config.model.num_layers",
          "config.model.cell", "preprocessing.tags", "preprocessing.text", "config.task.data"]


@given(
    edits=st.dictionaries(st.sampled_from(FIELDS), st.one_of(json_values, st.just("__drop__")),
                          min_size=1, max_size=3),
)
def test_signed_but_malformed_metadata(signed, edits) -> None:
    """Edits a tamperer could not sign: they reach the schema and model checks, not the digest."""
    header, _ = split(signed)
    meta = json.loads(header["__metadata__"]["rnnkit"])
    meta.pop("sha256")
    for dotted, value in edits.items():
        *parents, last = dotted.split(".")
        node: Any = meta
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            if value == "__drop__":
                node.pop(last, None)
            else:
                node[last] = value
    tensors = load_bytes(signed)
    signed_now = meta.get("format") == 3
    meta["sha256"] = _digest(tensors, meta if signed_now else None)
    content = save(tensors, metadata={"rnnkit": json.dumps(meta)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsignedMetadataWarning)  # a 'format' of 1 or 2
        assert_ends_cleanly(load, "model.safetensors", content)

