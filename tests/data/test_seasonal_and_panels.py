"""Seasonal adjustment of forecasting targets, and the panel rule for series too short to split."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.forecast_inputs import ForecastPreprocessor
from rnnkit.data.frequency import Frequency
from rnnkit.data.seasonality import (
    SeasonalProfiles,
    autocorrelation,
    is_seasonal,
    seasonal_profile,
    whole_period,
)
from rnnkit.data.timeseries import load_series_table
from rnnkit.data.windows import TimeSplit, time_split


def test_autocorrelation_matches_the_textbook_formula():
    x = np.random.default_rng(0).normal(size=50).cumsum()
    r = autocorrelation(x, 5)
    d = x - x.mean()
    expected = [float(d[k:] @ d[: len(x) - k]) / float(d @ d) for k in range(6)]
    np.testing.assert_allclose(r, expected, rtol=1e-12)
    np.testing.assert_array_equal(autocorrelation(np.ones(10), 3), [1.0, 0.0, 0.0, 0.0])


def test_seasonality_test_finds_a_season_and_rarely_invents_one():
    """Over 40 seeds: a period-12 pattern in noise is always found; white noise passes the
    90% test about one time in ten, never in most seeds."""
    t = np.arange(72)
    found = invented = 0
    for seed in range(40):
        noise = np.random.default_rng(seed).normal(size=72)
        found += is_seasonal(3 * np.sin(2 * np.pi * t / 12) + noise, 12)
        invented += is_seasonal(noise, 12)
    assert found == 40
    assert invented <= 10
    # under three seasons of data, or no period, never seasonal
    assert not is_seasonal(np.sin(2 * np.pi * np.arange(30) / 12), 12)
    assert not is_seasonal(np.sin(np.arange(100)), 1)


@pytest.mark.parametrize("m", [4, 7, 12])
def test_profile_is_exact_for_a_linear_trend_plus_a_fixed_pattern(m):
    """The centred moving average of a zero-sum periodic pattern over a linear trend is the
    trend itself, so classical decomposition recovers the pattern exactly."""
    pattern = np.random.default_rng(m).normal(size=m)
    pattern -= pattern.mean()
    t = np.arange(5 * m + 3)
    x = (2.0 + 0.5 * t + pattern[t % m])[:, None]
    profile = seasonal_profile(x, m)
    np.testing.assert_allclose(profile[:, 0], pattern, atol=1e-12)
    assert abs(profile.sum()) < 1e-12


def test_profiles_round_trip_through_json_and_read_phase_from_steps():
    x = np.sin(2 * np.pi * np.arange(48) / 12)[:, None] * 5
    noise = np.random.default_rng(1).normal(size=(48, 1))
    p = SeasonalProfiles.fit([x, noise], ["2000-01-01T00:00:00", "2000-01-01T00:00:00"], 12)
    assert p.seasonal.tolist() == [True, False]
    q = SeasonalProfiles.from_dict(json.loads(json.dumps(p.to_dict())))
    np.testing.assert_array_equal(q.profiles, p.profiles)
    # step 13 is phase 1, step −11 too
    np.testing.assert_allclose(q.component(0, np.array([1, 13, -11])), p.profiles[0][[1, 1, 1]])


def _monthly_panel(n_long=96, n_short=14):
    """A long seasonal series and a short one, right-aligned in integer steps."""
    t = np.arange(n_long)
    rng = np.random.default_rng(0)
    long = 50 + 0.2 * t + 8 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, n_long)
    short = 40 + rng.normal(0, 1.0, n_short)
    return pd.DataFrame(
        {
            "series": ["long"] * n_long + ["short"] * n_short,
            "step": np.r_[t, np.arange(n_long - n_short, n_long)],
            "y": np.r_[long, short],
        }
    )


def _preprocessor(table, **kw):
    base = dict(
        targets=["y"], covariates=[], calendar=[], input_length=24, horizon=6,
        normalization="instance", transform="none", frequency=table.frequency,
        time_column="step", series_column="series", season_length=12, deseasonalize="auto",
    )
    return ForecastPreprocessor(**{**base, **kw})


def test_deseasonalised_windows_map_back_to_the_data_exactly():
    table = load_series_table(
        _monthly_panel(n_short=40), time_column="step", targets=["y"], series_column="series"
    )
    split = time_split(table.frame["step"], 0.15, 0.15)
    pre = _preprocessor(table).fit(table, split)
    assert pre.seasonal.seasonal.tolist() == [True, False]  # the noise series is left alone
    for part in ("train", "val", "test"):
        w = pre.windows(table, split, part)
        z_future = w.target[:, pre.input_length :, :].astype(np.float64)
        back = pre.to_data_units(z_future, w.loc, w.scale, w.offset)
        np.testing.assert_allclose(back, w.actual, rtol=1e-5)
    # the seasonal swing (±8) is gone from what the network sees of the long series
    w = pre.windows(table, split, "train")
    assert np.abs(w.offset).max() > 5
    restored = ForecastPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(restored.seasonal.profiles, pre.seasonal.profiles)


def test_future_offsets_keep_the_phase_when_a_file_starts_elsewhere():
    frame = _monthly_panel(n_short=40)

    def table_of(f):
        return load_series_table(f, time_column="step", targets=["y"], series_column="series")

    table = table_of(frame)
    pre = _preprocessor(table).fit(table, time_split(table.frame["step"], 0.15, 0.15))
    full = pre.future_windows(table)
    tail = frame[frame["step"] >= 37].reset_index(drop=True)  # starts at another phase
    cut = pre.future_windows(table_of(tail))
    assert np.abs(full.offset).max() > 5
    np.testing.assert_allclose(cut.offset, full.offset)


def test_a_short_series_in_a_panel_trains_only_and_is_padded_to_forecast():
    frame = _monthly_panel(n_short=8)
    table = load_series_table(
        frame, time_column="step", targets=["y"], series_column="series"
    )
    pooled = time_split(table.frame["step"], 0.15, 0.15)
    # without the panel rule the short series has no training rows at all
    assert pooled.rows(np.arange(88, 96))[0] == 0
    split = TimeSplit(pooled.val_start, pooled.test_start, min_train_rows=2)
    assert split.rows(np.arange(88, 96)) == (8, 8)  # all its rows are training rows
    assert split.rows(np.arange(96)) == pooled.rows(np.arange(96))  # the long one is unchanged
    assert TimeSplit.from_dict(split.to_dict(), Frequency("number", 1)) == split
    assert "min_train_rows" not in pooled.to_dict()  # older artifacts read as before
    pre = _preprocessor(table, input_length=12).fit(table, split)
    assert set(pre.windows(table, split, "test").series.tolist()) == {0}
    with pytest.warns(UserWarning, match=r"'short' \(8 rows\)"):
        future = pre.future_windows(table)
    assert len(future) == 2 and np.isfinite(future.inputs).all()
    single = load_series_table(frame[frame.series == "short"], time_column="step", targets=["y"])
    with pytest.raises(ValueError, match="input_length=12 rows per series"):
        _preprocessor(single, input_length=12, series_column=None).fit(
            single, TimeSplit(90, 93)
        ).future_windows(single)


def test_a_year_of_days_or_weeks_is_not_a_whole_period():
    day, week = Frequency("timedelta", 86400.0), Frequency("timedelta", 7 * 86400.0)
    assert whole_period(day, 365) == (False, "a year is 365.25 days, not a whole number of steps")
    assert not whole_period(week, 52)[0]
    assert whole_period(day, 7) == (True, "")
    assert whole_period(Frequency("month", 1), 12)[0]
    assert whole_period(Frequency("number", 1), 11)[0]
    # the preprocessor then fits no profile, and says why
    n = 3 * 52 + 10
    t = np.arange(n)
    frame = pd.DataFrame(
        {"week": pd.date_range("2000-01-02", periods=n, freq="7D"),
         "y": 10 + np.sin(2 * np.pi * t / 52.18)}
    )
    table = load_series_table(frame, time_column="week", targets=["y"])
    pre = _preprocessor(
        table, time_column="week", series_column=None, season_length=52, input_length=8
    ).fit(table, time_split(table.frame["week"], 0.1, 0.1))
    assert pre.seasonal is None and "52.18 weeks" in pre.seasonal_note


def test_auto_leaves_a_single_series_season_to_the_network():
    frame = _monthly_panel(n_short=40)
    one = frame[frame.series == "long"].drop(columns="series")
    table = load_series_table(one, time_column="step", targets=["y"])
    pre = _preprocessor(table, series_column=None).fit(
        table, time_split(table.frame["step"], 0.15, 0.15)
    )
    assert pre.seasonal is None and pre.seasonal_note.startswith("a single series")


def test_validation_and_test_periods_hold_at_least_one_horizon():
    times = np.arange(115)  # 0.15 × 115 rounds to 17 steps, under a horizon of 18
    plain = time_split(times, 0.15, 0.15)
    assert (plain.val_start, plain.test_start) == (81, 98)
    raised = time_split(times, 0.15, 0.15, min_steps=18)
    assert (raised.val_start, raised.test_start) == (79, 97)
    # too short to raise without starving training: the fractions are kept
    short = time_split(np.arange(60), 0.15, 0.15, min_steps=18)
    assert (short.val_start, short.test_start) == (42, 51)
    no_val = time_split(times, 0.0, 0.15, min_steps=18)
    assert no_val.val_start == no_val.test_start == 97
