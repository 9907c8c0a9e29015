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
* per horizon step k: the same pinball and coverage over the windows' k-th step only
* reliability: nominal coverage q_hi − q_lo of each central interval against its observed
  coverage (the diagonal is calibrated)
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


def pinball_by_step(
    actual: np.ndarray, quantiles: np.ndarray, levels: Sequence[float]
) -> list[float]:
    """Mean pinball loss per horizon step. Shapes: actual (B, h, C), quantiles (B, h, C, Q)
    → h values (averaged over windows, targets and levels)."""
    q = np.asarray(levels, dtype=np.float64)
    err = actual[..., None] - quantiles
    loss = np.maximum(q * err, (q - 1) * err)  # (B, h, C, Q)
    return [float(v) for v in loss.mean(axis=(0, 2, 3))]


def coverage_by_step(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> list[float]:
    """Share of actual values inside [lower, upper] per horizon step; shapes (B, h, C) → h."""
    inside = (actual >= lower) & (actual <= upper)
    return [float(v) for v in inside.mean(axis=(0, 2))]


def central_pairs(levels: Sequence[float]) -> list[tuple[int, int, float]]:
    """(i, j, nominal) for every central interval [q_i, q_j] with q_i + q_j = 1 and q_i < ½
    among increasing ``levels``; nominal = q_j − q_i."""
    rounded = [round(float(q), 10) for q in levels]
    out = []
    for i, lo in enumerate(rounded):
        hi = round(1.0 - lo, 10)
        if lo < 0.5 and hi in rounded:
            out.append((i, rounded.index(hi), round(hi - lo, 10)))
    return sorted(out, key=lambda p: p[2])


def reliability(
    actual: np.ndarray, quantiles: np.ndarray, levels: Sequence[float]
) -> dict[str, list[float]]:
    """Nominal against observed coverage of the central intervals among ``levels``.

    Shapes: actual (B, h, C), quantiles (B, h, C, Q). Returns ``{'nominal': [...],
    'observed': [...]}``, increasing nominal; a calibrated forecaster lies on the diagonal.
    """
    pairs = central_pairs(levels)
    return {
        "nominal": [p[2] for p in pairs],
        "observed": [coverage(actual, quantiles[..., i], quantiles[..., j]) for i, j, _ in pairs],
    }
