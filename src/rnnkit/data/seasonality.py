"""Seasonal adjustment of forecasting targets: a test for seasonality and a fixed seasonal
profile per series, fit on training rows only.

Recurrent forecasters trained on a few short series do not learn a strong seasonal pattern
from the windows alone: on monthly competition data the forecasts come out flat or trend-like,
far behind seasonal naive. Removing the season first and adding it back to the forecast is what
made RNNs competitive there (Smyl's ES-RNN, M4 2018; Hewamalage, Bergmeir & Bandara 2021, who
found deseasonalisation necessary for RNNs on series with strong seasonality), and it is the
same classical decomposition the M4 benchmarks (Theta, SES, Holt and damped) use.

In transformed units x = g(y) (g = identity or log, so additive here is multiplicative in data
units after a log), for a series with period m:

    x_t = s_{t mod m} + r_t,        Σ_k s_k = 0,

with s estimated by classical decomposition over the training rows: the centred moving average
of order m (2×m when m is even) is the trend, the mean of x − trend at each phase k is s_k, and
s is shifted to sum to zero. The network sees r (deseasonalised), and the forecast is
g⁻¹(r̂ + s) at each forecast step's phase. Phases come from times, not row numbers
(:meth:`~rnnkit.data.frequency.Frequency.to_steps` from the series' first training time), so a
later file that starts elsewhere keeps the phase.

A series is adjusted only when it is seasonal by the test the M4 benchmarks use: the lag-m
autocorrelation r_m of the training rows exceeds its 90% limit,

    |r_m| > 1.645 · sqrt((1 + 2 Σ_{k<m} r_k²) / n),

and the training rows hold at least three seasons (n ≥ 3m). The forecasting task applies it to
panels of several series only: one global network cannot hold every series' own seasonal
pattern, but for a single series it learns that one pattern from the windows better than a fixed
profile does (docs/forecasting.md has the measurements). A fixed profile by phase also needs
a whole number of steps per season: a year of daily (365.25) or weekly (52.18) steps drifts by a
day or more each year, and after a decade the profile is weeks out of phase (on the bundled
weekly CO₂ series, test MASE 0.32 without the adjustment, 0.52 with it), so such periods are
left to the network (:func:`whole_period`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.data.frequency import Frequency

#: values of the forecasting option ``deseasonalize``
DESEASONALIZE = ("auto", "none")
#: the one-sided 90% normal quantile of the M4 seasonality test
_Z90 = 1.645
#: whole seasons of training rows needed before a profile is estimated
MIN_SEASONS = 3


def whole_period(frequency: Frequency, m: int) -> tuple[bool, str]:
    """Whether period ``m`` is a whole number of steps of ``frequency`` (a year of days or
    weeks is not), and why not."""
    day, week = 86400.0, 7 * 86400.0
    if frequency.kind == "timedelta" and (
        (frequency.n == day and m in (365, 366)) or (frequency.n == week and m in (52, 53))
    ):
        per = "365.25 days" if frequency.n == day else "52.18 weeks"
        return False, f"a year is {per}, not a whole number of steps"
    return True, ""


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelations r_0 … r_max_lag of a 1-D series (r_0 = 1).

    Shapes: x (n,) → (max_lag + 1,). A constant series has r_k = 0 for k ≥ 1.
    """
    x = np.asarray(x, dtype=np.float64)
    d = x - x.mean()
    denom = float(d @ d)
    out = np.zeros(max_lag + 1)
    out[0] = 1.0
    if denom <= 0:
        return out
    for k in range(1, max_lag + 1):
        out[k] = float(d[k:] @ d[:-k]) / denom if k < len(x) else 0.0
    return out


def is_seasonal(x: np.ndarray, m: int) -> bool:
    """The M4 benchmarks' 90% test for seasonality at period ``m`` (module docstring).

    Shapes: x (n,). False for m < 2 or n < 3m.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if m < 2 or n < MIN_SEASONS * m:
        return False
    r = autocorrelation(x, m)
    limit = _Z90 * np.sqrt((1.0 + 2.0 * float(np.sum(r[1:m] ** 2))) / n)
    return bool(abs(r[m]) > limit)


def seasonal_profile(x: np.ndarray, m: int) -> np.ndarray:
    """Classical-decomposition seasonal indices s_0 … s_{m−1} of ``x`` (phase 0 = row 0),
    summing to zero.

    Shapes: x (n, C) with n ≥ 2m → (m, C).
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if m % 2:  # odd: a plain centred mean of m rows
        weights = np.full(m, 1.0 / m)
    else:  # even: the 2×m moving average, half weight at both ends
        weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    half = len(weights) // 2
    trend = np.stack(
        [np.convolve(x[:, c], weights, mode="valid") for c in range(x.shape[1])], axis=1
    )  # rows half … n − half − 1
    detrended = x[half : n - half] - trend
    phase = np.arange(half, n - half) % m
    profile = np.stack([detrended[phase == k].mean(axis=0) for k in range(m)])
    return profile - profile.mean(axis=0, keepdims=True)


@dataclass
class SeasonalProfiles:
    """The seasonal component of every series, in transformed units.

    Attributes:
        period: m (1: no adjustment anywhere).
        profiles: (S, m, C) s_k per series, phase 0 at ``anchors[i]``; zeros for a series that
            failed the test.
        anchors: the first training time of each series (JSON: ISO text or a number).
        seasonal: (S,) whether each series passed the test and is adjusted.
    """

    period: int
    profiles: np.ndarray
    anchors: list[Any]
    seasonal: np.ndarray

    @classmethod
    def fit(cls, train: list[np.ndarray], anchors: list[Any], period: int) -> SeasonalProfiles:
        """Test and estimate each series' profile from its training rows ``train[i]``
        (n_i, C) in transformed units; a series is adjusted when every column is seasonal."""
        C = train[0].shape[1] if train else 1
        profiles = np.zeros((len(train), max(period, 1), C))
        seasonal = np.zeros(len(train), dtype=bool)
        for i, x in enumerate(train):
            if period >= 2 and all(is_seasonal(x[:, c], period) for c in range(x.shape[1])):
                profiles[i] = seasonal_profile(x, period)
                seasonal[i] = True
        return cls(period, profiles, list(anchors), seasonal)

    def component(self, index: int, steps: np.ndarray) -> np.ndarray:
        """s at the given step numbers from the series' anchor. Shapes: steps (N,) → (N, C)."""
        phase = np.mod(np.round(np.asarray(steps, dtype=np.float64)).astype(np.int64), self.period)
        return self.profiles[index][phase]

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "profiles": self.profiles.tolist(),
            "anchors": list(self.anchors),
            "seasonal": self.seasonal.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeasonalProfiles:
        return cls(
            period=int(d["period"]),
            profiles=np.asarray(d["profiles"], dtype=np.float64),
            anchors=list(d["anchors"]),
            seasonal=np.asarray(d["seasonal"], dtype=bool),
        )


__all__ = [
    "DESEASONALIZE",
    "SeasonalProfiles",
    "autocorrelation",
    "is_seasonal",
    "seasonal_profile",
    "whole_period",
]
