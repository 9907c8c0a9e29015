"""From a checked :class:`~rnnkit.data.timeseries.SeriesTable` to the forecaster's arrays.

:class:`ForecastPreprocessor` is fit on the training period only (target and covariate scalers)
and then turns any split, or the end of each series for a real forecast, into a
:class:`WindowSet`. Its state is plain JSON (``to_dict`` / ``from_dict``), stored in the model
artifact so that a loaded model preprocesses new data exactly as in training.

Layout of one window (the task-model protocol's per-step alignment, S = T + h steps):

* ``inputs`` (B, S, F), F = C + P + K; row t holds ``[targets z (C), past covariates (P),
  known features (K)]``, the known features being the future-known covariates (Pf, standardised
  with their pooled training mean and spread) and then the calendar features. Rows 0 … T−1 are
  observed. Rows T … S−1 are the horizon: their known features are given; their past covariates
  are 0 (their values after the origin never reach the model); their target slots hold the true
  z where known (read only by autoregressive teacher forcing in training mode) and 0 where not.
* With static covariates, W = Ns + Kc more columns after the known features, the series'
  static vector (standardised numbers, then category numbers; :mod:`rnnkit.data.static_inputs`),
  the same on every row: F = C + P + K + W.
* ``target`` (B, S, C): z of every row (NaN where unknown); the horizon is rows T … S−1.

Legend: B windows, T input_length, h horizon, C targets, P past covariates, K known features
(Pf future-known covariates, then two per named calendar feature).
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch

from rnnkit.data.batching import BatchLoader, SequenceBatch
from rnnkit.data.calendar import calendar_features
from rnnkit.data.frequency import Frequency
from rnnkit.data.registry import load_dataset
from rnnkit.data.scaling import (
    NORMALIZATIONS,
    SeriesScaler,
    check_positive,
    forward_transform,
    inverse_transform,
)
from rnnkit.data.seasonality import DESEASONALIZE, SeasonalProfiles, whole_period
from rnnkit.data.series_datasets import FORECAST_DEFAULTS
from rnnkit.data.static_inputs import StaticEncoder
from rnnkit.data.timeseries import SeriesTable, load_series_table
from rnnkit.data.windows import TimeSplit, gather_windows, split_origins


@dataclass
class WindowSet:
    """Windows ready for the model, plus what is needed to map its output back.

    Attributes:
        inputs: (B, T + h, C + P + K) float32 network inputs (layout in the module docstring).
        target: (B, T + h, C) float32 normalised targets (NaN where unknown).
        loc, scale: (B, C) float64; z = (g(y) − s − loc) / scale.
        offset: (B, h, C) float64, the seasonal component s at the horizon steps, in
            transformed units (zeros without seasonal adjustment).
        series: (B,) int64 index into ``series_ids``.
        origin: (B,) int64 row of the last input step within its series.
        actual: (B, h, C) float64 targets in data units (NaN where unknown).
        times: (B, h) object array, timestamps (or numbers) of the horizon steps.
        series_ids: the series names.
    """

    inputs: np.ndarray
    target: np.ndarray
    loc: np.ndarray
    scale: np.ndarray
    series: np.ndarray
    origin: np.ndarray
    actual: np.ndarray
    times: np.ndarray
    offset: np.ndarray
    series_ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def horizon(self) -> int:
        return self.actual.shape[1]

    @property
    def input_length(self) -> int:
        return self.inputs.shape[1] - self.horizon

    def subset(self, rows: np.ndarray) -> WindowSet:
        """The windows at ``rows`` (a boolean mask (B,) or indices), every per-window array
        cut alike."""
        return replace(self, **{k: getattr(self, k)[rows] for k in _STACKED})


_STACKED = ("inputs", "target", "loc", "scale", "series", "origin", "actual", "times", "offset")


@dataclass
class _Series:
    """Per-series arrays, computed once per table."""

    gy: np.ndarray  # (N, C) transformed targets g(y), less the seasonal component
    season: np.ndarray  # (N, C) the seasonal component s removed from gy (zeros: none)
    y: np.ndarray  # (N, C) raw targets
    cov: np.ndarray  # (N, P) standardised covariates
    cal: np.ndarray  # (N, K) known features: future-known covariates (Pf), calendar features
    static: np.ndarray  # (N, W) the series' static vector on every row (W = 0: none)
    times: np.ndarray  # (N,) object: Timestamps or numbers
    time_values: np.ndarray  # (N,) datetime64 or numbers, for comparisons with split points
    index: int  # row in the scalers


#: An 'instance' window whose spread is under this share of the series' σ counts as flat.
_FLAT = 1e-3


#: Why 'auto' leaves a single series' season to the network (measured, docs/forecasting.md).
SINGLE_SERIES_NOTE = (
    "a single series: the network learns its one seasonal pattern from the windows, which "
    "forecasts better than a fixed profile"
)


class ForecastPreprocessor:
    """Scalers, calendar features and windowing for one forecasting configuration.

    Args:
        targets, covariates: column names (C and P of them); covariates are past-only.
        calendar: resolved calendar feature names (two features each).
        future_covariates: columns known for the forecast horizon too (Pf of them: prices,
            promotions); K = Pf + 2·len(calendar) (+ 1 with holidays) known features.
        holidays: a country or country-subdivision code ('US', 'US-CA'): one more known
            feature, public holidays (:mod:`rnnkit.data.holiday_features`).
        input_length: T, observed steps per window.
        horizon: h, steps to forecast.
        normalization: 'window', 'series' or 'instance' (see :mod:`rnnkit.data.scaling`).
        transform: 'none' or 'log' applied to the targets before scaling.
        frequency, time_column, series_column: as in the training table.
        season_length: m, the seasonal period (1: none).
        deseasonalize: 'auto' (in a panel of several series, remove a fixed seasonal profile
            from each series that passes the seasonality test, :mod:`rnnkit.data.seasonality`)
            or 'none'.
    """

    def __init__(
        self,
        *,
        targets: Sequence[str],
        covariates: Sequence[str],
        calendar: Sequence[str],
        input_length: int,
        horizon: int,
        normalization: str,
        transform: str,
        frequency: Frequency,
        time_column: str,
        series_column: str | None,
        season_length: int = 1,
        deseasonalize: str = "none",
        future_covariates: Sequence[str] = (),
        holidays: str | None = None,
    ) -> None:
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {list(NORMALIZATIONS)}, got {normalization!r}"
            )
        for name, value in (("input_length", input_length), ("horizon", horizon)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.targets = list(targets)
        self.covariates = list(covariates)
        self.future_covariates = list(future_covariates)
        self.holidays = holidays
        #: static covariates: the encoder fitted on the training series, and the vectors of
        #: the series this preprocessor builds windows for (see :meth:`with_static`)
        self.static: StaticEncoder | None = None
        self.static_rows: dict[str, np.ndarray] = {}
        self.calendar = list(calendar)
        self.input_length = input_length
        self.horizon = horizon
        self.normalization = normalization
        self.transform = transform
        self.frequency = frequency
        self.time_column = time_column
        self.series_column = series_column
        if deseasonalize not in DESEASONALIZE:
            raise ValueError(
                f"deseasonalize must be one of {list(DESEASONALIZE)}, got {deseasonalize!r}"
            )
        self.season_length = int(season_length)
        self.deseasonalize = deseasonalize
        self.target_scaler: SeriesScaler | None = None
        self.covariate_scaler: SeriesScaler | None = None
        #: pooled training mean and spread of the future-known covariates (one row)
        self.future_scaler: SeriesScaler | None = None
        self.seasonal: SeasonalProfiles | None = None
        #: why no seasonal adjustment was fit although asked for ('' otherwise)
        self.seasonal_note = ""

    # -- sizes ---------------------------------------------------------------------------------

    @property
    def n_targets(self) -> int:
        return len(self.targets)

    @property
    def n_covariates(self) -> int:
        return len(self.covariates)

    @property
    def n_future(self) -> int:
        return len(self.future_covariates)

    @property
    def n_known(self) -> int:
        return self.n_future + 2 * len(self.calendar) + (1 if self.holidays else 0)

    @property
    def n_static(self) -> int:
        """W, the static input columns."""
        return 0 if self.static is None else self.static.width

    @property
    def series_ids(self) -> list[str]:
        return list(self._scaler().series)

    # -- fitting -------------------------------------------------------------------------------

    def fit(self, table: SeriesTable, split: TimeSplit) -> ForecastPreprocessor:
        """Learn the scalers from each series' training rows only."""
        frame = table.frame
        train_targets, train_covs, train_times, train_future = {}, {}, {}, []
        for sid, rows in table.series_slices().items():
            part = frame.iloc[rows]
            a, _ = split.rows(part[self.time_column].to_numpy())
            y = part[self.targets].to_numpy(np.float64)
            check_positive(
                y, self.targets, f"series {sid!r}" if sid else "the data", self.transform
            )
            train_targets[sid] = y[:a]
            train_covs[sid] = part[self.covariates].to_numpy(np.float64)[:a]
            train_future.append(part[self.future_covariates].to_numpy(np.float64)[:a])
            train_times[sid] = part[self.time_column].iloc[:a]
        whole, self.seasonal_note = whole_period(self.frequency, self.season_length)
        if whole and len(train_targets) < 2:
            self.seasonal_note = SINGLE_SERIES_NOTE
        if self.deseasonalize == "auto" and self.season_length >= 2 and not self.seasonal_note:
            self.seasonal = self._fit_seasonal(train_targets, train_times)
        # 'window' predicts changes, so one step of change is the unit; the others, levels.
        spread = "diff_std" if self.normalization == "window" else "std"
        self.target_scaler = SeriesScaler.fit(
            train_targets, transform=self.transform, spread=spread
        )
        self.covariate_scaler = SeriesScaler.fit(train_covs)
        # Pooled over the series (a price means the same in every store, and a series the
        # model never saw needs no statistics of its own); training rows only.
        if self.future_covariates:
            self.future_scaler = SeriesScaler.fit({"": np.concatenate(train_future)})
        return self

    def adopt(self, table: SeriesTable, split: TimeSplit | None = None) -> ForecastPreprocessor:
        """A copy that also knows the series of ``table`` absent from training (a global model
        forecasting a series it never saw): each gets target and covariate scalers fitted on
        its own history — its rows before ``split``'s validation period, or all its rows when
        ``split`` is None (prediction) — and no seasonal profile (the network's windows carry
        the season). Known series keep their training statistics; ``self`` is not changed.

        Raises:
            ValueError: a new series with fewer than 2 history rows (nothing to scale by).
        """
        known = set(self._scaler().series)
        targets, covs = {}, {}
        for sid, rows in table.series_slices().items():
            if sid in known:
                continue
            part = table.frame.iloc[rows]
            a = len(part) if split is None else split.rows(part[self.time_column].to_numpy())[0]
            y = part[self.targets].to_numpy(np.float64)[:a]
            check_positive(y, self.targets, f"series {sid!r}", self.transform)
            targets[sid] = y
            covs[sid] = part[self.covariates].to_numpy(np.float64)[:a]
        if not targets:
            return self
        spread = "diff_std" if self.normalization == "window" else "std"
        fresh = SeriesScaler.fit(targets, transform=self.transform, spread=spread)
        fresh_cov = SeriesScaler.fit(covs)
        out = copy.copy(self)
        out.target_scaler = _joined(self._scaler(), fresh)
        out.covariate_scaler = _joined(self.covariate_scaler, fresh_cov)
        return out

    def with_static(self, static: pd.DataFrame | None) -> ForecastPreprocessor:
        """A copy that builds windows with the static vectors of the series in ``static`` (one
        row per series, :func:`rnnkit.data.static_inputs.read_static`); fits the encoder on
        the training series first when it has none (training). A copy; ``self`` is kept."""
        if static is None:
            if self.static is not None:
                raise ValueError(
                    f"static_covariates {self.static.columns} must be columns of the data, got "
                    "none"
                )
            return self
        out = copy.copy(self)
        if out.static is None:
            out.static = StaticEncoder.fit(static, self.series_ids)
        out.static_rows = out.static.encode(static, [str(s) for s in static.index])
        return out

    def _fit_seasonal(
        self, train_targets: dict[str, np.ndarray], train_times: dict[str, pd.Series]
    ) -> SeasonalProfiles:
        """Seasonal profiles of the series whose training rows lie on the time grid (a profile
        by phase needs regular rows; an irregular series is left unadjusted)."""
        xs, anchors = [], []
        for sid, y in train_targets.items():
            times = train_times[sid]
            anchor = _anchor(times.iloc[0]) if len(times) else 0.0
            regular = len(times) > 0 and np.allclose(
                self.frequency.to_steps(times, anchor), np.arange(len(times))
            )
            x = forward_transform(y, self.transform)
            # an irregular series gets too few rows to pass the test, so no profile
            xs.append(x if regular else x[:0])
            anchors.append(anchor)
        return SeasonalProfiles.fit(xs, anchors, self.season_length)

    def _season(self, index: int, times: pd.Series | np.ndarray) -> np.ndarray:
        """s at ``times`` of series ``index``, (N, C); zeros without adjustment (and for a
        series adopted at prediction time, which has no profile)."""
        if (
            self.seasonal is None
            or index >= len(self.seasonal.seasonal)
            or not self.seasonal.seasonal[index]
        ):
            return np.zeros((len(times), self.n_targets))
        steps = self.frequency.to_steps(times, self.seasonal.anchors[index])
        return self.seasonal.component(index, steps)

    def _scaler(self) -> SeriesScaler:
        if self.target_scaler is None or self.covariate_scaler is None:
            raise RuntimeError("ForecastPreprocessor.fit must be called before building windows")
        return self.target_scaler

    # -- windows -------------------------------------------------------------------------------

    def time_features(self, times: pd.Series | Sequence[Any]) -> np.ndarray:
        """The known features computed from timestamps alone (calendar, then holidays), known
        for any future step. Shapes: times (N,) → (N, 2·len(calendar) + [1])."""
        cal = calendar_features(times, self.calendar)
        if not self.holidays:
            return cal
        from rnnkit.data.holiday_features import holiday_features

        return np.concatenate([cal, holiday_features(times, self.holidays, self.frequency)], 1)

    def scale_future(self, values: np.ndarray) -> np.ndarray:
        """Future-known covariates (N, Pf) in data units → standardised (N, Pf)."""
        if not self.future_covariates:
            return np.zeros((len(values), 0))
        fs = self.future_scaler
        if fs is None:
            raise RuntimeError("ForecastPreprocessor.fit must be called before building windows")
        return (np.asarray(values, dtype=np.float64) - fs.mean[0]) / fs.scale[0]

    def _series_arrays(self, table: SeriesTable) -> dict[str, _Series]:
        scaler = self._scaler()
        cov_scaler = self.covariate_scaler
        out = {}
        for sid, rows in table.series_slices().items():
            part = table.frame.iloc[rows]
            i = scaler.index(sid)
            y = part[self.targets].to_numpy(np.float64)
            check_positive(
                y, self.targets, f"series {sid!r}" if sid else "the data", self.transform
            )
            cov = part[self.covariates].to_numpy(np.float64)
            if self.covariates:
                cov = (cov - cov_scaler.mean[i]) / cov_scaler.scale[i]
            times = part[self.time_column]
            season = self._season(i, times)
            static = np.zeros((len(part), 0))
            if self.static is not None:
                if sid not in self.static_rows:
                    raise ValueError(
                        f"static_covariates {self.static.columns} must be given for every "
                        f"series, got none for series {sid!r}"
                    )
                static = np.broadcast_to(self.static_rows[sid], (len(part), self.n_static))
            out[sid] = _Series(
                gy=forward_transform(y, self.transform) - season,
                season=season,
                y=y,
                cov=cov,
                cal=np.concatenate(
                    [
                        self.scale_future(part[self.future_covariates].to_numpy(np.float64)),
                        self.time_features(part[self.time_column]),
                    ],
                    axis=1,
                ),
                times=times.to_numpy(dtype=object),
                time_values=times.to_numpy(),
                index=i,
                static=np.asarray(static, dtype=np.float64),
            )
        return out

    def windows(
        self, table: SeriesTable, split: TimeSplit, part: str, stride: int = 1
    ) -> WindowSet:
        """All windows of ``part`` ('train', 'val', 'test') over every series."""
        pieces = []
        for s in self._series_arrays(table).values():
            bounds = split.rows(s.time_values)
            origins = split_origins(part, len(s.y), bounds, self.input_length, self.horizon, stride)
            if len(origins):
                pieces.append(self._build(s, origins, future_times=None))
        return self._concat(pieces)

    def future_windows(
        self, table: SeriesTable, future: dict[str, np.ndarray] | None = None
    ) -> WindowSet:
        """One window per series ending at its last row, for forecasting beyond the data.

        ``future`` maps each series id to its future-known covariates (h, Pf) in data units for
        the h steps after its last row (:func:`rnnkit.data.future_inputs.read_future`); needed
        when the model has future-known covariates.

        In a panel, a series shorter than ``input_length`` (a short series the model was
        trained beside longer ones) is padded on the left with its first observed step, and a
        warning names it: its forecast then rests on fewer real steps than the others'.

        Raises:
            ValueError: a single series (not a panel) with fewer than ``input_length`` rows, or
                any series with fewer than 2 rows.
        """
        pieces, padded = [], []
        arrays = self._series_arrays(table)
        for sid, s in arrays.items():
            n = len(s.y)
            if n < self.input_length and (len(arrays) == 1 or n < 2):
                name = f"series {sid!r}" if sid else "the series"
                raise ValueError(
                    f"input must hold at least input_length={self.input_length} rows per series "
                    f"to forecast from, but {name} has {n}"
                )
            if n < self.input_length:
                s = _pad_left(s, self.input_length - n)
                padded.append(f"{sid!r} ({n} rows)")
                n = len(s.y)
            last = s.times[-1]
            times = np.array(
                [self.frequency.shift(last, k) for k in range(1, self.horizon + 1)], dtype=object
            )
            values = None
            if self.future_covariates:
                if future is None or sid not in future:
                    raise ValueError(
                        f"future must hold the future-known covariates {self.future_covariates} "
                        f"for the {self.horizon} steps after the last row of series {sid!r}, got "
                        "none for it"
                    )
                values = self.scale_future(future[sid])
            pieces.append(
                self._build(s, np.array([n - 1]), future_times=times, future_known=values)
            )
        if padded:
            shown = ", ".join(padded[:5]) + (" ..." if len(padded) > 5 else "")
            warnings.warn(
                f"{len(padded)} series are shorter than input_length={self.input_length} and "
                f"were padded on the left with their first value to forecast: {shown}",
                stacklevel=3,
            )
        return self._concat(pieces)

    def future_baselines(self, table: SeriesTable, season: int) -> dict[str, np.ndarray]:
        """The baselines of :mod:`rnnkit.eval.baselines` from the end of every series, in the
        order of :meth:`future_windows`: name → (S, h, C) in data units (a short series of a
        panel padded as there)."""
        from rnnkit.eval.baselines import baseline_forecasts

        per: dict[str, list[np.ndarray]] = {}
        for s in self._series_arrays(table).values():
            if len(s.y) < self.input_length:
                s = _pad_left(s, self.input_length - len(s.y))
            found = baseline_forecasts(s.y, np.array([len(s.y) - 1]), self.horizon, season)
            for name, f in found.items():
                per.setdefault(name, []).append(f)
        return {name: np.concatenate(fs) for name, fs in per.items()}

    def _build(
        self,
        s: _Series,
        origins: np.ndarray,
        future_times: np.ndarray | None,
        future_known: np.ndarray | None = None,
    ) -> WindowSet:
        T, h = self.input_length, self.horizon
        scaler = self._scaler()
        scale = scaler.scale[s.index]  # (C,)
        gy_past, gy_future = gather_windows(s.gy, origins, T, h)  # (B, T, C), (B, h, C)
        B = len(origins)
        if self.normalization == "window":
            loc = gy_past[:, -1, :]  # the last observed value of each window
        elif self.normalization == "instance":
            loc = gy_past.mean(axis=1)  # (B, C): RevIN's window mean and spread
            sd = gy_past.std(axis=1)
            # A flat window has no spread of its own: fall back on the series' σ.
            scale = np.where(sd > _FLAT * scale, sd, scale)
        else:
            loc = np.broadcast_to(scaler.mean[s.index], (B, self.n_targets))
        scale = np.broadcast_to(scale, loc.shape)  # (B, C)
        z_past = (gy_past - loc[:, None, :]) / scale[:, None, :]
        z_future = (gy_future - loc[:, None, :]) / scale[:, None, :]
        side = np.concatenate([s.cov, s.cal, s.static], axis=1)  # (N, P + K + W)
        side_past, _ = gather_windows(side, origins, T, h)
        if future_times is None:
            _, known = gather_windows(s.cal, origins, T, h)  # (B, h, K)
            _, y_future = gather_windows(s.y, origins, T, h)
            _, offset = gather_windows(s.season, origins, T, h)  # (B, h, C)
            times = np.stack([s.times[o + 1 : o + 1 + h] for o in origins])
        else:
            cal = self.time_features(pd.Series(list(future_times)))
            given = np.zeros((self.horizon, 0)) if future_known is None else future_known
            known = np.concatenate([given, cal], axis=1)[None]  # (1, h, K)
            y_future = np.full((1, h, self.n_targets), np.nan)
            offset = self._season(s.index, pd.Series(list(future_times)))[None]
            times = future_times[None, :]
        static = np.broadcast_to(s.static[:1], (B, h, self.n_static))  # the same on every row
        future_rows = np.concatenate(
            [np.nan_to_num(z_future, nan=0.0), np.zeros((B, h, self.n_covariates)), known, static],
            axis=2,
        )
        past_rows = np.concatenate([z_past, side_past], axis=2)
        return WindowSet(
            inputs=np.concatenate([past_rows, future_rows], axis=1).astype(np.float32),
            target=np.concatenate([z_past, z_future], axis=1).astype(np.float32),
            loc=np.array(loc, dtype=np.float64),
            scale=np.array(scale, dtype=np.float64),
            series=np.full(B, s.index, dtype=np.int64),
            origin=origins.astype(np.int64),
            actual=y_future,
            times=times,
            offset=np.nan_to_num(np.asarray(offset, dtype=np.float64), nan=0.0),
            series_ids=list(scaler.series),
        )

    def _concat(self, pieces: list[WindowSet]) -> WindowSet:
        if not pieces:
            T, h, C = self.input_length, self.horizon, self.n_targets
            F = C + self.n_covariates + self.n_known + self.n_static
            return WindowSet(
                inputs=np.zeros((0, T + h, F), np.float32),
                target=np.zeros((0, T + h, C), np.float32),
                loc=np.zeros((0, C)),
                scale=np.zeros((0, C)),
                series=np.zeros(0, np.int64),
                origin=np.zeros(0, np.int64),
                actual=np.zeros((0, h, C)),
                times=np.zeros((0, h), dtype=object),
                offset=np.zeros((0, h, C)),
                series_ids=self.series_ids,
            )
        return WindowSet(
            **{name: np.concatenate([getattr(p, name) for p in pieces]) for name in _STACKED},
            series_ids=pieces[0].series_ids,
        )

    # -- back to data units --------------------------------------------------------------------

    def to_data_units(
        self,
        z: np.ndarray,
        loc: np.ndarray,
        scale: np.ndarray,
        offset: np.ndarray | None = None,
    ) -> np.ndarray:
        """y = g⁻¹(z·scale + loc + s). Shapes: z (B, h, C, ...), loc and scale (B, C), offset
        (the seasonal component s, :attr:`WindowSet.offset`) (B, h, C) or None for zeros."""
        extra = z.ndim - 3
        shape = (loc.shape[0], 1, loc.shape[1]) + (1,) * extra
        gz = z * scale.reshape(shape) + loc.reshape(shape)
        if offset is not None:
            gz = gz + offset.reshape(offset.shape + (1,) * extra)
        return inverse_transform(gz, self.transform)

    # -- persistence ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "targets": self.targets,
            "covariates": self.covariates,
            "future_covariates": self.future_covariates,
            "future_scaler": None if self.future_scaler is None else self.future_scaler.to_dict(),
            "calendar": self.calendar,
            "holidays": self.holidays,
            "static": None if self.static is None else self.static.to_dict(),
            "input_length": self.input_length,
            "horizon": self.horizon,
            "normalization": self.normalization,
            "transform": self.transform,
            "frequency": self.frequency.to_dict(),
            "time_column": self.time_column,
            "series_column": self.series_column,
            "target_scaler": self._scaler().to_dict(),
            "covariate_scaler": self.covariate_scaler.to_dict(),
            "season_length": self.season_length,
            "deseasonalize": self.deseasonalize,
            "seasonal": None if self.seasonal is None else self.seasonal.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ForecastPreprocessor:
        pre = cls(
            targets=d["targets"],
            covariates=d["covariates"],
            calendar=d["calendar"],
            input_length=int(d["input_length"]),
            horizon=int(d["horizon"]),
            normalization=d["normalization"],
            transform=d["transform"],
            frequency=Frequency.from_dict(d["frequency"]),
            time_column=d["time_column"],
            series_column=d["series_column"],
            # older artifacts have no seasonal adjustment
            season_length=int(d.get("season_length", 1)),
            deseasonalize=str(d.get("deseasonalize", "none")),
            future_covariates=d.get("future_covariates", []),  # older artifacts: none
            holidays=d.get("holidays"),
        )
        pre.target_scaler = SeriesScaler.from_dict(d["target_scaler"])
        pre.covariate_scaler = SeriesScaler.from_dict(d["covariate_scaler"])
        if d.get("static") is not None:
            pre.static = StaticEncoder.from_dict(d["static"])
        if d.get("future_scaler") is not None:
            pre.future_scaler = SeriesScaler.from_dict(d["future_scaler"])
        if d.get("seasonal") is not None:
            pre.seasonal = SeasonalProfiles.from_dict(d["seasonal"])
        return pre


def _joined(a: SeriesScaler, b: SeriesScaler) -> SeriesScaler:
    """The series of ``a`` then those of ``b``, in one scaler."""
    return SeriesScaler(
        [*a.series, *b.series],
        np.concatenate([a.mean, b.mean]),
        np.concatenate([a.scale, b.scale]),
        a.transform,
        a.spread,
    )


def _pad_left(s: _Series, k: int) -> _Series:
    """``s`` with its first row repeated ``k`` times before it (times included, so the window's
    own times stay in order; only the forecast times after the last row are used)."""

    def pad(a: np.ndarray) -> np.ndarray:
        return np.concatenate([np.repeat(a[:1], k, axis=0), a], axis=0)

    return replace(
        s,
        gy=pad(s.gy),
        season=pad(s.season),
        y=pad(s.y),
        cov=pad(s.cov),
        cal=pad(s.cal),
        times=pad(s.times),
        time_values=pad(s.time_values),
        static=pad(s.static),
    )


def _anchor(t: Any) -> Any:
    """A first training time as JSON: ISO text for dates, a float for numbers."""
    if isinstance(t, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(t).isoformat()
    return float(t)


class WindowLoader:
    """Batches of windows for :class:`rnnkit.train.Trainer` (the :class:`~rnnkit.data.Loader`
    protocol), with the loss mask a forecaster needs.

    Each batch is a :class:`~rnnkit.data.SequenceBatch` with inputs (B, T + h, F), targets
    (B, T + h, C) and a mask (B, T + h) that is True on the horizon rows T … T + h − 1, or, with
    ``teacher_forcing`` (autoregressive training), on every row after the first (each is a
    one-step prediction).

    Args:
        windows: the windows.
        teacher_forcing: the mask described above.
        batch_size, shuffle, seed: as for :class:`~rnnkit.data.BatchLoader`.
    """

    def __init__(
        self,
        windows: WindowSet,
        *,
        teacher_forcing: bool = False,
        batch_size: int = 64,
        shuffle: bool = True,
        seed: int = 0,
        _inner: BatchLoader | None = None,
    ) -> None:
        S = windows.inputs.shape[1]
        self.mask = torch.zeros(S, dtype=torch.bool)
        self.mask[1 if teacher_forcing else windows.input_length :] = True
        self.windows = windows
        self.teacher_forcing = teacher_forcing
        self._inner = _inner or BatchLoader(
            torch.from_numpy(windows.inputs),
            torch.from_numpy(windows.target),
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
        )

    def __len__(self) -> int:
        return len(self._inner)

    def batches(self, epoch: int, start: int = 0) -> Iterator[SequenceBatch]:
        for batch in self._inner.batches(epoch, start):
            yield replace(batch, mask=self.mask.expand(batch.batch_size, -1).clone())

    def shard(self, rank: int, world_size: int) -> WindowLoader:
        return WindowLoader(
            self.windows,
            teacher_forcing=self.teacher_forcing,
            _inner=self._inner.shard(rank, world_size),
        )


def check_enough_rows(
    table: SeriesTable,
    split: TimeSplit,
    counts: dict[str, int],
    *,
    input_length: int,
    horizon: int,
    val_fraction: float,
    test_fraction: float,
) -> None:
    """Refuse a split without windows (``counts``: windows per part), saying what is needed.

    Raises:
        ValueError: the part, the rows it needs and the rows its longest series has.
    """
    T, h = input_length, horizon
    longest = {"train": 0, "val": 0, "test": 0}
    for rows in table.series_slices().values():
        times = table.frame[table.time_column].iloc[rows].to_numpy()
        a, b = split.rows(times)
        longest["train"] = max(longest["train"], a)
        longest["val"] = max(longest["val"], b - a)
        longest["test"] = max(longest["test"], len(times) - b)
    need = {"train": T + h, "val": h, "test": h}
    for part in ("train", "val", "test"):
        if part == "val" and val_fraction == 0:
            continue
        if counts[part] == 0:
            raise ValueError(
                f"data has too few rows for the windows: input_length={T} and horizon={h} need "
                f"at least {need[part]} rows in the {part} period of a series (and {T} rows "
                f"before it), but the longest {part} period has {longest[part]} rows "
                f"({len(table.frame)} rows in all, val_fraction={val_fraction}, "
                f"test_fraction={test_fraction}); lower input_length or horizon, change the "
                f"fractions, or provide more rows"
            )


def read_series(
    data: str | os.PathLike[str] | pd.DataFrame,
    *,
    time_column: str,
    targets: list[str],
    series_column: str | None,
    covariates: list[str],
    missing: str,
    gaps: str,
    missing_advice: str | None = None,
    **file_options: Any,
) -> SeriesTable:
    """A checked table from a bundled dataset name, a file, or a DataFrame; ``file_options``
    (sep, decimal, encoding, dayfirst, time_format) say how a CSV file is written."""
    source = load_dataset(data) if isinstance(data, str) and data in FORECAST_DEFAULTS else data
    return load_series_table(
        source,
        time_column=time_column,
        targets=targets,
        series_column=series_column,
        covariates=covariates,
        missing=missing,
        gaps=gaps,
        missing_advice=missing_advice,
        **file_options,
    )


def window_loaders(
    train_windows: WindowSet,
    val_windows: WindowSet | None,
    decoder: str,
    batch_size: int,
    seed: int,
) -> tuple[WindowLoader, WindowLoader | None]:
    """Training and validation batches of windows.

    Autoregressive models are trained with teacher forcing (the loss covers every one-step
    prediction); validation always scores the free-running forecast of the horizon.
    """
    train_loader = WindowLoader(
        train_windows,
        teacher_forcing=decoder == "autoregressive",
        batch_size=batch_size,
        shuffle=True,
        seed=seed,
    )
    val_loader = None
    if val_windows is not None and len(val_windows):
        val_loader = WindowLoader(val_windows, batch_size=512, shuffle=False)
    return train_loader, val_loader


def longest_train_rows(table: SeriesTable, split: TimeSplit) -> int:
    """Rows in the training period of the series with the most of them."""
    longest = 0
    for rows in table.series_slices().values():
        times = table.frame[table.time_column].iloc[rows].to_numpy()
        longest = max(longest, split.rows(times)[0])
    return longest


def fit_input_length(input_length: int, horizon: int, train_rows: int) -> tuple[int, str | None]:
    """An input length T that leaves the training period some windows, and why it changed.

    The default T = max(24, 4·h) needs T + h training rows for a single window; a short series
    (e.g. 10 years of months with h = 18) has fewer. T is kept when the training period holds
    at least max(h, 8) windows; else it is shortened to half of what the horizon leaves, but
    never below max(h, 8) steps: a series too short for that keeps T, and the row check then
    says what is needed. None: unchanged.
    """
    T, h, n = input_length, horizon, train_rows
    floor = max(h, 8)
    if n - T - h + 1 >= floor:
        return T, None
    shorter = min(T, (n - h) // 2)
    if shorter < floor or shorter >= T:
        return T, None
    return shorter, (
        f"shortened from {T}: the training period has {n} rows, which leaves "
        f"{max(n - T - h + 1, 0)} window(s) of {T} + {h} steps"
    )
