"""AutoETS / AutoTheta / AutoARIMA beside the forecaster: scored on the model's own windows,
fit on the training rows, capped, and counted in the verdict but never shipped."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from rnnkit.eval.stat_baselines import (
    library_baselines_enabled,
    record_lines,
    stat_baseline_metrics,
    statsforecast_makers,
)
from rnnkit.tasks.forecast import TASK, ForecastConfig, default_training, predict, train
from rnnkit.tasks.pipeline import verdict_text


class TrainMeanPlusLast:
    """A model with statsforecast's interface whose forecast shows what it saw: the mean of
    the rows it was fit on plus the last value of the history it is run forward on."""

    def __init__(self, season: int) -> None:
        self.season = season

    def fit(self, y: np.ndarray) -> TrainMeanPlusLast:
        self.mean = float(np.mean(y))
        return self

    def forward(self, y: np.ndarray, h: int) -> dict[str, np.ndarray]:
        return {"mean": np.full(h, self.mean + y[-1])}


def windows_of(y: np.ndarray, series: int, origins: list[int], h: int):
    actual = np.stack([y[o + 1 : o + 1 + h] for o in origins])[..., None]  # (B, h, 1)
    return np.full(len(origins), series), np.array(origins), actual


def test_fit_on_training_rows_forward_to_each_origin():
    """Series 0..19, fit on the first 10 rows (mean 4.5): from origin o the forecast is
    4.5 + o, so with h = 2 the errors are 3.5 and 2.5 at every origin: MAE 3, MASE 3/2."""
    y = np.arange(20, dtype=np.float64)[:, None]
    series, origins, actual = windows_of(y[:, 0], 0, [11, 12, 13], 2)
    out = stat_baseline_metrics(
        history=[y], train_rows=[10], series_ids=[""], targets=["y"],
        windows={"test": (series, origins, actual, actual + 1.0)},
        scales=np.array([[2.0]]), season=1, horizon=2, max_fits=20,
        makers={"Mean": TrainMeanPlusLast},
    )
    m = out.metrics["test"]["Mean"]
    assert m["mae"] == pytest.approx(3.0)
    assert m["mase"] == pytest.approx(1.5)
    assert "partial" not in m
    assert out.per_target["y"]["Mean"]["mae"] == pytest.approx(3.0)
    assert out.record["fitted_series"] == out.record["series"] == 1


def test_the_cap_fits_the_first_series_and_says_which_are_left_out():
    a, b = np.arange(20.0)[:, None], 100 + np.arange(20.0)[:, None]
    sa, oa, xa = windows_of(a[:, 0], 0, [11, 12], 1)
    sb, ob, xb = windows_of(b[:, 0], 1, [11, 12], 1)
    actual = np.concatenate([xa, xb])
    model = actual + np.array([1.0, 1.0, 5.0, 5.0])[:, None, None]  # off by 1 on a, 5 on b
    out = stat_baseline_metrics(
        history=[a, b], train_rows=[10, 10], series_ids=["a", "b"], targets=["y"],
        windows={"val": (np.concatenate([sa, sb]), np.concatenate([oa, ob]), actual, model)},
        scales=np.ones((2, 1)), season=1, horizon=1, max_fits=1,
        makers={"Mean": TrainMeanPlusLast},
    )
    m = out.metrics["val"]["Mean"]
    assert m["partial"] is True and m["windows"] == 2
    assert m["mae"] == pytest.approx(3.5)  # 4.5 + o − (o + 1) on series a only
    assert out.record["model_on_fitted_series"]["val"]["mae"] == pytest.approx(1.0)
    assert out.record["unfitted_series"] == ["b"]
    assert out.record["fitted_series"] == 1 and out.record["series"] == 2
    # a baseline scored on part of the windows is not compared with the model's whole score
    assert TASK.scores_by_method({"model": {"mase": 2.0}, **out.metrics["val"]}) == {
        "model": 2.0
    }
    text = " ".join(record_lines(out.record))
    assert "Only the first 1 of 2 series were fitted" in text and "not fitted: b" in text


def test_autoarima_is_skipped_with_the_reason_above_season_24():
    y = np.arange(80.0)[:, None]
    series, origins, actual = windows_of(y[:, 0], 0, [70], 2)
    out = stat_baseline_metrics(
        history=[y], train_rows=[60], series_ids=[""], targets=["y"],
        windows={"test": (series, origins, actual, actual)}, scales=np.ones((1, 1)),
        season=25, horizon=2, max_fits=5,
        makers={"AutoETS": TrainMeanPlusLast, "AutoARIMA": TrainMeanPlusLast},
    )
    assert list(out.metrics["test"]) == ["AutoETS"]
    assert "season length 25 > 24" in out.record["skipped"]["AutoARIMA"]


def test_bad_options_are_refused_with_the_received_value():
    with pytest.raises(ValueError, match="stat_baselines_max_fits must be an integer >= 1, got 0"):
        stat_baseline_metrics(history=[], train_rows=[], series_ids=[], targets=[], windows={},
                              scales=np.ones((0, 1)), season=1, horizon=1, max_fits=0,
                              makers={})
    with pytest.raises(ValueError) as err:
        ForecastConfig(stat_baselines="on", stat_baselines_max_fits=0)
    assert str(err.value) == (
        "ForecastConfig: stat_baselines must be one of ['auto', 'off'], got 'on'; "
        "stat_baselines_max_fits must be an int >= 1, got 0"
    )


def test_missing_statsforecast_is_one_note_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsforecast.models", None)  # import fails
    makers, why = statsforecast_makers()
    assert makers is None and "pip install 'rnnkit[bench]'" in why
    y = np.arange(20.0)[:, None]
    out = stat_baseline_metrics(
        history=[y], train_rows=[10], series_ids=[""], targets=["y"],
        windows={"test": (*windows_of(y[:, 0], 0, [12], 1), np.zeros((1, 1, 1)))},
        scales=np.ones((1, 1)), season=1, horizon=1, max_fits=20,
    )
    assert out.metrics == {}
    assert record_lines(out.record) == [out.record["note"]]
    assert out.record["note"].startswith("AutoETS, AutoTheta, AutoARIMA skipped")


def test_the_environment_variable_turns_auto_off(monkeypatch):
    monkeypatch.setenv("RNNKIT_LIBRARY_BASELINES", "OFF")
    assert library_baselines_enabled() is False
    monkeypatch.setenv("RNNKIT_LIBRARY_BASELINES", "")
    assert library_baselines_enabled() is True


def test_statsforecast_forecasts_are_its_own_fit_then_forward():
    """The numbers are statsforecast's: AutoETS fit on the training rows, forward to the
    origin, scored with the run's MASE scale."""
    pytest.importorskip("statsforecast")
    makers, _ = statsforecast_makers()
    t = np.arange(48)
    y = (20 + 0.2 * t + 3 * np.sin(2 * np.pi * t / 4)
         + np.random.default_rng(0).normal(0, 0.2, 48))[:, None]
    series, origins, actual = windows_of(y[:, 0], 0, [40, 42], 3)
    out = stat_baseline_metrics(
        history=[y], train_rows=[36], series_ids=[""], targets=["y"],
        windows={"test": (series, origins, actual, actual)}, scales=np.array([[0.5]]),
        season=4, horizon=3, max_fits=20, makers={"AutoETS": makers["AutoETS"]},
    )
    fitted = makers["AutoETS"](4).fit(y[:36, 0])
    expected = np.stack([fitted.forward(y=y[: o + 1, 0], h=3)["mean"] for o in (40, 42)])
    mae = np.mean(np.abs(actual[..., 0] - expected))
    assert out.metrics["test"]["AutoETS"]["mae"] == pytest.approx(mae, rel=1e-9)
    assert out.metrics["test"]["AutoETS"]["mase"] == pytest.approx(mae / 0.5, rel=1e-9)
    assert out.metrics["test"]["AutoETS"]["mae"] < 1.0  # it follows trend and season


def test_a_run_reports_them_counts_them_and_ships_a_shippable_baseline(tmp_path,
                                                                       library_baselines):
    """A weekly pattern with little noise: AutoETS & co. beat seasonal naive, which beats the
    barely trained network. The verdict names the library's model, the fallback ships the best
    rnnkit baseline instead (predict repeats the last week), and the summary says why."""
    pytest.importorskip("statsforecast")
    n = 140
    pattern = np.array([3.0, 5.0, 4.0, 8.0, 6.0, 1.0, 2.0])
    y = 10 + pattern[np.arange(n) % 7] + np.random.default_rng(0).normal(0, 0.05, n)
    frame = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=n, freq="D"), "y": y})
    frame.to_csv(tmp_path / "weekly.csv", index=False)
    config = ForecastConfig(
        data=str(tmp_path / "weekly.csv"), time_column="day", targets=["y"], horizon=7,
        input_length=14, hidden_size=4, min_updates=0, deseasonalize="none",
        fallback="baseline", backtest_stride=7,
    )
    (tmp_path / "run").mkdir()
    result = train(config, tmp_path / "run", quiet=True,
                   training=default_training(epochs=1, early_stopping=None, plots=False))
    m = result.metrics
    assert m["stat_baselines"]["scored"] == ["AutoETS", "AutoTheta", "AutoARIMA"]
    for part in ("val", "test"):
        assert m[part]["AutoETS"]["mase"] < m[part]["seasonal_naive"]["mase"]
    assert m["verdict"]["best_baseline"] in ("AutoETS", "AutoTheta", "AutoARIMA")
    assert m["verdict"]["best_shippable"] == "seasonal_naive"
    assert m["fallback"]["method"] == "seasonal_naive"
    assert m["fallback"]["baseline"] == m["val"]["seasonal_naive"]["mase"]
    np.testing.assert_allclose(predict(result.artifact_path, str(tmp_path / "weekly.csv"))["y"],
                               y[-7:])
    text = verdict_text(m["verdict"], m["fallback"])
    assert f"loses to the {m['verdict']['best_baseline']} baseline" in text
    assert "which cannot be shipped" in text and "seasonal_naive" in text
    summary = result.summary()
    assert "| AutoETS |" in summary and "cannot be shipped by fallback='baseline'" in summary


def test_tuning_folds_do_not_fit_them(tmp_path, monkeypatch, library_baselines):
    """rnnkit tune scores a forecaster once per fold and setting: the statsforecast fits, which
    do not depend on the setting, are left out there."""
    from rnnkit.tasks import forecast
    from rnnkit.tune.study import TuneSpec, run_fold

    def refuse(**_):
        raise AssertionError("a tuning fold fitted the statsforecast baselines")

    monkeypatch.setattr(forecast, "stat_baseline_metrics", refuse)
    n = 120
    y = 10 + np.sin(2 * np.pi * np.arange(n) / 7)
    pd.DataFrame({"day": pd.date_range("2024-01-01", periods=n, freq="D"), "y": y}).to_csv(
        tmp_path / "s.csv", index=False)
    spec = TuneSpec(
        task="forecast",
        options={"data": str(tmp_path / "s.csv"), "time_column": "day", "targets": "y",
                 "horizon": "3", "input_length": "14", "hidden_size": "4", "epochs": "1",
                 "min_updates": "0", "early_stopping": "none"},
        search=[], cv=2, trials=None, metric="mase", higher_is_better=False,
    )
    result = run_fold(spec, {}, 0)
    assert np.isfinite(result.score)


def test_verdict_and_fallback_when_the_best_baseline_cannot_be_shipped():
    """AutoETS best, the model between it and seasonal naive: the verdict is a loss to AutoETS,
    nothing can be shipped that beats the model; with seasonal naive ahead of the model too,
    it is what fallback='baseline' ships."""
    from rnnkit.tasks.pipeline import choose_fallback, compare_with_baselines

    def part(model, seasonal):
        return {"val": {"model": {"mase": model}, "naive": {"mase": 2.0},
                        "seasonal_naive": {"mase": seasonal}, "AutoETS": {"mase": 0.5}}}

    config = ForecastConfig(fallback="baseline")
    verdict = compare_with_baselines(TASK, part(0.8, 0.9))
    assert verdict["best_baseline"] == "AutoETS" and verdict["model_wins"] is False
    assert verdict["best_shippable"] == "seasonal_naive"
    assert verdict["shippable_baseline"] == 0.9
    assert choose_fallback(TASK, config, verdict) is None  # seasonal naive is worse than the model
    assert verdict_text(verdict) == (
        "**The model loses to the AutoETS baseline on the validation data** (mase 0.8 for the "
        "model, 0.5 for AutoETS). Before relying on it, try a longer training budget (--epochs, "
        "--max-time), another cell or hidden size, or use AutoETS itself (its library; "
        "fallback='baseline' can ship only rnnkit's baselines, the best of which, "
        "seasonal_naive, scores 0.9)."
    )
    verdict = compare_with_baselines(TASK, part(0.95, 0.9))
    fallback = choose_fallback(TASK, config, verdict)
    assert fallback == {"method": "seasonal_naive", "part": "val", "metric": "mase",
                        "model": 0.95, "baseline": 0.9}
    assert "the best baseline that can, seasonal_naive (0.9), is shipped" in verdict_text(
        verdict, fallback)
    assert choose_fallback(TASK, ForecastConfig(), verdict) is None  # fallback='none'
