"""Artifacts signed whole (format 3), older formats loading with a warning that says how to
re-save them, and malformed metadata refused with an ArtifactError that names the field."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from safetensors.torch import save

import rnnkit
from rnnkit.io import (
    FORMAT_VERSION,
    Artifact,
    ArtifactError,
    UnsignedMetadataWarning,
    load_artifact,
    save_artifact,
)
from rnnkit.io.artifact import _digest
from rnnkit.tasks import classify, forecast, tag
from rnnkit.tasks.registry import task_for_kind

LEGACY = Path(__file__).parent.parent / "fixtures" / "legacy_0_1"
TASKS = {"forecaster": (forecast, "series.csv"), "classifier": (classify, "reviews.csv"),
         "tagger": (tag, "tagged.jsonl")}


def resave(name: str, path: Path) -> Path:
    """A rnnkit 0.1.0 fixture re-saved in today's format, as the warning tells a user to."""
    with pytest.warns(UnsignedMetadataWarning):
        art = load_artifact(LEGACY / f"{name}.safetensors")
    art = task_for_kind(art.kind).upgrade(art)
    return save_artifact(path, art)


def header_meta(path: Path) -> tuple[dict[str, Any], bytes]:
    """(the safetensors header, the tensor bytes after it) of an artifact file."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def write_header(path: Path, header: dict[str, Any], data: bytes) -> None:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # safetensors keeps the data 8-byte aligned
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)


def write_signed(path: Path, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Path:
    """A correctly signed artifact with exactly ``meta`` (malformed on purpose in tests)."""
    meta = {k: v for k, v in meta.items() if k != "sha256"}
    signed = isinstance(meta.get("format"), int) and meta["format"] >= 3
    meta["sha256"] = _digest(tensors, meta if signed else None)
    path.write_bytes(save(tensors, metadata={"rnnkit": json.dumps(meta)}))
    return path


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("signed")
    return {name: resave(name, root / f"{name}.safetensors") for name in TASKS}


@pytest.mark.parametrize("name", list(TASKS))
def test_a_resaved_old_artifact_is_signed_whole_and_predicts_as_before(
    signed, tmp_path, name
) -> None:
    module, data = TASKS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UnsignedMetadataWarning any more
        art = load_artifact(signed[name])
        loaded = rnnkit.load(signed[name])
    assert art.format == FORMAT_VERSION == 3
    assert set(art.config) == {"model", "task"}
    module.predict(loaded, LEGACY / data).to_csv(tmp_path / "now.csv", index=False)
    expected = pd.read_csv(LEGACY / f"{name}_predictions.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "now.csv"), expected,
                                  check_dtype=False, atol=1e-6)


def test_old_formats_warn_that_their_metadata_is_unsigned_and_how_to_resave(tmp_path) -> None:
    with pytest.warns(UnsignedMetadataWarning) as record:
        rnnkit.load(LEGACY / "forecaster.safetensors")
    text = str(record[0].message)
    assert "format 1 (written by rnnkit 0.1.0)" in text and "not covered by its digest" in text
    assert "upgrade(art)" in text and "save_artifact(new_path, art)" in text
    # A format-2 file (tensors-only digest, today's layout) warns without the upgrade step.
    art = load_artifact(resave("tagger", tmp_path / "t.safetensors"))
    meta = {"format": 2, "rnnkit_version": "0.2.0", "kind": art.kind, "config": art.config,
            "preprocessing": art.preprocessing, "metrics": art.metrics}
    write_signed(tmp_path / "two.safetensors", meta, art.tensors)
    with pytest.warns(UnsignedMetadataWarning, match="format 2") as record:
        assert rnnkit.load(tmp_path / "two.safetensors") is not None
    assert "upgrade" not in str(record[0].message)


def test_a_changed_digit_of_a_scaler_in_the_json_is_refused(signed, tmp_path) -> None:
    raw = signed["forecaster"].read_bytes()
    mean = str(load_artifact(signed["forecaster"]).preprocessing["target_scaler"]["mean"][0][0])
    assert raw.count(mean.encode()) == 1
    changed = mean.replace(mean[0], str((int(mean[0]) + 1) % 10), 1)  # 10.019... -> 20.019...
    tampered = tmp_path / "tampered.safetensors"
    tampered.write_bytes(raw.replace(mean.encode(), changed.encode()))
    header, _ = header_meta(tampered)  # still valid JSON and valid safetensors
    assert changed in header["__metadata__"]["rnnkit"]
    with pytest.raises(ArtifactError, match="failed its integrity check: the metadata"):
        load_artifact(tampered)
    with pytest.raises(ArtifactError, match="failed its integrity check"):
        rnnkit.load(tampered)


def test_a_flipped_tensor_byte_is_refused(signed, tmp_path) -> None:
    flipped = bytearray(signed["classifier"].read_bytes())
    flipped[-3] ^= 0x01
    (tmp_path / "f.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(ArtifactError, match="failed its integrity check"):
        load_artifact(tmp_path / "f.safetensors")


def test_whitespace_and_key_order_of_the_json_are_not_part_of_the_signature(
    signed, tmp_path
) -> None:
    header, data = header_meta(signed["tagger"])
    meta = json.loads(header["__metadata__"]["rnnkit"])
    reordered = dict(reversed(list(meta.items())))
    header["__metadata__"]["rnnkit"] = json.dumps(reordered, indent=3)
    write_header(tmp_path / "pretty.safetensors", header, data)
    assert load_artifact(tmp_path / "pretty.safetensors").config == meta["config"]
    # ...but a downgrade of the format number is a change like any other.
    header["__metadata__"]["rnnkit"] = json.dumps({**meta, "format": 2})
    write_header(tmp_path / "downgraded.safetensors", header, data)
    with pytest.raises(ArtifactError, match="integrity check: the tensors"):
        load_artifact(tmp_path / "downgraded.safetensors")


def meta_of(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    art = load_artifact(path)
    meta = {"format": 3, "rnnkit_version": art.rnnkit_version, "kind": art.kind,
            "config": art.config, "preprocessing": art.preprocessing, "metrics": art.metrics}
    return json.loads(json.dumps(meta)), art.tensors


def _without(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


MALFORMED = {
    "kind missing": (lambda m: _without(m, "kind"), "kind: missing"),
    "kind a number": (lambda m: {**m, "kind": 7}, "kind: expected a JSON string, got number 7"),
    "format a string": (lambda m: {**m, "format": "3"}, "artifact format '3'"),
    "config a list": (lambda m: {**m, "config": [1]}, "config: expected a JSON object, got array"),
    "preprocessing a list": (lambda m: {**m, "preprocessing": []},
                             "preprocessing: expected a JSON object, got array"),
    "metrics null": (lambda m: {**m, "metrics": None}, "metrics: expected a JSON object, got null"),
    "unknown field": (lambda m: {**m, "comment": "hi"}, r"unknown field\(s\) \['comment'\]"),
    "extra config key": (lambda m: {**m, "config": {**m["config"], "data": 1}},
                         r"config: expected the keys \['model', 'task'\]"),
    "config.model a string": (lambda m: {**m, "config": {**m["config"], "model": "lstm"}},
                              "config.model: expected a JSON object, got string"),
    "config.model unknown key": (
        lambda m: {**m, "config": {**m["config"], "model": {**m["config"]["model"],
                                                             "hiden_size": 4}}},
        r"config.model: unknown key\(s\) 'hiden_size' \(did you mean 'hidden_size'\?\)"),
    "config.model missing key": (
        lambda m: {**m, "config": {**m["config"],
                                   "model": _without(m["config"]["model"], "num_classes")}},
        r"config.model: missing key\(s\) \['num_classes'\]"),
    "config.model hidden_size changed": (
        lambda m: {**m, "config": {**m["config"], "model": {**m["config"]["model"],
                                                             "hidden_size": 13}}},
        r"config.model.hidden_size: 13 does not match the tensor encoder\.\S+ of shape"),
    "config.model hidden_size a string": (
        lambda m: {**m, "config": {**m["config"], "model": {**m["config"]["model"],
                                                             "hidden_size": "8"}}},
        "config.model: .*hidden_size"),
    "config.model num_layers changed": (
        lambda m: {**m, "config": {**m["config"], "model": {**m["config"]["model"],
                                                             "num_layers": 2}}},
        "config.model does not match the tensors: .* missing from the file: .*_l1"),
    "config.task unknown option": (
        lambda m: {**m, "config": {**m["config"], "task": {**m["config"]["task"], "colour": 1}}},
        "config.task: ClassifyConfig: unknown option"),
    "preprocessing without labels": (
        lambda m: {**m, "preprocessing": _without(m["preprocessing"], "labels")},
        "preprocessing: the classify task cannot rebuild its preprocessing from it: missing key"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_but_signed_metadata_is_an_artifact_error_naming_the_field(
    signed, tmp_path, case
) -> None:
    meta, tensors = meta_of(signed["classifier"])
    change, message = MALFORMED[case]
    path = write_signed(tmp_path / "bad.safetensors", change(meta), tensors)
    with pytest.raises(ArtifactError, match=message) as caught:
        rnnkit.load(path)
    assert str(path) in str(caught.value)  # the file is named too


def test_save_artifact_refuses_what_json_cannot_hold(tmp_path) -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        save_artifact(tmp_path / "x.safetensors",
                      Artifact("forecaster", {"model": {"f": object()}, "task": {}}, {}))
    assert not (tmp_path / "x.safetensors").exists()


def test_an_old_forecaster_that_cannot_be_upgraded_is_an_artifact_error(tmp_path) -> None:
    with pytest.warns(UnsignedMetadataWarning):
        art = load_artifact(LEGACY / "forecaster.safetensors")
    meta = {"format": 1, "rnnkit_version": "0.1.0", "kind": art.kind, "config": art.config,
            "preprocessing": _without(art.preprocessing, "task"), "metrics": art.metrics}
    path = write_signed(tmp_path / "old.safetensors", meta, art.tensors)
    with pytest.warns(UnsignedMetadataWarning), pytest.raises(
        ArtifactError, match=r"format-1 metadata cannot be converted .* missing key 'task'"
    ):
        rnnkit.load(path)
