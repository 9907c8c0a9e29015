"""The forecasting defaults' parts: MAPE, season length from the frequency, the automatic log
transform rule, instance normalisation and the update budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.forecast_inputs import ForecastPreprocessor
from rnnkit.data.frequency import Frequency, season_length_for
from rnnkit.data.scaling import (
    check_positive,
    choose_transform,
    forward_transform,
    inverse_transform,
    level_elasticity,
)
from rnnkit.data.timeseries import load_series_table
from rnnkit.data.windows import time_split
from rnnkit.eval import forecast_metrics as fm
from rnnkit.eval.backtest import metrics_table
from rnnkit.tasks.forecast import (
    FORECAST_TRAINING_DEFAULTS,
    apply_update_budget,
    auto_batch_size,
    default_training,
)


def multiplicative(n: int = 120, seed: int = 0) -> np.ndarray:
    """Monthly series with a trend and a seasonal swing proportional to the level."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return (100 + 3 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) * (1 + rng.normal(0, 0.01, n))


def additive(n: int = 120, seed: int = 0) -> np.ndarray:
    """The same trend with a seasonal swing of constant size."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 100 + 3 * t + 25 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1.0, n)


# -- MAPE -------------------------------------------------------------------------------------


def test_mape_values_and_where_it_is_defined():
    actual = np.array([[100.0], [200.0], [50.0]])
    forecast = np.array([[110.0], [180.0], [50.0]])
    assert fm.mape(actual, forecast) == pytest.approx(100 * (0.1 + 0.1 + 0.0) / 3)
    assert np.isnan(fm.mape(np.array([1.0, 0.0]), np.array([1.0, 1.0])))
    assert np.isnan(fm.mape(np.array([1.0, -2.0]), np.array([1.0, 1.0])))
    scale = np.array([10.0])
    assert fm.point_metrics(actual, forecast, scale)["mape"] == pytest.approx(20 / 3)
    assert "mape" not in fm.point_metrics(actual - 100, forecast, scale)


def test_metrics_table_shows_mape_only_when_a_method_has_it():
    with_mape = {"model": {"mae": 1.0, "smape": 2.0, "mape": 3.456, "mase": 0.5}}
    table = metrics_table(with_mape)
    assert table.splitlines()[0] == "| method | MAE | sMAPE % | MAPE % | MASE |"
    assert table.splitlines()[2] == "| model | 1.000 | 2.00 | 3.46 | 0.500 |"
    head = metrics_table({"model": {"mae": 1.0, "smape": 2.0, "mase": 0.5}}).splitlines()[0]
    assert head == "| method | MAE | sMAPE % | MASE |"


# -- season length ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "rows", "m"),
    [
        (Frequency("month", 1), 100, 12),
        (Frequency("month", 3), 40, 4),
        (Frequency("timedelta", 86400.0), 50, 7),
        (Frequency("business_day", 1), 50, 5),
        (Frequency("timedelta", 3600.0), 100, 24),
        (Frequency("timedelta", 1800.0), 100, 48),
        (Frequency("timedelta", 604800.0), 200, 52),
        (Frequency("timedelta", 604800.0), 80, 1),  # under two years of weeks
        (Frequency("month", 1), 20, 1),  # under two years of months
        (Frequency("year", 1), 100, 1),
        (Frequency("number", 1.0), 100, 1),
    ],
)
def test_season_length_follows_the_frequency(frequency, rows, m):
    got, why = season_length_for(frequency, rows)
    assert got == m
    assert why


def test_season_length_reason_says_why_it_fell_back():
    m, why = season_length_for(Frequency("month", 1), 20)
    assert m == 1 and "20 rows (< 2 seasons)" in why


# -- the automatic transform ------------------------------------------------------------------


def test_elasticity_tells_multiplicative_from_additive():
    assert level_elasticity(multiplicative(), 12) > 0.8
    assert abs(level_elasticity(additive(), 12)) < 0.3
    assert np.isnan(level_elasticity(multiplicative(30), 12))  # two blocks only


def test_transform_rule_on_training_rows():
    chosen = choose_transform({"": multiplicative()[:, None]}, True, 12)
    assert chosen["transform"] == "log" and "spread grows with the level" in chosen["reason"]
    assert choose_transform({"": additive()[:, None]}, True, 12)["transform"] == "none"
    refused = choose_transform({"": multiplicative()[:, None]}, False, 12)
    assert refused == {**refused, "transform": "none",
                       "reason": "some target values are negative"}
    # zeros but nothing negative: log(1 + y), and the reason says why
    zeros = choose_transform({"": multiplicative()[:, None]}, False, 12, all_nonnegative=True)
    assert zeros["transform"] == "log1p" and "some values are 0" in zeros["reason"]
    flat_level = 100 * (1 + 0.25 * np.sin(2 * np.pi * np.arange(120) / 12))
    no_trend = choose_transform({"": flat_level[:, None]}, True, 12)
    assert no_trend["transform"] == "none"  # no level change to measure the slope on


# -- instance normalisation -------------------------------------------------------------------


def test_log1p_round_trips_zeros_and_refuses_negative_values():
    y = np.array([[0.0], [3.0], [250.0]])
    np.testing.assert_allclose(inverse_transform(forward_transform(y, "log1p"), "log1p"), y)
    check_positive(y, ["y"], "the data", "log1p")  # zeros are fine
    with pytest.raises(ValueError, match=r"transform='log1p' needs non-negative targets, but "
                       r"column 'y' has -1.0 in the data \(row 2\)"):
        check_positive(np.array([[0.0], [-1.0]]), ["y"], "the data", "log1p")
    with pytest.raises(ValueError, match="transform='log' needs positive targets"):
        check_positive(y, ["y"], "the data", "log")


def test_instance_normalisation_uses_each_windows_mean_and_spread_and_inverts():
    y = multiplicative(60)
    frame = pd.DataFrame({"t": pd.date_range("2000-01-01", periods=60, freq="MS"), "y": y})
    table = load_series_table(frame, time_column="t", targets=["y"])
    split = time_split(frame["t"].to_numpy(), 0.0, 0.2)
    pre = ForecastPreprocessor(
        targets=["y"], covariates=[], calendar=[], input_length=12, horizon=3,
        normalization="instance", transform="log", frequency=table.frequency,
        time_column="t", series_column=None,
    ).fit(table, split)
    w = pre.windows(table, split, "train")
    past = np.log(y[w.origin[0] - 11 : w.origin[0] + 1])
    assert w.loc[0, 0] == pytest.approx(past.mean())
    assert w.scale[0, 0] == pytest.approx(past.std())
    z = w.target[:, :12, 0]
    assert np.allclose(z.mean(axis=1), 0, atol=1e-5) and np.allclose(z.std(axis=1), 1, atol=1e-4)
    back = pre.to_data_units(w.target[:, 12:, :].astype(np.float64), w.loc, w.scale)
    assert np.allclose(back, w.actual, rtol=1e-5)
    # Windows late in the series, whose level the early ones never reached, look the same.
    assert abs(z[-1].mean() - z[0].mean()) < 1e-5


# -- batch size and update budget -------------------------------------------------------------


def test_batch_size_scales_with_the_training_windows():
    assert [auto_batch_size(n) for n in (10, 128, 200, 961, 5000)] == [8, 8, 13, 61, 64]


def test_update_budget_raises_default_epochs_only():
    training = default_training()
    decided = apply_update_budget(training, batches=9, min_updates=1000)
    assert (training.epochs, training.early_stopping) == (112, 28)
    assert decided["raised_from"] == {"epochs": 60, "early_stopping": 10}
    mine = default_training(epochs=5, early_stopping=3)
    apply_update_budget(mine, batches=9, min_updates=1000)
    assert (mine.epochs, mine.early_stopping) == (5, 3)  # a user's choice is kept
    big = default_training()
    assert apply_update_budget(big, batches=100, min_updates=1000)["raised_from"] is None
    assert big.epochs == FORECAST_TRAINING_DEFAULTS["epochs"]
    off = default_training()
    apply_update_budget(off, batches=2, min_updates=0)
    assert off.epochs == 60
    assert default_training().monitor == "val_mae_scaled"


def test_the_default_input_length_fits_a_short_series(tmp_path) -> None:
    """Ten years of months minus an 18-month holdout (the air-passengers case of the public
    suite): the default T = max(24, 4h) = 72 left no training window; it is shortened."""
    from rnnkit.data.forecast_inputs import fit_input_length
    from rnnkit.tasks.forecast import TASK, ForecastConfig

    assert fit_input_length(72, 18, 88) == (35, "shortened from 72: the training period has 88 "
                                            "rows, which leaves 0 window(s) of 72 + 18 steps")
    assert fit_input_length(24, 1, 500) == (24, None)
    assert fit_input_length(24, 1, 8) == (24, None)  # too short to learn from: the row check
    assert fit_input_length(72, 18, 30) == (72, None)
    n = 126
    t = np.arange(n)
    frame = pd.DataFrame({"month": pd.date_range("1949-01-01", periods=n, freq="MS"),
                          "passengers": (100 + t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12))})
    frame.to_csv(tmp_path / "air.csv", index=False)
    said: list[str] = []
    prepared = TASK.prepare(ForecastConfig(data=str(tmp_path / "air.csv"), time_column="month",
                                           targets=["passengers"], horizon=18),
                            TASK.default_training(None, quiet=True), said.append)
    assert prepared.config.input_length == 35 and prepared.parts["counts"]["train"] > 0
    assert any("input length 35 (shortened from 72" in line for line in said)
    # A length the user gives is theirs: too long stays an error that says what is needed.
    with pytest.raises(ValueError, match="too few rows for the windows: input_length=72"):
        TASK.prepare(ForecastConfig(data=str(tmp_path / "air.csv"), time_column="month",
                                    targets=["passengers"], horizon=18, input_length=72),
                     TASK.default_training(None, quiet=True), said.append)
