"""Reading, checking, splitting and windowing time series: exact values on hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.calendar import calendar_features, resolve_calendar
from rnnkit.data.forecast_inputs import ForecastPreprocessor, WindowLoader
from rnnkit.data.frequency import Frequency, infer_frequency
from rnnkit.data.scaling import SeriesScaler
from rnnkit.data.timeseries import load_series_table, read_table
from rnnkit.data.windows import gather_windows, split_origins, time_split, window_origins


def tiny(n: int = 20, start: str = "2024-01-01") -> pd.DataFrame:
    """y = 10, 11, ..., a covariate x = y², one row per day."""
    y = np.arange(10.0, 10.0 + n)
    return pd.DataFrame({"day": pd.date_range(start, periods=n, freq="D"), "y": y, "x": y**2})


def preprocessor(table, T=3, h=2, normalization="series", transform="none", covariates=()):
    return ForecastPreprocessor(
        targets=["y"],
        covariates=list(covariates),
        calendar=[],
        input_length=T,
        horizon=h,
        normalization=normalization,
        transform=transform,
        frequency=table.frequency,
        time_column=table.time_column,
        series_column=table.series_column,
    )


# -- splits and windows -------------------------------------------------------------------------


def test_time_split_cuts_the_last_fractions_of_timestamps():
    table = load_series_table(tiny(), time_column="day", targets=["y"])
    split = time_split(table.frame["day"].to_numpy(), 0.2, 0.2)
    assert split.rows(table.frame["day"].to_numpy()) == (12, 16)  # train 0..11, val, test 16..19
    assert pd.Timestamp(split.val_start) == pd.Timestamp("2024-01-13")
    assert pd.Timestamp(split.test_start) == pd.Timestamp("2024-01-17")


def test_window_origins_are_exact_and_the_last_window_ends_on_the_last_row():
    T, h, bounds, n = 3, 2, (12, 16), 20
    train = split_origins("train", n, bounds, T, h)
    val = split_origins("val", n, bounds, T, h)
    test = split_origins("test", n, bounds, T, h)
    np.testing.assert_array_equal(train, np.arange(2, 10))  # targets up to row 11
    np.testing.assert_array_equal(val, [11, 12, 13])  # targets rows 12..15
    np.testing.assert_array_equal(test, [15, 16, 17])  # targets rows 16..19
    # No target row belongs to two splits; training windows read training rows only.
    for origins, lo, hi in ((train, 0, 12), (val, 12, 16), (test, 16, 20)):
        targets = origins[:, None] + np.arange(1, h + 1)
        assert targets.min() >= lo and targets.max() < hi
    assert (train[:, None] + np.arange(1, h + 1)).max() == 11
    assert test[-1] + h == n - 1
    # A stride keeps the last window and steps back from it.
    np.testing.assert_array_equal(window_origins(16, 20, T, h, stride=2), [15, 17])
    assert len(window_origins(0, 4, T, h)) == 0  # 4 rows cannot hold T + h = 5


def test_gather_windows_slices_inputs_and_targets():
    values = np.arange(10.0)[:, None]
    past, future = gather_windows(values, np.array([2, 7]), 3, 2)
    np.testing.assert_array_equal(past[..., 0], [[0, 1, 2], [5, 6, 7]])
    np.testing.assert_array_equal(future[..., 0], [[3, 4], [8, 9]])
    _, beyond = gather_windows(values, np.array([9]), 3, 2)
    assert np.isnan(beyond).all()  # rows past the data are unknown, not repeated


def test_windowset_values_for_series_normalisation():
    table = load_series_table(tiny(), time_column="day", targets=["y"], covariates=["x"])
    split = time_split(table.frame["day"].to_numpy(), 0.2, 0.2)
    pre = preprocessor(table, covariates=["x"]).fit(table, split)
    y_train = np.arange(10.0, 22.0)  # rows 0..11
    mu, sd = y_train.mean(), y_train.std()
    test = pre.windows(table, split, "test")
    assert len(test) == 3
    last = -1  # the last test window: origin 17, inputs rows 15..17, targets rows 18..19
    np.testing.assert_allclose(test.inputs[last, :3, 0], (np.array([25.0, 26, 27]) - mu) / sd)
    np.testing.assert_allclose(test.target[last, 3:, 0], (np.array([28.0, 29]) - mu) / sd)
    np.testing.assert_allclose(test.actual[last, :, 0], [28.0, 29.0])
    # Covariates are standardised with training statistics; horizon rows hold no covariate.
    x_train = y_train**2
    np.testing.assert_allclose(
        test.inputs[last, :3, 1],
        (np.array([25.0, 26, 27]) ** 2 - x_train.mean()) / x_train.std(),
        rtol=1e-6,
    )
    np.testing.assert_array_equal(test.inputs[last, 3:, 1], 0.0)
    assert list(test.times[last]) == [pd.Timestamp("2024-01-19"), pd.Timestamp("2024-01-20")]
    back = pre.to_data_units(test.target[:, 3:], test.loc, test.scale)
    np.testing.assert_allclose(back, test.actual, rtol=1e-5)


def test_window_normalisation_is_relative_to_the_last_observed_value():
    table = load_series_table(tiny(), time_column="day", targets=["y"])
    split = time_split(table.frame["day"].to_numpy(), 0.2, 0.2)
    pre = preprocessor(table, normalization="window").fit(table, split)
    w = pre.windows(table, split, "val")
    # Differences of y are all 1, so their spread is 0 and the scale falls back to 1.
    np.testing.assert_allclose(w.scale, 1.0)
    np.testing.assert_allclose(w.loc[:, 0], [21.0, 22.0, 23.0])  # y at origins 11, 12, 13
    np.testing.assert_allclose(w.inputs[0, :3, 0], [-2.0, -1.0, 0.0])
    np.testing.assert_allclose(w.target[0, 3:, 0], [1.0, 2.0])


def test_scalers_are_fit_on_training_rows_only():
    frame = tiny()
    table = load_series_table(frame, time_column="day", targets=["y"])
    split = time_split(table.frame["day"].to_numpy(), 0.2, 0.2)
    before = preprocessor(table).fit(table, split).target_scaler
    changed = frame.copy()
    changed.loc[12:, "y"] = 1e6  # validation and test values change wildly
    table2 = load_series_table(changed, time_column="day", targets=["y"])
    after = preprocessor(table2).fit(table2, split).target_scaler
    np.testing.assert_array_equal(before.mean, after.mean)
    np.testing.assert_array_equal(before.scale, after.scale)
    np.testing.assert_allclose(before.mean, [[15.5]])
    np.testing.assert_allclose(before.scale, [[np.arange(10.0, 22.0).std()]])


def test_several_series_share_time_cut_points():
    a, b = tiny(20), tiny(10, start="2024-01-11")  # b covers the last 10 days only
    a["id"], b["id"] = "a", "b"
    b["y"] += 100
    table = load_series_table(
        pd.concat([b, a]), time_column="day", targets=["y"], series_column="id"
    )
    assert table.series_ids == ["a", "b"]
    split = time_split(table.frame["day"].to_numpy(), 0.2, 0.2)
    slices = table.series_slices()
    assert split.rows(table.frame["day"].iloc[slices["b"]].to_numpy()) == (2, 6)
    pre = preprocessor(table, T=2, h=1).fit(table, split)
    np.testing.assert_allclose(pre.target_scaler.mean[:, 0], [15.5, 110.5])
    test = pre.windows(table, split, "test")
    # Each series forecasts its own last four days.
    for sid, series_index in (("a", 0), ("b", 1)):
        rows = test.series == series_index
        assert [t.day for t in test.times[rows, 0]] == [17, 18, 19, 20], sid


def test_future_windows_step_along_the_inferred_frequency():
    frame = pd.DataFrame({"d": pd.bdate_range("2024-01-01", periods=15), "y": np.arange(1.0, 16.0)})
    table = load_series_table(frame, time_column="d", targets=["y"])
    assert table.frequency == Frequency("business_day", 1)
    split = time_split(table.frame["d"].to_numpy(), 0.0, 0.2)
    pre = preprocessor(table, T=4, h=3).fit(table, split)
    future = pre.future_windows(table)
    last = frame["d"].iloc[-1]  # Friday 2024-01-19
    assert last.day_of_week == 4
    assert list(future.times[0]) == [pd.Timestamp(f"2024-01-{d}") for d in (22, 23, 24)]
    assert np.isnan(future.actual).all()
    np.testing.assert_array_equal(future.inputs[0, 4:, 0], 0.0)  # unknown future: zeros in
    with pytest.raises(ValueError, match=r"at least input_length=20 rows per series"):
        preprocessor(table, T=20, h=1).fit(table, split).future_windows(table)


def test_window_loader_masks_the_horizon_or_every_one_step_prediction():
    table = load_series_table(tiny(), time_column="day", targets=["y"])
    split = time_split(table.frame["day"].to_numpy(), 0.2, 0.2)
    w = preprocessor(table).fit(table, split).windows(table, split, "train")
    direct = next(WindowLoader(w, batch_size=4, shuffle=False).batches(0))
    assert direct.mask[0].tolist() == [False, False, False, True, True]
    tf = next(WindowLoader(w, teacher_forcing=True, batch_size=4, shuffle=False).batches(0))
    assert tf.mask[0].tolist() == [False, True, True, True, True]
    np.testing.assert_array_equal(direct.inputs.numpy(), w.inputs[:4])


# -- frequency, gaps, calendar ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        (pd.date_range("2020-01-01", periods=30, freq="D"), Frequency("timedelta", 86400.0)),
        (pd.date_range("2020-01-01", periods=30, freq="h"), Frequency("timedelta", 3600.0)),
        (pd.date_range("2020-01-04", periods=30, freq="W-SAT"), Frequency("timedelta", 604800.0)),
        (pd.bdate_range("2020-01-01", periods=30), Frequency("business_day", 1)),
        (pd.date_range("2020-01-31", periods=30, freq="ME"), Frequency("month", 1)),
        (pd.date_range("2020-01-01", periods=30, freq="QS"), Frequency("month", 3)),
        (pd.date_range("2000-01-01", periods=30, freq="YS"), Frequency("year", 1)),
        (pd.Series(np.arange(1700, 1730)), Frequency("number", 1.0)),
    ],
    ids=["daily", "hourly", "weekly", "business", "month-end", "quarterly", "yearly", "numbers"],
)
def test_infer_frequency(times, expected):
    series = pd.Series(times)
    freq = infer_frequency([series])
    assert freq == expected
    # Shifting the first time along the grid reproduces the series, and every step is whole.
    assert [freq.shift(series.iloc[0], k) for k in range(5)] == list(series.iloc[:5])
    np.testing.assert_allclose(freq.to_steps(series, series.iloc[0]), np.arange(len(series)))


def test_gaps_and_irregular_timestamps_are_reported_and_filled():
    days = list(pd.date_range("2024-01-01", periods=10, freq="D"))
    del days[6:9]  # three missing days: Jan 7, 8, 9
    days.insert(3, pd.Timestamp("2024-01-03 12:00"))  # off the daily grid
    frame = pd.DataFrame({"t": days, "y": np.arange(len(days), dtype=float)})
    table = load_series_table(frame, time_column="t", targets=["y"])
    s = table.report.series[0]
    assert (s.missing_steps, s.irregular) == (3, 1)
    assert s.gaps == [("2024-01-06", "2024-01-10", 3)]
    assert s.irregular_examples == ["2024-01-03T12:00:00"]
    assert any("3 missing time step(s)" in line for line in table.report.lines())
    with pytest.raises(ValueError, match=r"gaps='fill' needs timestamps on the inferred 1 day"):
        load_series_table(frame, time_column="t", targets=["y"], gaps="fill")
    regular = frame.drop(index=3)
    filled = load_series_table(regular, time_column="t", targets=["y"], gaps="fill")
    assert len(filled.frame) == 10 and filled.report.series[0].filled_steps == 3
    # Linear interpolation between Jan 6 (y=6) and Jan 10 (y=7).
    np.testing.assert_allclose(filled.frame["y"].iloc[5:10], [6.0, 6.25, 6.5, 6.75, 7.0])


def test_calendar_features_are_sin_cos_of_the_cycle_position():
    times = pd.Series([pd.Timestamp("2024-01-01"), pd.Timestamp("2024-07-01 06:00")])  # Mondays
    f = calendar_features(times, ["dayofweek", "month", "hour"])
    np.testing.assert_allclose(f[0], [0, 1, 0, 1, 0, 1], atol=1e-7)
    np.testing.assert_allclose(
        f[1], [0, 1, np.sin(np.pi), np.cos(np.pi), 1, np.cos(np.pi / 2)], atol=1e-6
    )
    assert resolve_calendar("auto", Frequency("timedelta", 86400.0)) == ["dayofweek", "dayofyear"]
    assert resolve_calendar("auto", Frequency("number", 1.0)) == []
    with pytest.raises(ValueError, match=r"need a date/datetime time column"):
        resolve_calendar(["month"], Frequency("number", 1.0))


# -- bad input -----------------------------------------------------------------------------------


def test_missing_column_suggests_the_closest():
    with pytest.raises(
        ValueError, match=r"targets must name columns .* 'yy' is not one \(did you mean 'y'\?\)"
    ):
        load_series_table(tiny(), time_column="day", targets=["yy"])
    with pytest.raises(
        ValueError, match=r"time_column .* 'Day' is not one \(did you mean 'day'\?\)"
    ):
        load_series_table(tiny(), time_column="Day", targets=["y"])


def test_non_numeric_values_name_row_and_column():
    frame = tiny(5)
    frame["y"] = frame["y"].astype(object)
    frame.loc[3, "y"] = "12,5"
    with pytest.raises(
        ValueError,
        match=r"column 'y' must hold numbers, but 1 value\(s\) are not numeric \(row 4: '12,5'\)",
    ):
        load_series_table(frame, time_column="day", targets=["y"])


def test_nan_and_inf_are_located_and_can_be_dropped_or_filled():
    frame = tiny(8)
    frame.loc[2, "y"] = np.nan
    frame.loc[4, "x"] = np.inf
    with pytest.raises(
        ValueError,
        match=r"2 value\(s\) are NaN or Inf \(row 3 column 'y' \(NaN\), "
        r"row 5 column 'x' \(Inf\)\); pass missing='drop'",
    ):
        load_series_table(frame, time_column="day", targets=["y"], covariates=["x"])
    dropped = load_series_table(
        frame, time_column="day", targets=["y"], covariates=["x"], missing="drop"
    )
    assert len(dropped.frame) == 6 and dropped.report.dropped_rows == 2
    assert dropped.report.missing_steps == 2  # the dropped days show as gaps
    filled = load_series_table(
        frame, time_column="day", targets=["y"], covariates=["x"], missing="interpolate"
    )
    np.testing.assert_allclose(filled.frame["y"], np.arange(10.0, 18.0))
    np.testing.assert_allclose(filled.frame["x"].iloc[4], (13.0**2 + 15.0**2) / 2)
    ffilled = load_series_table(frame, time_column="day", targets=["y"], missing="ffill")
    np.testing.assert_allclose(ffilled.frame["y"], [10, 11, 11, 13, 14, 15, 16, 17])


def test_duplicate_and_unparseable_timestamps_are_refused():
    frame = tiny(5)
    frame.loc[3, "day"] = frame.loc[2, "day"]
    with pytest.raises(
        ValueError, match=r"must not repeat a time .* data rows 3, 4.*series_column"
    ):
        load_series_table(frame, time_column="day", targets=["y"])
    frame = tiny(5)
    frame["day"] = frame["day"].astype(str)
    frame.loc[1, "day"] = "yesterday"
    with pytest.raises(ValueError, match=r"data row 2 has 'yesterday', which is not a date"):
        load_series_table(frame, time_column="day", targets=["y"])


def test_unsorted_rows_are_sorted_and_reported():
    frame = tiny(6).iloc[::-1]
    table = load_series_table(frame, time_column="day", targets=["y"])
    np.testing.assert_array_equal(table.frame["y"], np.arange(10.0, 16.0))
    assert table.report.reordered


def test_files_empty_missing_and_parquet(tmp_path):
    with pytest.raises(ValueError, match=r"existing CSV or Parquet file, got .*no such file"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match=r"got an empty file"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("day,y\n")
    with pytest.raises(ValueError, match=r"a header \(day, y\) and no rows"):
        read_table(tmp_path / "header.csv")
    tiny(5).to_csv(tmp_path / "ok.csv", index=False)
    table = load_series_table(tmp_path / "ok.csv", time_column="day", targets=["y"])
    assert table.frequency == Frequency("timedelta", 86400.0) and len(table.frame) == 5


def test_log_transform_needs_positive_targets():
    frame = tiny(10)
    frame.loc[8, "y"] = 0.0
    table = load_series_table(frame, time_column="day", targets=["y"])
    split = time_split(table.frame["day"].to_numpy(), 0.0, 0.2)
    with pytest.raises(
        ValueError, match=r"transform='log' needs positive targets, but column 'y' has 0.0"
    ):
        preprocessor(table, transform="log").fit(table, split)


def test_scaler_round_trip_and_unknown_series():
    scaler = SeriesScaler.fit({"a": np.array([[1.0], [3.0]])}, transform="log")
    again = SeriesScaler.from_dict(scaler.to_dict())
    np.testing.assert_array_equal(again.mean, scaler.mean)
    assert again.transform == "log"
    with pytest.raises(ValueError, match=r"series 'b' was not in the training data"):
        again.index("b")
