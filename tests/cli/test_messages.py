"""Messages a user can act on: misspelt flags and commands get a suggestion, a ';'-separated
file read as one column says so, a garbage .npz never advises unpickling."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnnkit.cli import main
from rnnkit.data.sequence_files import read_long_csv, read_npz
from rnnkit.data.timeseries import load_series_table


def error_of(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.out == ""
    return captured.err


@pytest.mark.parametrize(
    "argv,typo,suggestion",
    [
        (["train", "--data", "x.csv", "--hiden-size", "8"], "--hiden-size", "--hidden-size"),
        (["train", "--hiden-size=8"], "--hiden-size", "--hidden-size"),
        (["train", "--task", "classify", "--lable-column", "y"], "--lable-column",
         "--label-column"),
        (["train", "--task", "tag", "--epohcs", "3"], "--epohcs", "--epochs"),
        (["predict", "run", "data.csv", "--ouput", "x.csv"], "--ouput", "--output"),
        (["evaluate", "run", "--jsno"], "--jsno", "--json"),
        (["datasets", "--tsak", "forecast"], "--tsak", "--task"),
        (["info", "--debgu"], "--debgu", "--debug"),
    ],
)
def test_a_misspelt_flag_gets_a_suggestion(capsys, argv, typo, suggestion) -> None:
    err = error_of(capsys, argv)
    command = argv[0]
    assert err.startswith(f"rnnkit {command}: error: unrecognized option {typo!r}")
    assert f"(did you mean {suggestion}?)" in err
    assert f"rnnkit {command} --help" in err


def test_a_flag_far_from_every_option_gets_no_suggestion(capsys) -> None:
    err = error_of(capsys, ["evaluate", "run", "--zzzzzz"])
    assert "unrecognized option '--zzzzzz'" in err and "did you mean" not in err


def test_abbreviations_argparse_accepts_still_work(capsys) -> None:
    assert main(["datasets", "--ta", "forecast"]) == 0  # '--ta' is short for '--task'
    assert "sunspots" in capsys.readouterr().out
    # After '--' everything is a positional value, never an option.
    err = error_of(capsys, ["datasets", "--", "--not-a-flag"])
    assert "unrecognized option" not in err and "--not-a-flag" in err


def test_a_misspelt_command_gets_a_suggestion(capsys) -> None:
    err = error_of(capsys, ["trian", "--epochs", "2"])
    assert "invalid choice: 'trian' (did you mean train?)" in err
    assert "evaluate" in err  # the commands are listed


# --- data files ------------------------------------------------------------------------------

SEMICOLON = "datum;filiale;menge;aktion\n2024-01-01;1;5;0\n2024-01-02;1;7;1\n2024-01-03;1;6;0\n"


def test_a_semicolon_file_read_as_one_column_says_so(tmp_path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text(SEMICOLON)
    # Read with its own separator (detected), the file has every column ...
    table = load_series_table(path, time_column="datum", targets=["menge"])
    assert "separator ';' detected" in "\n".join(table.report.lines())
    # ... and forced to ',' it is one column, and the message says what the file looks like.
    with pytest.raises(ValueError, match="looks ';'-separated") as info:
        load_series_table(path, time_column="datum", targets=["menge"], sep=",")
    assert "'datum'" in str(info.value)
    with pytest.raises(ValueError, match="looks ';'-separated"):
        read_long_csv(path, id_column="filiale", label_column="aktion")
    # A comma file with a missing column gets no such hint.
    path.write_text(SEMICOLON.replace(";", ","))
    with pytest.raises(ValueError) as info:
        load_series_table(path, time_column="date", targets=["menge"])
    assert "separated" not in str(info.value) and "did you mean 'datum'" in str(info.value)


def test_a_semicolon_file_reaches_the_row_checks_from_the_command_line(tmp_path, capsys) -> None:
    path = tmp_path / "sales.csv"
    path.write_text(SEMICOLON)
    assert main(["train", "--data", str(path), "--time-column", "datum", "--targets", "menge",
                 "--runs-dir", str(tmp_path / "runs")]) == 2
    captured = capsys.readouterr()
    assert "separator ';' detected" in captured.out  # the data report, before the checks
    assert "provide more rows" in captured.err and "separated" not in captured.err


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not an archive " * 20)


def _npy(path: Path) -> None:
    with open(path, "wb") as f:
        np.save(f, np.zeros((2, 3, 1)))


def _objects(path: Path) -> None:
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object))


def _truncated(path: Path) -> None:
    np.savez(path, x=np.zeros((4, 5, 2)), y=np.arange(4))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _bad_member(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", b"not an npy array")


NOT_NPZ = "is not a valid NPZ archive of numeric arrays x, y[, lengths]"


@pytest.mark.parametrize(
    "make,expected",
    [(_garbage, NOT_NPZ), (_npy, NOT_NPZ), (_objects, NOT_NPZ), (_truncated, NOT_NPZ),
     (lambda p: p.write_bytes(b""), NOT_NPZ),
     # numpy hands back a member without the .npy header as raw bytes
     (_bad_member, "must be numeric")],
    ids=["garbage", "npy", "objects", "truncated", "empty", "bad-member"],
)
def test_a_bad_npz_never_advises_unpickling(tmp_path, make, expected) -> None:
    path = tmp_path / "data.npz"
    make(path)
    with pytest.raises(ValueError) as info:
        read_npz(path)
    message = str(info.value)
    assert expected in message
    assert str(path) in message
    assert "allow_pickle" not in message and "pickle.load" not in message


def test_a_good_npz_still_reads(tmp_path) -> None:
    path = tmp_path / "ok.npz"
    np.savez(path, x=np.ones((3, 4, 2)), y=np.array([0, 1, 0]), lengths=np.array([4, 2, 3]))
    data = read_npz(path)
    assert [len(s) for s in data.sequences] == [4, 2, 3]
    assert pd.Series(data.labels).tolist() == [0, 1, 0]
