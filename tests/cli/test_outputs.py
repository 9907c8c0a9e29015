"""`-o/--output` of `rnnkit predict` and `rnnkit evaluate`: checked before any work, never over
the run's own files or the command's inputs, through symbolic links, into pipes and devices, and
to standard output with `-o -`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from rnnkit.cli import main
from rnnkit.data.registry import load_dataset

FAST = ["--epochs", "1", "--hidden-size", "4", "--quiet", "--plots", "false"]


def clean_error(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("outputs")
    load_dataset("sunspots").to_csv(root / "sunspots.csv", index=False)
    return root


@pytest.fixture(scope="module")
def run_dir(workdir) -> Path:
    """A finished (tiny) forecasting run; every test checks its files stay byte-identical."""
    code = main([
        "train", "--data", str(workdir / "sunspots.csv"), "--time-column", "year",
        "--targets", "sunspots", "--horizon", "2", "--runs-dir", str(workdir / "runs"),
        "--name", "sun", *FAST,
    ])
    assert code == 0
    return workdir / "runs" / "sun"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture()
def untouched(run_dir, workdir):
    """Fails the test when the run directory or the input changed."""
    before, data = snapshot(run_dir), (workdir / "sunspots.csv").read_bytes()
    yield
    assert snapshot(run_dir) == before
    assert (workdir / "sunspots.csv").read_bytes() == data


@pytest.mark.parametrize("name", ["model.safetensors", "metrics.json", "config.toml"])
def test_predict_refuses_to_write_over_a_file_of_the_run(run_dir, workdir, untouched, capsys,
                                                         name) -> None:
    code = main(["predict", str(run_dir), str(workdir / "sunspots.csv"),
                 "-o", str(run_dir / name)])
    assert code == 2
    clean_error(capsys, "--output", str(run_dir / name), "run")


def test_evaluate_refuses_to_write_over_a_file_of_the_run(run_dir, untouched, capsys) -> None:
    code = main(["evaluate", str(run_dir), "-o", str(run_dir / "metrics.json")])
    assert code == 2
    clean_error(capsys, "--output", "metrics.json", "run")
    # Given the artifact instead of the folder, the folder it lies in is still the run's.
    code = main(["evaluate", str(run_dir / "model.safetensors"), "-o",
                 str(run_dir / "summary.md")])
    assert code == 2
    clean_error(capsys, "--output", "summary.md")


def test_predict_refuses_to_write_over_its_input(run_dir, workdir, untouched, capsys) -> None:
    data = str(workdir / "sunspots.csv")
    assert main(["predict", str(run_dir), data, "-o", data]) == 2
    clean_error(capsys, "--output", data, "input")


def test_links_to_protected_files_are_refused(run_dir, workdir, untouched, capsys) -> None:
    soft, hard = workdir / "soft.csv", workdir / "hard.csv"
    soft.symlink_to(workdir / "sunspots.csv")
    os.link(run_dir / "model.safetensors", hard)
    try:
        for out in (soft, hard):
            assert main(["predict", str(run_dir), str(workdir / "sunspots.csv"),
                         "-o", str(out)]) == 2
            clean_error(capsys, str(out))
        assert soft.is_symlink()
    finally:
        soft.unlink()
        hard.unlink()


def test_a_new_file_in_the_run_directory_is_fine(run_dir, workdir, capsys) -> None:
    out = run_dir / "forecast.csv"
    try:
        assert main(["predict", str(run_dir), str(workdir / "sunspots.csv"),
                     "-o", str(out)]) == 0
        assert len(pd.read_csv(out)) > 0
    finally:
        out.unlink(missing_ok=True)


def test_output_through_a_symbolic_link_keeps_the_link(run_dir, workdir, capsys) -> None:
    target, link = workdir / "real.csv", workdir / "link.csv"
    target.write_text("old\n")
    link.symlink_to(target.name)  # relative, like most links people make
    assert main(["predict", str(run_dir), str(workdir / "sunspots.csv"), "-o", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == "real.csv"
    assert "sunspots" in target.read_text().splitlines()[0]  # the CSV replaced "old"
    # A dangling link gets its target created.
    target.unlink()
    assert main(["evaluate", str(run_dir), "-o", str(link)]) == 0
    assert link.is_symlink() and "model" in json.loads(target.read_text())


def test_output_into_a_pipe_is_written_directly(run_dir, workdir, capsys, tmp_path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "stdout-like"  # like /dev/stdout -> /proc/self/fd/1
    link.symlink_to(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert main(["evaluate", str(run_dir), "-o", str(link)]) == 0
    reader.join(timeout=60)
    assert link.is_symlink() and fifo.is_fifo()
    assert "model" in json.loads(received[0])


def test_dash_writes_to_standard_output_and_nothing_else(run_dir, workdir) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit", "predict", str(run_dir), "sunspots.csv", "-o", "-"],
        capture_output=True, text=True, cwd=workdir, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert not (workdir / "-").exists()
    lines = result.stdout.splitlines()
    assert "wrote" not in result.stdout and "wrote" in result.stderr
    assert len(lines) > 1 and "," in lines[0]  # a CSV header, then rows
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit", "evaluate", str(run_dir), "-o", "-", "--json"],
        capture_output=True, text=True, cwd=workdir, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "model" in json.loads(result.stdout)  # one JSON document, nothing else


def test_evaluate_dash_sends_the_table_to_standard_error(run_dir, capfd) -> None:
    assert main(["evaluate", str(run_dir), "-o", "-"]) == 0
    captured = capfd.readouterr()
    # JSON alone (a table would not parse), strict (no NaN or Infinity).
    metrics = json.loads(captured.out, parse_constant=lambda c: pytest.fail(f"not strict: {c}"))
    assert set(metrics) >= {"model", "naive"}
    assert "wrote -" in captured.err and "model" in captured.err


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("case", ["missing-folder", "a-folder", "parent-is-a-file"])
def test_a_bad_output_fails_before_anything_is_loaded(workdir, tmp_path, capsys, command,
                                                      case) -> None:
    (tmp_path / "file.txt").write_text("x")
    out = {"missing-folder": tmp_path / "no" / "such" / "out.csv", "a-folder": tmp_path,
           "parent-is-a-file": tmp_path / "file.txt" / "out.csv"}[case]
    model = str(workdir / "no-such-run")  # loading it would fail with another message
    argv = [command, model, *(["sunspots.csv"] if command == "predict" else []), "-o", str(out)]
    assert main(argv) == 2
    err = clean_error(capsys, "--output", str(out))
    assert "no run directory" not in err and ".tmp" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_folder_fails_before_anything_is_loaded(workdir, tmp_path, capsys) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert main(["evaluate", str(workdir / "no-such-run"), "-o",
                     str(folder / "m.json")]) == 2
        clean_error(capsys, "--output", str(folder / "m.json"), "permission")
    finally:
        folder.chmod(0o700)
