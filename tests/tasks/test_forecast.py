"""The forecasting task API end to end: train → artifact → evaluate / predict, and bad input."""

from __future__ import annotations

import importlib.metadata
import json

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.registry import DatasetUnavailableError, load_dataset
from rnnkit.tasks.forecast import (
    ForecastConfig,
    default_training,
    evaluate,
    load_forecaster,
    predict,
    resolve,
    train,
)

FAST = {"epochs": 2, "early_stopping": None, "plots": False}


def two_series_csv(path, n=120):
    """Two daily series with a weekly pattern and a covariate, long format, shuffled rows."""
    rng = np.random.default_rng(0)
    frames = []
    for sid, level in (("north", 10.0), ("south", 30.0)):
        t = np.arange(n)
        frames.append(
            pd.DataFrame(
                {
                    "store": sid,
                    "day": pd.date_range("2023-01-02", periods=n, freq="D").strftime("%Y-%m-%d"),
                    "sales": level + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.3, n),
                    "promo": (t % 5 == 0).astype(float),
                }
            )
        )
    frame = pd.concat(frames).sample(frac=1.0, random_state=0)
    frame.to_csv(path, index=False)
    return frame


def config_for(path, **kw):
    base = dict(
        data=str(path),
        time_column="day",
        targets=["sales"],
        series_column="store",
        covariates=["promo"],
        input_length=14,
        horizon=3,
        season_length=7,
        hidden_size=8,
    )
    return ForecastConfig(**{**base, **kw})


def test_train_writes_an_artifact_that_evaluates_and_predicts_identically(tmp_path):
    csv = tmp_path / "sales.csv"
    two_series_csv(csv)
    run = tmp_path / "run"
    run.mkdir()
    # plots=True: task plots follow the one rule of every task (written when plots are on).
    training = default_training(**{**FAST, "plots": True})
    result = train(config_for(csv), run, training=training, quiet=True)
    for name in ("model.safetensors", "metrics.json", "forecast_test.png", "history.csv"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["windows"] == result.metrics["windows"]
    assert set(metrics["test"]) == {"model", "naive", "seasonal_naive", "drift"}
    assert 0.0 <= metrics["test"]["model"]["coverage"] <= 1.0
    # 120 days → 18 test days per series; horizon 3 → 16 rolling origins each.
    assert metrics["windows"]["test"] == 2 * 16
    assert result.report.reordered and result.report.frequency == "1 day"

    # Reloaded, the model scores its own test period exactly as during training.
    again = evaluate(result.artifact_path)
    for method in ("model", "naive", "seasonal_naive", "drift"):
        for key, value in metrics["test"][method].items():
            assert again[method][key] == pytest.approx(value, rel=1e-9, abs=1e-12), (method, key)

    frame = pd.read_csv(csv)
    out = predict(result.artifact_path, frame)
    assert list(out.columns) == [
        "store",
        "day",
        "step",
        "sales",
        "sales_lower",
        "sales_upper",
        "interval",
    ]
    assert out["store"].tolist() == ["north"] * 3 + ["south"] * 3
    last = pd.Timestamp("2023-01-02") + pd.Timedelta(days=119)
    assert list(out["day"][:3]) == [last + pd.Timedelta(days=k) for k in (1, 2, 3)]
    assert (out["sales_lower"] <= out["sales"]).all() and (out["sales"] <= out["sales_upper"]).all()
    assert out["interval"].eq(0.8).all()
    pd.testing.assert_frame_equal(out, predict(result.artifact_path, csv))
    # Only the last input_length rows of a series matter.
    tail = (
        frame.assign(day=pd.to_datetime(frame["day"])).sort_values("day").groupby("store").tail(14)
    )
    pd.testing.assert_frame_equal(out, predict(result.artifact_path, tail))


def test_autoregressive_quantile_run_round_trips(tmp_path):
    csv = tmp_path / "sales.csv"
    two_series_csv(csv, n=80)
    run = tmp_path / "run"
    run.mkdir()
    cfg = config_for(
        csv,
        covariates=[],
        decoder="autoregressive",
        likelihood="quantile",
        cell="gru",
        calendar="dayofweek",
    )
    result = train(cfg, run, training=default_training(**FAST), quiet=True)
    loaded = load_forecaster(result.artifact_path)
    assert loaded.model.decoder == "autoregressive" and loaded.preprocessor.calendar == [
        "dayofweek"
    ]
    assert evaluate(result.artifact_path)["model"]["mase"] == pytest.approx(
        result.metrics["test"]["model"]["mase"], rel=1e-9
    )


def test_evaluate_all_windows_of_new_data(tmp_path):
    csv = tmp_path / "sales.csv"
    frame = two_series_csv(csv)
    run = tmp_path / "run"
    run.mkdir()
    result = train(config_for(csv), run, training=default_training(**FAST), quiet=True)
    north = frame[frame["store"] == "north"]
    scores = evaluate(result.artifact_path, north, part="all")
    assert scores["windows"] == 120 - 14 - 3 + 1
    with pytest.raises(ValueError, match=r"part must be 'test' or 'all'"):
        evaluate(result.artifact_path, north, part="val")
    other = north.assign(store="west")
    with pytest.raises(ValueError, match=r"the model was trained on .*got only others \('west'\)"):
        predict(result.artifact_path, other)
    with pytest.raises(ValueError, match=r"at least input_length=14 rows per series"):
        predict(result.artifact_path, north.head(10))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"targets": ["sale"]},
            r"targets must name columns .* 'sale' is not one \(did you mean 'sales'\?\)",
        ),
        ({"series_column": "stores"}, r"'stores' is not one \(did you mean 'store'\?\)"),
        (
            {"input_length": 90},
            r"too few rows for the windows: input_length=90 and horizon=3 need at least 93 "
            r"rows in the train period .* has 84 rows",
        ),
        ({"time_column": None}, r"time_column must name the time column"),
        ({"data": "sunspot"}, r"did you mean 'sunspots'\?"),
        ({"decoder": "autoregressive"}, r"cannot know the future of past covariates"),
    ],
    ids=["target", "series", "too-few-rows", "no-time-column", "dataset-name", "ar-covariates"],
)
def test_bad_input_is_refused_with_a_clear_message(tmp_path, change, message):
    csv = tmp_path / "sales.csv"
    two_series_csv(csv)
    cfg = config_for(csv, **change)
    with pytest.raises(ValueError, match=message):
        train(cfg, tmp_path, training=default_training(**FAST), quiet=True)


def test_bad_values_in_the_file_are_located(tmp_path):
    csv = tmp_path / "sales.csv"
    frame = two_series_csv(csv).reset_index(drop=True)
    frame.loc[5, "sales"] = np.nan
    frame.to_csv(csv, index=False)
    with pytest.raises(ValueError, match=r"row 6 column 'sales' \(NaN\)\); pass missing='drop'"):
        train(config_for(csv), tmp_path, training=default_training(**FAST), quiet=True)
    frame["sales"] = frame["sales"].astype(object)
    frame.loc[7, "sales"] = "n/a?"
    frame.to_csv(csv, index=False)
    with pytest.raises(ValueError, match=r"column 'sales' must hold numbers.*row 8: 'n/a\?'"):
        train(config_for(csv), tmp_path, training=default_training(**FAST), quiet=True)


def test_config_reports_every_problem_at_once():
    with pytest.raises(ValueError) as err:
        ForecastConfig(horizon=0, likelihood="normal", interval=80, calendar="weekday")
    text = str(err.value)
    for part in (
        "horizon must be None or an int >= 1, got 0",
        "likelihood must be one of",
        "interval must be a number in (0, 1)",
        "'weekday'",
    ):
        assert part in text
    with pytest.raises(
        ValueError, match=r"unknown option\(s\) 'hiden_size' \(did you mean 'hidden_size'\?\)"
    ):
        ForecastConfig.from_dict({"hiden_size": 3})


def test_dataset_defaults_fill_unset_options():
    c = resolve(ForecastConfig(data="stocks", targets=["close"]))
    assert (c.time_column, c.series_column, c.transform) == ("date", "ticker", "log")
    c = resolve(ForecastConfig(data="seattle-weather", targets=["wind"]))
    assert c.covariates == ["precipitation"]  # the dataset's covariates, less the target
    assert (c.horizon, c.season_length, c.calendar) == (7, 365, "dayofyear")


def test_missing_dataset_package_gives_an_install_hint(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(DatasetUnavailableError, match=r"pip install 'rnnkit\[data\]'"):
        load_dataset("sunspots")


def test_train_on_a_small_real_series(tmp_path):
    try:
        importlib.metadata.distribution("statsmodels")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("statsmodels (the sunspots data) is not installed")
    cfg = ForecastConfig(data="sunspots", hidden_size=8)
    result = train(cfg, tmp_path, training=default_training(**FAST), quiet=True)
    assert result.metrics["windows"] == {"train": 180, "val": 42, "test": 42}
    assert result.report.frequency == "step 1"
    out = predict(result.artifact_path, "sunspots")
    assert out["year"].tolist() == [2009, 2010, 2011, 2012, 2013]
    assert "| seasonal_naive |" in result.summary()


def test_defaults_learn_a_trending_multiplicative_monthly_series(tmp_path):
    """Nothing but data, time column, target and horizon set: the season is inferred (12), the
    log transform chosen, and the forecast beats seasonal naive, which lags a year of trend.
    (A smaller network and min_updates, and no early stopping, keep the test short.)"""
    n = 120
    t = np.arange(n)
    rng = np.random.default_rng(0)
    y = (100 + 3 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) * (1 + rng.normal(0, 0.01, n))
    frame = pd.DataFrame({"month": pd.date_range("2000-01-01", periods=n, freq="MS"), "y": y})
    frame.to_csv(tmp_path / "monthly.csv", index=False)
    cfg = ForecastConfig(
        data=str(tmp_path / "monthly.csv"), time_column="month", targets=["y"], horizon=6,
        test_fraction=0.2, hidden_size=8, min_updates=400,
    )
    training = default_training(cfg, early_stopping=None, plots=False)  # 60 epochs of 8 batches
    result = train(cfg, tmp_path, training=training, quiet=True)
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["season_length"] == 12
    pre = m["preprocessing"]
    assert pre["season_length"]["why"] == "monthly: 12 months a year"
    assert (pre["transform"]["value"], pre["normalization"]["value"]) == ("log", "instance")
    assert pre["batch_size"] == {"value": 8, "source": "auto"}
    assert (pre["budget"]["updates_per_epoch"], pre["budget"]["epochs"]) == (7, 60)
    assert m["training"]["monitor"] == "val_mae_scaled"
    test = m["test"]
    assert test["model"]["mase"] < 0.8 * test["seasonal_naive"]["mase"]
    assert test["model"]["mape"] < test["seasonal_naive"]["mape"]
    assert "MAPE %" in result.summary() and "season length 12 (monthly" in result.summary()
    assert load_forecaster(result.artifact_path).preprocessor.transform == "log"


def test_fallback_ships_the_baseline_that_beat_the_network(tmp_path):
    """A weekly pattern with a little noise: seasonal naive is nearly perfect, so a barely
    trained network loses to it, and fallback='baseline' ships seasonal naive — predict repeats
    the last week, evaluate and the summary say what is shipped."""
    n = 140
    pattern = np.array([3.0, 5.0, 4.0, 8.0, 6.0, 1.0, 2.0])
    y = pattern[np.arange(n) % 7] + np.random.default_rng(0).normal(0, 0.05, n)
    frame = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=n, freq="D"), "y": y})
    frame.to_csv(tmp_path / "weekly.csv", index=False)
    base = dict(data=str(tmp_path / "weekly.csv"), time_column="day", targets=["y"], horizon=7,
                input_length=14, hidden_size=4, min_updates=0, deseasonalize="none")
    training = default_training(epochs=1, early_stopping=None, plots=False)
    (tmp_path / "fb").mkdir()
    result = train(ForecastConfig(**base, fallback="baseline"), tmp_path / "fb",
                   training=training, quiet=True)
    m = result.metrics
    assert m["verdict"]["model_wins"] is False
    assert m["fallback"]["method"] == "seasonal_naive"
    assert m["fallback"]["baseline"] == m["val"]["seasonal_naive"]["mase"]
    assert m["fallback"]["model"] == m["val"]["model"]["mase"] > m["fallback"]["baseline"]
    out = predict(result.artifact_path, str(tmp_path / "weekly.csv"))
    np.testing.assert_allclose(out["y"].to_numpy(), y[-7:])
    assert "y_lower" not in out.columns  # a baseline has no interval
    assert evaluate(result.artifact_path)["shipped"] == "seasonal_naive"
    from rnnkit.tasks.pipeline import verdict_text

    assert "baseline is shipped as the model" in verdict_text(m["verdict"], m["fallback"])
    # the default ships the network, whatever the verdict
    (tmp_path / "net").mkdir()
    plain = train(ForecastConfig(**base), tmp_path / "net", training=training, quiet=True)
    assert "fallback" not in plain.metrics
    assert evaluate(plain.artifact_path)["shipped"] == "model"
    net = predict(plain.artifact_path, str(tmp_path / "weekly.csv"))["y"].to_numpy()
    assert not np.allclose(net, y[-7:], atol=0.1)
