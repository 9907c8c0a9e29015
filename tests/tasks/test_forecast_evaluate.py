"""Evaluating a forecaster: the options of ``rnnkit.evaluate`` (the same as the command's) and
series absent from training scored from their own history, apart from the seen ones."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import rnnkit
from rnnkit.cli import main
from rnnkit.data.retail import retail_panel
from rnnkit.eval.backtest import backtest
from rnnkit.tasks import forecast

H, T = 3, 14


@pytest.fixture(scope="module")
def panel_run(tmp_path_factory):
    """A forecaster trained on stores s0–s2 of a panel whose store s3 is held back."""
    root = tmp_path_factory.mktemp("fc-evaluate")
    frame = retail_panel(4, 150, seed=2).drop(columns=["region"])
    seen = frame[frame["store"] != "s3"]
    seen.to_csv(root / "seen.csv", index=False)
    frame.to_csv(root / "all.csv", index=False)
    config = forecast.ForecastConfig(
        data=str(root / "seen.csv"), time_column="date", targets=["sales"],
        series_column="store", horizon=H, input_length=T, hidden_size=4)
    run = root / "run"
    run.mkdir()
    forecast.train(config, run, training=forecast.default_training(epochs=1, plots=False),
                   quiet=True)
    return root, run, frame


def test_rnnkit_evaluate_passes_the_task_options(panel_run) -> None:
    root, run, _ = panel_run
    every = rnnkit.evaluate(run, root / "seen.csv")
    strided = rnnkit.evaluate(run, root / "seen.csv", stride=2)
    assert strided == forecast.evaluate(run / "model.safetensors", root / "seen.csv", stride=2)
    assert strided["windows"] < every["windows"]
    assert strided["model"]["mase"] != every["model"]["mase"]
    # None is "not given", as for the command's flags
    assert rnnkit.evaluate(run, root / "seen.csv", new_series=None, beam_size=None) == every
    with pytest.raises(ValueError, match=r"beam_size: options for translate and summarize "
                                         r"models, got a 'forecast' model"):
        rnnkit.evaluate(run, beam_size=3)
    with pytest.raises(ValueError, match=r"options for evaluating a 'forecast' model must be "
                                         r"among \['new_series', 'part', 'stride'\], got "
                                         r"\['strid'\]"):
        rnnkit.evaluate(run, strid=2)
    with pytest.raises(ValueError, match=r"on_bad_rows must be one of"):
        rnnkit.evaluate(run, on_bad_rows="drop")


def test_unseen_series_are_scored_from_their_own_history_by_group(panel_run) -> None:
    root, run, frame = panel_run
    with pytest.raises(ValueError, match=r"1 series the model was not trained on \('s3'\).*"
                                         r"--new-series history"):
        rnnkit.evaluate(run, root / "all.csv")
    out = rnnkit.evaluate(run, root / "all.csv", new_series="history")
    seen = rnnkit.evaluate(run, root / "seen.csv")
    groups = out["by_group"]
    assert groups["seen"]["series"] == ["s0", "s1", "s2"]
    assert groups["unseen"]["series"] == ["s3"]
    assert groups["seen"]["windows"] + groups["unseen"]["windows"] == out["windows"]
    # the seen group is exactly the evaluation without the new series
    assert groups["seen"]["windows"] == seen["windows"]
    for method in ("model", "naive", "seasonal_naive", "drift"):
        assert groups["seen"][method]["mase"] == pytest.approx(seen[method]["mase"], rel=1e-12)
    assert "by_group" not in seen
    # the unseen group: the backtest of s3 alone, its scalers fitted on its rows before the
    # validation period (never on the period scored)
    loaded = forecast.load_forecaster(run / "model.safetensors")
    table = forecast._read_for(loaded, frame[frame["store"] == "s3"])
    pre = loaded.preprocessor.adopt(table, loaded.split)
    alone = backtest(loaded.model, pre, table, loaded.split, part="test",
                     season=out["season_length"])
    assert groups["unseen"]["windows"] == len(alone.forecasts.windows)
    for method in ("model", "seasonal_naive"):
        assert groups["unseen"][method]["mase"] == pytest.approx(
            alone.metrics[method]["mase"], rel=1e-9)
    # skipping instead: the seen series only
    with pytest.warns(UserWarning, match=r"skipped 1 series the model was not trained on: 's3'"):
        skipped = rnnkit.evaluate(run, root / "all.csv", on_bad_rows="skip")
    assert skipped["model"] == seen["model"]


def test_a_new_series_needs_input_length_rows_before_the_validation_period(panel_run) -> None:
    root, run, frame = panel_run
    split = forecast.load_forecaster(run / "model.safetensors").split
    late = frame[(frame["store"] != "s3") | (frame["date"] >= pd.Timestamp(split.val_start)
                                             - pd.Timedelta(days=5))]
    with pytest.raises(ValueError, match=r"1 series the model was not trained on with fewer "
                                         r"than input_length=14 rows before the validation "
                                         r"period.*: 's3' \(5 rows\).*on_bad_rows='skip'"):
        rnnkit.evaluate(run, late, new_series="history")
    with pytest.warns(UserWarning, match=r"skipped 1 series .*'s3' \(5 rows\)"):
        out = rnnkit.evaluate(run, late, new_series="history", on_bad_rows="skip")
    assert "by_group" not in out
    assert out["model"] == rnnkit.evaluate(run, root / "seen.csv")["model"]
    with pytest.raises(ValueError, match=r"part='all' scores every window"):
        rnnkit.evaluate(run, root / "all.csv", new_series="history", part="all")


def test_the_command_scores_new_series_by_group(panel_run, capsys) -> None:
    root, run, _ = panel_run
    data = str(root / "all.csv")
    assert main(["evaluate", str(run), data, "--new-series", "history", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = rnnkit.evaluate(run, data, new_series="history")["by_group"]
    assert printed["by_group"]["unseen"]["series"] == ["s3"]
    assert printed["by_group"]["unseen"]["model"]["mase"] == pytest.approx(
        expected["unseen"]["model"]["mase"], rel=1e-12)
    assert main(["evaluate", str(run), data, "--new-series", "history"]) == 0
    text = capsys.readouterr().out
    g = expected["unseen"]
    assert (f"| unseen | 1 | {g['windows']} | {g['model']['mase']:.3f} | "
            f"{g['naive']['mase']:.3f} |") in text
    assert main(["evaluate", str(run), data, "--on-bad-rows", "error"]) == 2
    assert "--new-series history" in capsys.readouterr().err
    assert np.isfinite(expected["seen"]["model"]["mase"])
