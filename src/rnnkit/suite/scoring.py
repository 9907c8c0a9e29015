"""Holdout scores of one forecast, as the forecasting competitions compute them.

For a series with training values y_1 … y_n, holdout A_1 … A_h and forecast F_1 … F_h:

* MASE  = mean_k |A_k − F_k| / s,  s = (1 / (n − m)) Σ_{t>m} |y_t − y_{t−m}| (in-sample seasonal
  naive with period m; m = 1 when n ≤ m, as in the M4 competition's code);
* sMAPE = (100 / h) Σ_k 2 |A_k − F_k| / (|A_k| + |F_k|)  (M3/M4; a term with A = F = 0 is 0);
* MAPE  = (100 / h) Σ_k |A_k − F_k| / |A_k|  (terms with A_k = 0 are left out).

A dataset's score is the mean over its series.
"""

from __future__ import annotations

import numpy as np

from rnnkit.eval.forecast_metrics import smape

#: Forecast metrics of the suite, lower is better; the first ranks the table.
FORECAST_METRICS = ("mase", "smape", "mape")


def mase_scale(train: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal naive forecast of ``train`` (n,); NaN when it is 0."""
    m = season if len(train) > season else 1
    if len(train) <= m:
        return float("nan")
    s = float(np.mean(np.abs(train[m:] - train[:-m])))
    return s if s > 0 else float("nan")


def holdout_scores(
    train: np.ndarray, holdout: np.ndarray, forecast: np.ndarray, season: int
) -> dict[str, float]:
    """MASE, sMAPE and MAPE of ``forecast`` (h,) against ``holdout`` (h,)."""
    actual = np.asarray(holdout, dtype=np.float64)
    forecast = np.asarray(forecast, dtype=np.float64)
    if forecast.shape != actual.shape:
        raise ValueError(
            f"forecast must have the holdout's shape {actual.shape}, got {forecast.shape}"
        )
    err = np.abs(actual - forecast)
    nonzero = actual != 0
    return {
        "mase": float(np.mean(err) / mase_scale(np.asarray(train, dtype=np.float64), season)),
        "smape": smape(actual, forecast),
        "mape": float(100 * np.mean(err[nonzero] / np.abs(actual[nonzero])))
        if nonzero.any()
        else float("nan"),
    }


def mean_scores(per_series: list[dict[str, float]]) -> dict[str, float]:
    """The mean of each metric over series (NaN entries, e.g. a constant series' MASE, skipped)."""
    out = {}
    for name in FORECAST_METRICS:
        values = np.array([s[name] for s in per_series], dtype=np.float64)
        out[name] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    return out
