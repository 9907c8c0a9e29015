"""The options of a forecasting run (:class:`ForecastConfig`) and how unset ones are resolved
from the bundled dataset's defaults (:func:`resolve`)."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from rnnkit.core.checks import choice_problems, int_problems
from rnnkit.core.suggest import did_you_mean
from rnnkit.data.calendar import CALENDAR_FEATURES
from rnnkit.data.registry import list_datasets
from rnnkit.data.scaling import NORMALIZATIONS, TRANSFORMS
from rnnkit.data.seasonality import DESEASONALIZE
from rnnkit.data.series_datasets import FORECAST_DEFAULTS
from rnnkit.data.timeseries import GAP_POLICIES, MISSING_POLICIES
from rnnkit.models.backbone import model_cells
from rnnkit.models.forecaster import DECODERS, LIKELIHOODS
from rnnkit.tasks.file_options import FileOptions
from rnnkit.tasks.pipeline import TaskConfig


@dataclass
class ForecastConfig(TaskConfig, FileOptions):
    """Options of a forecasting run (training options live in :class:`rnnkit.train.TrainConfig`).

    Options left at None (or 'auto') take the bundled dataset's defaults, else generic ones.

    data: a CSV/Parquet file, or a bundled dataset name (``rnnkit datasets``), e.g.
        'seattle-weather', 'stocks', 'sunspots', 'co2'.
    time_column: the time column (dates or numbers); required for a file.
    targets: the columns to forecast (one or more); required for a file.
    series_column: the column that tells series apart (several series trained as one global
        model); None for a single series.
    covariates: past covariates, numeric columns observed up to the forecast origin (direct
        decoder only); None: the dataset's, or none.
    future_covariates: future-known covariates, numeric columns whose values are known for the
        forecast horizon too (prices, promotions); the decoder reads them at every future step
        and predict needs them for the horizon (``future``, --future FILE). None: none.
    static_covariates: per-series attributes, columns holding one value per series (store size,
        region): numeric ones standardised, others categorical and embedded; they set the
        encoder's initial state and join the decoder's input. A category unseen in training
        gets the unknown embedding (with a warning). None: none.
    holidays: public holidays as a known-future feature, a country or country-subdivision code
        of the 'holidays' package ('US', 'US-CA', 'DE-BY'; pip install rnnkit[holidays]);
        None: none.
    calendar: known-future calendar features from the time column: 'auto', 'none', or names
        joined by commas from hour, dayofweek, dayofyear, month.
    missing: NaN/Inf in targets or covariates: 'error', 'drop', 'ffill' or 'interpolate'
        (None: the dataset's, or 'error').
    gaps: missing time steps: 'keep' (rows stay consecutive, gaps are reported) or 'fill'
        (insert them, linearly interpolated).
    input_length: observed steps per window, T (None: the dataset's, or max(24, 4·horizon)).
    horizon: steps forecast per window, h (None: the dataset's, or 1).
    season_length: period m of the seasonal-naive baseline and of MASE's scale (None: the
        dataset's, or the inferred frequency's: monthly 12, quarterly 4, daily 7, business
        days 5, weekly 52, hourly 24; 1 when the training period holds under two seasons).
    val_fraction, test_fraction: shares of the distinct timestamps, at the end of the data,
        for validation and test (each at least one horizon long where the data allows).
    stride: steps between training windows (None: the dataset's, or 1).
    normalization: 'instance' (each window's own mean and spread, reversible instance
        normalisation), 'window' (relative to each window's last value) or 'series' (per-series
        mean and standard deviation); None: the dataset's, or 'instance'.
    transform: 'none', 'log' (positive targets, multiplicative changes), 'log1p' (log(1 + y),
        for non-negative targets with zeros) or 'auto' (log — log1p when some values are 0 and
        none negative — when the spread grows with the level in the training period); None:
        the dataset's, or 'auto'.
    deseasonalize: 'auto' (in a panel of several series, remove a fixed seasonal profile,
        estimated on the training rows, from every series that passes the M4 seasonality test
        at season_length, and add it back to the forecasts; a single series learns its season
        from the windows) or 'none'.
    decoder: 'direct' (whole horizon at once) or 'autoregressive' (one step at a time, fed
        back).
    likelihood: 'gaussian' (mean and spread), 'quantile' (pinball loss) or 'point' (squared
        error, no intervals).
    interval: coverage of the prediction interval, e.g. 0.8 for the 10%–90% quantiles.
    cell: recurrent cell, 'lstm', 'gru', 'rnn' (Elman) or another cell of the cell table.
    hidden_size: hidden units per layer.
    num_layers: stacked recurrent layers.
    dropout: dropout between layers and before the head.
    bidirectional: two-direction encoder (direct decoder only).
    n_samples: Monte Carlo paths for autoregressive Gaussian intervals.
    batch_size: windows per training batch (None: a sixteenth of the training windows, within
        8 … 64, so that small data still gets several updates per epoch).
    min_updates: the fewest optimiser updates of a run: on small data the epochs, and early
        stopping's patience (to a quarter of them), are raised to reach it when they are left
        at the forecasting defaults (60 and 10); 0: epochs as given.
    backtest_stride: steps between backtest origins (1: every origin).
    new_series: a series predict is given that was not in training: 'refuse' (an error, or
        skipped with on_bad_rows='skip') or 'history' (forecast it from its own history, its
        scaler fitted on those rows; it needs at least input_length rows).
    calibrate: 'none' or 'conformal' (widen the prediction interval by online conformal
        calibration, per horizon step: each backtest origin on the validation and test
        targets observed by then, the saved model on every window; needs a validation
        period; :mod:`rnnkit.eval.conformal`).
    fallback: 'baseline' (when the network loses on validation MASE to the best baseline it
        can ship — naive, seasonal naive or drift — ship that baseline as the model: predict
        forecasts with it, and the artifact and summary say so) or 'none' (always ship the
        network). The statsforecast baselines count in the verdict but cannot be shipped.
    stat_baselines: 'auto' (also score AutoETS, AutoTheta and AutoARIMA from statsforecast on
        the same backtest windows, fit on each series' training rows, when statsforecast is
        installed — pip install 'rnnkit[bench]' — else a note says so; the environment
        variable RNNKIT_LIBRARY_BASELINES=off turns 'auto' off) or 'off'.
    stat_baselines_max_fits: fit the statsforecast baselines on at most this many series (the
        first with backtest windows); the report names the others.
    """

    data: str = "seattle-weather"
    time_column: str | None = None
    targets: list[str] = field(default_factory=list)
    series_column: str | None = None
    covariates: list[str] | None = None
    future_covariates: list[str] | None = None
    static_covariates: list[str] | None = None
    holidays: str | None = None
    calendar: str = "auto"
    missing: Literal["error", "drop", "ffill", "interpolate"] | None = None
    gaps: Literal["keep", "fill"] = "keep"
    input_length: int | None = None
    horizon: int | None = None
    season_length: int | None = None
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    stride: int | None = None
    normalization: Literal["instance", "window", "series"] | None = None
    transform: Literal["none", "log", "log1p", "auto"] | None = None
    deseasonalize: Literal["auto", "none"] = "auto"
    decoder: Literal["direct", "autoregressive"] = "direct"
    likelihood: Literal["gaussian", "quantile", "point"] = "gaussian"
    interval: float = 0.8
    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    bidirectional: bool = False
    n_samples: int = 200
    batch_size: int | None = None
    min_updates: int = 1000
    backtest_stride: int = 1
    fallback: Literal["none", "baseline"] = "none"
    new_series: Literal["refuse", "history"] = "refuse"
    calibrate: Literal["none", "conformal"] = "none"
    stat_baselines: Literal["auto", "off"] = "auto"
    stat_baselines_max_fits: int = 20

    def problems(self) -> list[str]:
        return _problems(self) + self.file_problems()


def _problems(c: ForecastConfig) -> list[str]:
    out = choice_problems(
        c,
        (
            ("missing", (None, *MISSING_POLICIES)),
            ("gaps", GAP_POLICIES),
            ("normalization", (None, *NORMALIZATIONS)),
            ("transform", (None, *TRANSFORMS, "auto")),
            ("deseasonalize", DESEASONALIZE),
            ("fallback", ("none", "baseline")),
            ("new_series", ("refuse", "history")),
            ("calibrate", ("none", "conformal")),
            ("stat_baselines", ("auto", "off")),
            ("decoder", DECODERS),
            ("likelihood", LIKELIHOODS),
            ("cell", model_cells()),
        ),
    )
    out += int_problems(
        c,
        (
            ("input_length", 1, True),
            ("horizon", 1, True),
            ("season_length", 1, True),
            ("stride", 1, True),
            ("hidden_size", 1, False),
            ("num_layers", 1, False),
            ("n_samples", 0, False),
            ("batch_size", 1, True),
            ("min_updates", 0, False),
            ("backtest_stride", 1, False),
            ("stat_baselines_max_fits", 1, False),
        ),
    )
    for name, lo, hi in (("val_fraction", 0.0, 1.0), ("test_fraction", 0.0, 1.0)):
        v = getattr(c, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v < hi:
            out.append(f"{name} must be a number in [{lo}, {hi}), got {v!r}")
    if isinstance(c.test_fraction, (int, float)) and c.test_fraction <= 0:
        out.append(
            f"test_fraction must be > 0 (the backtest needs a test period), got {c.test_fraction!r}"
        )
    if not isinstance(c.interval, (int, float)) or not 0.0 < c.interval < 1.0:
        out.append(f"interval must be a number in (0, 1), got {c.interval!r}")
    if not isinstance(c.dropout, (int, float)) or not 0.0 <= c.dropout < 1.0:
        out.append(f"dropout must be a number in [0, 1), got {c.dropout!r}")
    if not isinstance(c.targets, (list, tuple)) or not all(isinstance(t, str) for t in c.targets):
        out.append(f"targets must be a list of column names, got {c.targets!r}")
    if c.covariates is not None and not isinstance(c.covariates, (list, tuple)):
        out.append(f"covariates must be a list of column names or None, got {c.covariates!r}")
    out += _column_list_problems(c, "future_covariates", ("targets", "covariates"),
                                 keys_allowed=True)
    out += _column_list_problems(c, "static_covariates",
                                 ("targets", "covariates", "future_covariates"),
                                 keys_allowed=False)
    if c.holidays is not None and (not isinstance(c.holidays, str) or not c.holidays.strip()):
        out.append(f"holidays must be a country code such as 'US' or 'US-CA', got {c.holidays!r}")
    if c.calibrate == "conformal" and c.likelihood == "point":
        out.append(
            "calibrate='conformal' widens the prediction interval, which likelihood='point' "
            "does not have; use likelihood 'gaussian' or 'quantile', or calibrate='none'"
        )
    if c.calibrate == "conformal" and isinstance(c.val_fraction, (int, float)) and (
        c.val_fraction <= 0
    ):
        out.append(
            "calibrate='conformal' needs validation windows to calibrate on, got val_fraction=0"
        )
    if isinstance(c.calendar, str) and c.calendar not in ("auto", "none"):
        for name in split_names(c.calendar):
            if name not in CALENDAR_FEATURES:
                out.append(
                    f"calendar must be 'auto', 'none' or names from {list(CALENDAR_FEATURES)}, "
                    f"got {name!r}{did_you_mean(name, CALENDAR_FEATURES)}"
                )
    elif not isinstance(c.calendar, str):
        out.append(f"calendar must be a string ('auto', 'none' or names), got {c.calendar!r}")
    return out


def split_names(text: str) -> list[str]:
    """'a, b,c' -> ['a', 'b', 'c']."""
    return [t.strip() for t in text.split(",") if t.strip()]


#: What a file gets when ``normalization`` is None (bundled datasets name their own).
DEFAULT_NORMALIZATION = "instance"


def is_dataset_name(data: object) -> bool:
    """Whether ``data`` names a bundled forecasting dataset (rather than a file)."""
    return isinstance(data, str) and data in FORECAST_DEFAULTS


def resolve(config: ForecastConfig) -> ForecastConfig:
    """A copy with every None / 'auto' option filled from the dataset's or generic defaults.

    Raises:
        ValueError: a file without ``time_column`` or ``targets``, or a name that is neither a
            file nor a bundled dataset.
    """
    c = copy.deepcopy(config)
    data = str(c.data)
    if is_dataset_name(data):
        d = FORECAST_DEFAULTS[data]
    else:
        if not os.path.exists(data):
            names = [i.name for i in list_datasets("forecast")]
            hint = did_you_mean(data, names)
            raise ValueError(
                f"data must be an existing CSV/Parquet file or a bundled forecasting dataset "
                f"({', '.join(names)}), got {data!r}{hint or ' (no such file)'}"
            )
        d = {}
        if c.time_column is None:
            raise ValueError(
                f"time_column must name the time column of {data!r} (dates or numbers), got None"
            )
        if not c.targets:
            raise ValueError(f"targets must name at least one column of {data!r}, got none")
    c.time_column = c.time_column or d["time_column"]
    c.targets = list(c.targets or d["targets"])
    c.series_column = c.series_column or d.get("series_column")
    if c.covariates is None:  # the dataset's covariates, less any column chosen as a target
        c.covariates = [x for x in d.get("covariates", []) if x not in c.targets]
    c.future_covariates = list(c.future_covariates or [])
    c.static_covariates = list(c.static_covariates or [])
    if c.calendar == "auto" and "calendar" in d:
        c.calendar = ",".join(d["calendar"]) or "none"
    c.missing = c.missing or d.get("missing", "error")
    c.horizon = c.horizon or d.get("horizon", 1)
    c.input_length = c.input_length or d.get("input_length", max(24, 4 * c.horizon))
    # None when neither the user nor the dataset sets it: the task infers it from the frequency.
    c.season_length = c.season_length or d.get("season_length")
    c.stride = c.stride or d.get("stride", 1)
    c.normalization = c.normalization or d.get("normalization", DEFAULT_NORMALIZATION)
    c.transform = c.transform or d.get("transform", "auto")
    return c


def _column_list_problems(c: Any, name: str, roles: tuple[str, ...], *,
                          keys_allowed: bool) -> list[str]:
    """What is wrong with the column list ``c.<name>``: not a list of names, a column that
    another option (``roles``) already uses, or (unless ``keys_allowed``) the series or time
    column."""
    columns = getattr(c, name)
    if columns is not None and (
        not isinstance(columns, (list, tuple)) or not all(isinstance(x, str) for x in columns)
    ):
        return [f"{name} must be a list of column names or None, got {columns!r}"]
    out = []
    for column in columns or []:
        for role in roles:
            if column in (getattr(c, role) or []):
                out.append(f"{name} must not repeat a column of {role}, got {column!r} in both")
        if not keys_allowed and column in (c.series_column, c.time_column):
            out.append(f"{name} must not name the series or time column, got {column!r}")
    return out
