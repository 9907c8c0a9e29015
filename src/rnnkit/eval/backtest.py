"""Rolling-origin backtest: forecast from every origin of a period, score beside the baselines.

For the test period (or validation) every window whose h targets lie in the period is forecast,
one origin after another (stride 1 by default: origins o, o + 1, …, the last ending on the
period's last row). The model's forecasts and the naive, seasonal-naive and drift forecasts of the
*same* windows are scored with the same metrics (:mod:`rnnkit.eval.forecast_metrics`), so the
table compares like with like. MASE is scaled per series and target by the in-sample
seasonal-naive MAE of the training rows.

Legend: B windows, h horizon, C targets, Q quantile levels, S series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rnnkit.data.forecast_inputs import ForecastPreprocessor
from rnnkit.data.timeseries import SeriesTable
from rnnkit.data.windows import TimeSplit
from rnnkit.eval import forecast_metrics as fm
from rnnkit.eval.baselines import BASELINES, baseline_forecasts
from rnnkit.eval.conformal import ConformalCalibration
from rnnkit.models.forecast_inference import Forecasts, forecast_windows
from rnnkit.models.forecaster import Forecaster

__all__ = ["BacktestResult", "Forecasts", "backtest", "forecast_windows"]


@dataclass
class BacktestResult:
    """Forecasts, baselines and metrics of one backtest.

    Attributes:
        forecasts: the model's.
        baselines: name → (B, h, C) forecasts of the same windows.
        metrics: method ('model', 'naive', ...) → metric → value (all targets pooled).
        per_target: target → method → metric → value.
        season: the m of seasonal naive and of MASE's scale.
    """

    forecasts: Forecasts
    baselines: dict[str, np.ndarray]
    metrics: dict[str, dict[str, float]]
    per_target: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    season: int = 1

    def table(self, methods: Sequence[str] | None = None) -> str:
        """The pooled metrics as a Markdown table, one row per method."""
        return metrics_table(self.metrics, methods)


def metrics_table(
    metrics: dict[str, dict[str, float]], methods: Sequence[str] | None = None
) -> str:
    """Markdown table: rows = methods, columns = MAE, RMSE, sMAPE, MAPE (positive series only),
    MASE (+ probabilistic)."""
    methods = list(methods or metrics)
    columns = ["mae", "rmse", "smape", "mape", "mase", "pinball", "coverage"]
    columns = [c for c in columns if any(c in metrics[m] for m in methods)]
    names = {"smape": "sMAPE %", "mape": "MAPE %", "mase": "MASE"}
    head = "| method | " + " | ".join(
        names.get(c, c.upper() if len(c) <= 4 else c) for c in columns
    )
    lines = [head + " |", "|---" * (len(columns) + 1) + "|"]
    for m in methods:
        cells = []
        for c in columns:
            v = metrics[m].get(c)
            cells.append("" if v is None else f"{v:.2f}" if c in ("smape", "mape") else f"{v:.3f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mase_scales(
    table: SeriesTable, split: TimeSplit, preprocessor: ForecastPreprocessor, season: int
) -> np.ndarray:
    """(S, C) in-sample seasonal-naive MAE of each series' training rows, in scaler order."""
    ids = preprocessor.series_ids
    scales = np.full((len(ids), preprocessor.n_targets), np.nan)
    for sid, rows in table.series_slices().items():
        part = table.frame.iloc[rows]
        a, _ = split.rows(part[table.time_column].to_numpy())
        y = part[preprocessor.targets].to_numpy(np.float64)[:a]
        scales[ids.index(sid)] = fm.seasonal_naive_scale(y, season)
    return scales


def score(
    forecasts: Forecasts,
    baselines: dict[str, np.ndarray],
    scales: np.ndarray,
    targets: Sequence[str],
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[str, float]]]]:
    """Pooled and per-target metrics of the model and the baselines."""
    w = forecasts.windows
    scale = scales[w.series][:, None, :]  # (B, 1, C)

    def evaluate(c: slice) -> dict[str, dict[str, float]]:
        actual = w.actual[..., c]
        out = {"model": fm.point_metrics(actual, forecasts.point[..., c], scale[..., c])}
        if forecasts.levels:
            q = forecasts.quantiles[..., c, :]
            out["model"]["pinball"] = fm.pinball(actual, q, forecasts.levels)
            out["model"]["pinball_by_step"] = fm.pinball_by_step(actual, q, forecasts.levels)
            if len(forecasts.levels) >= 2:
                out["model"]["coverage"] = fm.coverage(actual, q[..., 0], q[..., -1])
                out["model"]["coverage_by_step"] = fm.coverage_by_step(
                    actual, q[..., 0], q[..., -1]
                )
                out["model"]["interval_width"] = float(np.mean(q[..., -1] - q[..., 0]))
        for name, f in baselines.items():
            out[name] = fm.point_metrics(actual, f[..., c], scale[..., c])
        return out

    pooled = evaluate(slice(None))
    per_target = {t: evaluate(slice(j, j + 1)) for j, t in enumerate(targets)}
    return pooled, per_target


def backtest(
    model: Forecaster,
    preprocessor: ForecastPreprocessor,
    table: SeriesTable,
    split: TimeSplit,
    *,
    part: str = "test",
    season: int = 1,
    stride: int = 1,
    seed: int = 0,
    scales: np.ndarray | None = None,
    calibration: ConformalCalibration | None = None,
) -> BacktestResult:
    """Rolling-origin backtest of ``model`` on ``part`` ('val' or 'test') of ``table``.

    ``scales`` (S, C) are MASE's per-series scales; None computes them from ``table``'s
    training rows (:func:`mase_scales`). A saved model passes the scales of its training data.
    ``calibration``: a conformal calibration of the interval (:mod:`rnnkit.eval.conformal`).

    Raises:
        ValueError: the period holds no complete window (too few rows for input_length +
            horizon), or too little history for ``season``.
    """
    windows = preprocessor.windows(table, split, part, stride=stride)
    if len(windows) == 0:
        raise ValueError(
            f"the {part} period must hold at least one complete window (horizon="
            f"{preprocessor.horizon} rows in the period with input_length="
            f"{preprocessor.input_length} rows before them), but it holds none; provide more "
            f"rows, a longer {part} period, or a shorter input_length or horizon"
        )
    forecasts = forecast_windows(
        model, preprocessor, windows, seed=seed, calibration=calibration
    )
    raw = {
        sid: table.frame.iloc[rows][preprocessor.targets].to_numpy(np.float64)
        for sid, rows in table.series_slices().items()
    }
    baselines = {name: np.zeros_like(forecasts.point) for name in BASELINES}
    for i, sid in enumerate(preprocessor.series_ids):
        pick = np.flatnonzero(windows.series == i)
        if len(pick) == 0:
            continue
        series_baselines = baseline_forecasts(
            raw[sid], windows.origin[pick], preprocessor.horizon, season
        )
        for name, f in series_baselines.items():
            baselines[name][pick] = f
    if scales is None:
        scales = mase_scales(table, split, preprocessor, season)
    pooled, per_target = score(forecasts, baselines, scales, preprocessor.targets)
    return BacktestResult(forecasts, baselines, pooled, per_target, season)
