"""Point and probabilistic forecast metrics (numpy, any shape).

Legend: A actual values, F point forecasts, e = A − F, all of one shape (..., C) or broadcast.

* MAE   = mean |e|
* RMSE  = √(mean e²)
* sMAPE = 100 · mean( 2|e| / (|A| + |F|) )  in percent (a term with A = F = 0 counts 0)
* MAPE  = 100 · mean( |e| / A )  in percent, only where every actual value is positive (a zero
  or negative actual makes it undefined or meaningless)
* MASE  = mean( |e| / s ),  s = in-sample MAE of the seasonal naive forecast with period m on the
  training rows of the same series and target (Hyndman & Koehler 2006): MASE < 1 means better
  than the one-season-back forecast was inside the training data.
* pinball (quantile loss) = mean over levels q of mean max(q (A − Q_q), (q − 1)(A − Q_q))
* coverage = share of A inside [Q_lo, Q_hi]; width = mean (Q_hi − Q_lo)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(np.abs(actual - forecast)))


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - forecast) ** 2)))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    denom = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(
        2 * np.abs(actual - forecast),
        denom,
        out=np.zeros_like(denom, dtype=np.float64),
        where=denom > 0,
    )
    return float(100 * np.mean(ratio))


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Percent; NaN unless every actual value is positive."""
    actual = np.asarray(actual, dtype=np.float64)
    if actual.size == 0 or not np.all(actual > 0):
        return float("nan")
    return float(100 * np.mean(np.abs(actual - forecast) / actual))


def mase(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> float:
    """``scale`` broadcasts against ``actual`` (e.g. (B, 1, C) per window's series)."""
    return float(np.mean(np.abs(actual - forecast) / scale))


def seasonal_naive_scale(y: np.ndarray, season: int) -> np.ndarray:
    """In-sample MAE of y_t − y_{t−m} over rows (N, C) → (C,); NaN when N ≤ m or it is 0."""
    if len(y) <= season:
        return np.full(y.shape[1], np.nan)
    s = np.mean(np.abs(y[season:] - y[:-season]), axis=0)
    return np.where(s > 0, s, np.nan)


def pinball(actual: np.ndarray, quantiles: np.ndarray, levels: Sequence[float]) -> float:
    """``quantiles`` (..., Q) for ``actual`` (...)."""
    q = np.asarray(levels, dtype=np.float64)
    err = actual[..., None] - quantiles
    return float(np.mean(np.maximum(q * err, (q - 1) * err)))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    return float(np.mean((actual >= lower) & (actual <= upper)))


def point_metrics(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, sMAPE and MASE of one forecast, and MAPE where every actual is positive."""
    out = {
        "mae": mae(actual, forecast),
        "rmse": rmse(actual, forecast),
        "smape": smape(actual, forecast),
        "mase": mase(actual, forecast, scale),
    }
    percent = mape(actual, forecast)
    if np.isfinite(percent):
        out["mape"] = percent
    return out
