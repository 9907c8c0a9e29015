"""The command line's shell: subcommands, help, exit codes, errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rnnkit.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rnnkit", *args], capture_output=True, text=True, timeout=300
    )


def test_info_reports_backends(capsys) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "rnnkit 0.1.0" in out and "backends" in out and "lstm cpu float32" in out


def test_unknown_dataset_is_a_clean_error(capsys) -> None:
    assert main(["datasets", "no-such-dataset"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit datasets: error: dataset must be one of")
    assert "Traceback" not in err


def test_debug_shows_the_traceback() -> None:
    with pytest.raises(ValueError, match="dataset must be one of"):
        main(["datasets", "no-such-dataset", "--debug"])


def test_python_dash_m_and_help() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("demo", "datasets", "info"):
        assert command in result.stdout
    bad = run_cli("no-such-command")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
