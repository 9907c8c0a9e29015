"""Atomic writes: the target is always the old content or the new, never a half file."""

import os
from pathlib import Path

import pytest

from rnnkit.core import files
from rnnkit.core.files import atomic_write_bytes, atomic_write_text


def test_writes_creates_parents_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "a" / "b" / "x.bin"
    assert atomic_write_bytes(target, b"new") == target
    assert target.read_bytes() == b"new"
    assert atomic_write_text(target, "été") == target
    assert target.read_text(encoding="utf-8") == "été"
    assert os.listdir(target.parent) == ["x.bin"]


def test_the_file_gets_the_mode_of_a_plain_open(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    atomic_write_bytes(tmp_path / "atomic", b"")
    assert (tmp_path / "atomic").stat().st_mode == plain.stat().st_mode


def test_an_error_while_writing_keeps_the_old_file_and_removes_the_temporary(
        tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    target.write_bytes(b"old")
    seen = []
    real_fsync = os.fsync

    def failing_fsync(fd):
        # The half-written temporary exists next to the target at this point...
        seen.extend(p.name for p in tmp_path.iterdir())
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(target, b"new content")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert any(name.startswith(".x.json.") and name.endswith(".tmp") for name in seen)
    # ...and is gone afterwards; the target was never written through.
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_the_target_is_replaced_in_one_step(tmp_path, monkeypatch):
    target = tmp_path / "x.txt"
    target.write_bytes(b"old")
    calls = []
    real_replace = os.replace

    def replace(src, dst):
        # When the rename happens the temporary holds all the new bytes, the target the old.
        calls.append((Path(src).read_bytes(), Path(dst).read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    atomic_write_bytes(target, b"new")
    assert calls == [(b"new", b"old")]
    assert target.read_bytes() == b"new"


def test_io_state_keeps_re_exporting_the_moved_names():
    import rnnkit.core.state
    import rnnkit.io.state

    assert rnnkit.io.state.atomic_write_bytes is files.atomic_write_bytes
    for name in ("StateFormatError", "flatten_state", "unflatten_state", "save_state",
                 "load_state", "state_to_bytes", "read_state_bytes", "FORMAT", "VERSION"):
        assert getattr(rnnkit.io.state, name) is getattr(rnnkit.core.state, name)


def test_state_round_trip_through_the_core_module(tmp_path):
    import torch

    from rnnkit.core.state import load_state, save_state

    state = {"w": torch.arange(3.0), "step": 4, 1: (None, float("inf"))}
    save_state(tmp_path / "s.safetensors", state, kind="test")
    back = load_state(tmp_path / "s.safetensors", kind="test")
    assert torch.equal(back["w"], state["w"]) and back["step"] == 4
    assert back[1] == (None, float("inf"))
    assert [p.name for p in tmp_path.iterdir()] == ["s.safetensors"]
