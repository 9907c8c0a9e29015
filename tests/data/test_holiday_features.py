"""Public holidays as a known-future forecasting feature (the optional 'holidays' package)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.frequency import Frequency
from rnnkit.data.holiday_features import HolidaysDependencyError, holiday_features

DAILY, MONTHLY = Frequency("timedelta", 86400.0), Frequency("month", 1)


def test_a_missing_package_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "holidays", None)
    with pytest.raises(HolidaysDependencyError, match=r"pip install rnnkit\[holidays\]"):
        holiday_features(pd.date_range("2024-07-03", periods=3), "US", DAILY)


def test_daily_flags_and_monthly_counts_of_us_holidays() -> None:
    pytest.importorskip("holidays")
    days = pd.date_range("2024-07-03", periods=3)  # 4 July is Independence Day
    np.testing.assert_array_equal(holiday_features(days, "US", DAILY)[:, 0], [0, 1, 0])
    months = pd.date_range("2024-01-01", periods=3, freq="MS")
    # January: New Year's Day and Martin Luther King Jr. Day; February: Washington's Birthday
    np.testing.assert_array_equal(holiday_features(months, "US", MONTHLY)[:, 0], [2, 1, 0])
    # a subdivision adds its own: 31 March 2025 is not a federal holiday, but California
    # marks Cesar Chavez Day on it
    day = pd.DatetimeIndex(["2025-03-31"])
    assert holiday_features(day, "US", DAILY)[0, 0] == 0
    assert holiday_features(day, "US-CA", DAILY)[0, 0] == 1


def test_unknown_codes_are_refused_with_a_suggestion() -> None:
    pytest.importorskip("holidays")
    days = pd.date_range("2024-01-01", periods=2)
    with pytest.raises(ValueError, match=r"country code the 'holidays' package knows .*got 'UX'"):
        holiday_features(days, "UX", DAILY)
    with pytest.raises(ValueError, match=r"holidays subdivision of US must be one of .*got 'ZZ'"):
        holiday_features(days, "US-ZZ", DAILY)
    with pytest.raises(ValueError, match=r"needs a date/datetime time column"):
        holiday_features([1.0, 2.0], "US", Frequency("number", 1.0))


def test_a_forecaster_reads_the_holidays_of_its_horizon(tmp_path) -> None:
    pytest.importorskip("holidays")
    from rnnkit.data.retail import retail_panel
    from rnnkit.tasks import forecast

    frame = retail_panel(2, 120, seed=0, start="2024-03-08", country="US")
    assert frame.loc[frame["date"] == "2024-05-27", "holiday"].eq(1).all()  # Memorial Day
    frame.drop(columns=["region"]).to_csv(tmp_path / "r.csv", index=False)
    config = forecast.ForecastConfig(data=str(tmp_path / "r.csv"), time_column="date",
                                     targets=["sales"], series_column="store", horizon=4,
                                     input_length=14, hidden_size=4, holidays="US",
                                     calendar="none")
    run = tmp_path / "run"
    run.mkdir()
    forecast.train(config, run, training=forecast.default_training(epochs=1, plots=False),
                   quiet=True)
    loaded = forecast.load_forecaster(run / "model.safetensors")
    assert loaded.model.n_known == 1
    assert loaded.preprocessor.holidays == "US"
    # the history ends on 3 July: the horizon 4–7 July holds Independence Day, known in advance
    history = pd.read_csv(tmp_path / "r.csv", parse_dates=["date"])
    history = history[history["date"] <= "2024-07-03"]
    table = forecast._read_for(loaded, history)
    windows = loaded.preprocessor.future_windows(table)
    np.testing.assert_array_equal(windows.inputs[:, -4:, -1], [[1, 0, 0, 0]] * 2)
    out = forecast.predict(loaded, history)
    assert list(out["date"].astype(str))[:4] == ["2024-07-04", "2024-07-05", "2024-07-06",
                                                 "2024-07-07"]
