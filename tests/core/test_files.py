"""Atomic writes (the target is always the old content or the new, never a half file) and the
checked outputs of commands."""

import os
import threading
from pathlib import Path

import pytest

from rnnkit.core import files
from rnnkit.core.files import atomic_write_bytes, atomic_write_text, check_output, write_output


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


# --- check_output / write_output: the outputs a user names with -o ------------------------------


def test_a_new_or_existing_regular_file_is_replaced_atomically_keeping_its_mode(tmp_path):
    out = tmp_path / "out.csv"
    assert check_output(out).kind == "file" and check_output(out).target == out
    out.write_text("old")
    out.chmod(0o640)
    write_output(out, b"new")
    assert out.read_bytes() == b"new" and (out.stat().st_mode & 0o777) == 0o640
    assert os.listdir(tmp_path) == ["out.csv"]


def test_a_symbolic_link_is_written_through_and_stays_a_link(tmp_path):
    (tmp_path / "sub").mkdir()
    real, link = tmp_path / "sub" / "real.csv", tmp_path / "link.csv"
    link.symlink_to("sub/real.csv")  # dangling at first: the target is created
    write_output(link, b"one")
    assert link.is_symlink() and real.read_bytes() == b"one"
    write_output(link, b"two")
    assert link.is_symlink() and os.readlink(link) == "sub/real.csv"
    assert real.read_bytes() == b"two"
    assert sorted(os.listdir(tmp_path / "sub")) == ["real.csv"]


def test_protected_files_are_refused_by_path_link_and_identity(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "model.safetensors").write_bytes(b"model")
    (run / "checkpoints" / "last.safetensors").write_bytes(b"ckpt")
    data = tmp_path / "data.csv"
    data.write_bytes(b"a,b\n")
    (tmp_path / "soft").symlink_to(run / "model.safetensors")
    os.link(run / "checkpoints" / "last.safetensors", tmp_path / "hard")
    os.link(data, tmp_path / "hard-data")
    protected = [("a file of the run directory", run), ("the input", data),
                 ("a bundled dataset", "sunspots"), ("nothing", None)]
    cases = {
        run / "model.safetensors": "a file of the run directory",
        run / "checkpoints" / ".." / "checkpoints" / "last.safetensors": "run directory",
        tmp_path / "soft": "run directory",
        tmp_path / "hard": "run directory",
        data: "the input",
        tmp_path / "hard-data": "the input",
    }
    for path, why in cases.items():
        with pytest.raises(ValueError, match=f"--output '{path}' would write over .*{why}"):
            check_output(path, protected=protected)
    assert (run / "model.safetensors").read_bytes() == b"model"
    # A new file inside the run directory and an unrelated file are fine.
    assert check_output(run / "predictions.csv", protected=protected).kind == "file"
    assert check_output(tmp_path / "other.csv", protected=protected).kind == "file"


@pytest.mark.parametrize("case", ["folder", "missing-folder", "file-as-folder", "dangling"])
def test_unwritable_places_are_refused_naming_the_given_path(tmp_path, case):
    (tmp_path / "f").write_text("")
    (tmp_path / "dangling").symlink_to("no/such/place.csv")
    path, message = {
        "folder": (tmp_path, "must be a file path, got the folder"),
        "missing-folder": (tmp_path / "no" / "x.csv", "folder must exist"),
        "file-as-folder": (tmp_path / "f" / "x.csv", "folder must exist"),
        "dangling": (tmp_path / "dangling", "folder must exist.*links to"),
    }[case]
    with pytest.raises(ValueError, match=message) as info:
        check_output(path, what="-o")
    assert str(path) in str(info.value) and str(info.value).startswith("-o")


def test_a_failed_write_names_the_users_path_not_the_temporary_file(tmp_path, monkeypatch):
    out = tmp_path / "out.csv"
    checked = check_output(out)

    def full_disk(fd):
        raise OSError(28, "No space left on device", str(tmp_path / ".out.csv.x1y2.tmp"))

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError) as info:
        checked.write_bytes(b"data")
    assert str(info.value) == f"cannot write --output {str(out)!r}: No space left on device"
    assert os.listdir(tmp_path) == []


def test_pipes_and_devices_are_written_directly(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert check_output(fifo).kind == "stream"
    assert check_output("/dev/null").kind == "stream"  # checked only: never replaced
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_output(fifo, b"through the pipe")
    reader.join(timeout=30)
    assert received == [b"through the pipe"] and fifo.is_fifo()


def test_standard_streams_and_descriptors_are_written_where_they_point(tmp_path):
    for name in ("-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"):
        out = check_output(name)
        assert out.kind == "stdout" and out.to_stdout and out.target is None
    assert check_output("/dev/stderr").kind == "fd" and check_output("/dev/stderr").fd == 2
    log = tmp_path / "log"
    with open(log, "ab") as f:  # like the shell's '3>> log': appended, never truncated
        f.write(b"kept\n")
        f.flush()
        out = check_output(f"/dev/fd/{f.fileno()}")
        assert out.kind == "fd" and not out.to_stdout
        out.write_bytes(b"added\n")
    assert log.read_bytes() == b"kept\nadded\n"
    with pytest.raises(ValueError, match="'/dev/fd/987' is not an open file descriptor"):
        check_output("/dev/fd/987")


def test_standard_output_receives_the_bytes(capfdbinary):
    write_output("-", b"a,b\n1,2\n")
    assert capfdbinary.readouterr().out == b"a,b\n1,2\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_files_and_folders_are_refused(tmp_path):
    ro_file, ro_dir = tmp_path / "ro.csv", tmp_path / "ro"
    ro_file.write_text("keep")
    ro_file.chmod(0o444)
    ro_dir.mkdir()
    ro_dir.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="not writable"):
            check_output(ro_file)
        with pytest.raises(ValueError, match="no permission to create files"):
            check_output(ro_dir / "x.csv")
    finally:
        ro_dir.chmod(0o700)
