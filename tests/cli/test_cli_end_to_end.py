"""The command line end to end, in subprocesses, on a small real series (yearly sunspots):
train -> evaluate -> predict, reload, config file + flags, bad input, damaged artifacts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import rnnkit
from rnnkit.data.registry import load_dataset

FAST = ["--epochs", "2", "--hidden-size", "8", "--quiet"]


def rnnkit_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rnnkit", *args], capture_output=True, text=True, cwd=cwd,
        timeout=600,
    )


def assert_clean_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    load_dataset("sunspots").to_csv(root / "sunspots.csv", index=False)
    return root


@pytest.fixture(scope="module")
def trained(workdir) -> Path:
    """One training run from a config file, with flags overriding it."""
    (workdir / "run.toml").write_text(
        'task = "forecast"\n[forecast]\ndata = "sunspots.csv"\ntime_column = "year"\n'
        'targets = ["sunspots"]\nhidden_size = 64\nhorizon = 3\n[training]\nepochs = 50\n'
    )
    result = rnnkit_cli("train", "--config", "run.toml", "--name", "sun", *FAST, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("sun")  # quiet mode prints only the run directory
    return workdir / "runs" / "sun"


def test_run_directory_holds_everything(trained) -> None:
    for name in ("config.toml", "model.safetensors", "metrics.json", "history.csv",
                 "history.json", "summary.md", "forecast_test.png", "learning_curves.png"):
        assert (trained / name).is_file(), name
    config = (trained / "config.toml").read_text()
    assert "hidden_size = 8" in config and "epochs = 2" in config  # flags won over the file
    assert "horizon = 3" in config  # the file's value where no flag was given
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["training"]["epochs"] == 2
    assert {"model", "naive", "seasonal_naive", "drift"} <= set(metrics["test"])
    summary = (trained / "summary.md").read_text()
    assert "| seasonal_naive |" in summary


def test_evaluate_matches_the_training_metrics(trained, workdir) -> None:
    result = rnnkit_cli("evaluate", str(trained), "-o", "eval.json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    evaluated = json.loads((workdir / "eval.json").read_text())
    trained_metrics = json.loads((trained / "metrics.json").read_text())["test"]
    for method in ("model", "seasonal_naive"):
        assert evaluated[method]["mae"] == pytest.approx(trained_metrics[method]["mae"], rel=1e-6)


def test_predict_round_trip_and_reload(trained, workdir) -> None:
    result = rnnkit_cli("predict", str(trained), "sunspots.csv", "-o", "forecast.csv",
                        cwd=workdir)
    assert result.returncode == 0, result.stderr
    cli_forecast = pd.read_csv(workdir / "forecast.csv")
    assert list(cli_forecast["year"]) == [2009, 2010, 2011]  # the 3 years after the data
    assert list(cli_forecast["step"]) == [1, 2, 3]
    assert (cli_forecast["sunspots_lower"] <= cli_forecast["sunspots_upper"]).all()
    # The artifact rebuilt in this process predicts what the CLI wrote.
    api_forecast = rnnkit.predict(trained, workdir / "sunspots.csv")
    pd.testing.assert_frame_equal(
        api_forecast.reset_index(drop=True), cli_forecast, check_dtype=False, atol=1e-9
    )
    loaded = rnnkit.load(trained / "model.safetensors")
    assert type(loaded).__name__ == "LoadedForecaster"


def test_bad_options_are_all_reported(workdir) -> None:
    result = rnnkit_cli("train", "--data", "sunspots.csv", "--hiden-size", "8", cwd=workdir)
    assert result.returncode == 2  # argparse: unknown flag
    (workdir / "typo.toml").write_text("hiden_size = 8\nepochs = 'many'\n")
    result = rnnkit_cli("train", "--config", "typo.toml", cwd=workdir)
    assert_clean_error(
        result, "2 problems", "unknown option 'hiden_size' in config file (did you mean "
        "hidden_size?)", "epochs: expected an int, got 'many'"
    )


@pytest.mark.parametrize(
    "content,args,fragments",
    [
        (None, ["--data", "missing.csv"], ["missing.csv"]),
        ("", [], ["empty"]),
        ("year,sunspots\n1700,5\n1701,abc\n1702,7\n", [], ["abc", "sunspots"]),
        ("year,sunspots\n" + "".join(f"{1700 + i},{i % 11}\n" for i in range(12)), [],
         ["rows"]),
    ],
    ids=["missing-file", "empty-csv", "non-numeric", "too-few-rows"],
)
def test_bad_data_is_a_clean_error(workdir, content, args, fragments) -> None:
    path = workdir / "bad.csv"
    if content is not None:
        path.write_text(content)
    result = rnnkit_cli(
        "train", "--data", "bad.csv", "--time-column", "year", "--targets", "sunspots",
        *args, *FAST, cwd=workdir,
    )
    assert_clean_error(result, *fragments)


def test_missing_column_suggests_the_closest(workdir) -> None:
    result = rnnkit_cli("train", "--data", "sunspots.csv", "--time-column", "year",
                        "--targets", "sunspot", *FAST, cwd=workdir)
    assert_clean_error(result, "sunspot", "did you mean 'sunspots'")


def test_nan_is_reported_and_can_be_dropped(workdir) -> None:
    frame = pd.read_csv(workdir / "sunspots.csv")
    frame.loc[100, "sunspots"] = float("nan")
    frame.to_csv(workdir / "gappy.csv", index=False)
    base = ["train", "--data", "gappy.csv", "--time-column", "year", "--targets", "sunspots"]
    assert_clean_error(rnnkit_cli(*base, *FAST, cwd=workdir), "NaN", "row 101", "sunspots")
    ok = rnnkit_cli(*base, "--missing", "interpolate", *FAST, cwd=workdir)
    assert ok.returncode == 0, ok.stderr


def test_unwritable_output_leaves_existing_files_intact(trained, workdir) -> None:
    result = rnnkit_cli("predict", str(trained), "sunspots.csv", "-o", "no/such/dir/out.csv",
                        cwd=workdir)
    assert_clean_error(result, "--output's folder must exist")
    keep = workdir / "keep.csv"
    keep.write_text("precious\n")
    result = rnnkit_cli("predict", str(trained), "missing.csv", "-o", "keep.csv", cwd=workdir)
    assert result.returncode == 2
    assert keep.read_text() == "precious\n"


def test_damaged_artifacts_are_refused(trained, workdir) -> None:
    good = (trained / "model.safetensors").read_bytes()
    truncated, tampered = workdir / "truncated.safetensors", workdir / "tampered.safetensors"
    truncated.write_bytes(good[: len(good) // 2])
    flipped = bytearray(good)
    flipped[-10] ^= 0xFF  # a byte of the last tensor
    tampered.write_bytes(bytes(flipped))
    assert_clean_error(rnnkit_cli("evaluate", str(truncated), cwd=workdir),
                       "not a readable safetensors file")
    assert_clean_error(rnnkit_cli("evaluate", str(tampered), cwd=workdir),
                       "failed its integrity check")
    assert_clean_error(rnnkit_cli("predict", str(workdir / "nothing-here"), "sunspots.csv",
                                  "-o", "x.csv", cwd=workdir), "no run directory or artifact")
