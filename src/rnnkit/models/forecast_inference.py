"""Forecasts of a trained forecaster for a set of windows, in data units.

Shared by prediction (the horizon after the data) and the backtest (every origin of a period):
the model runs on normalised windows in chunks, and the preprocessor maps its output back.

Legend: B windows, h horizon, C targets, Q quantile levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from rnnkit.data.forecast_inputs import ForecastPreprocessor, WindowSet
from rnnkit.models.forecaster import Forecaster

if TYPE_CHECKING:
    from rnnkit.eval.conformal import ConformalCalibration


@dataclass
class Forecasts:
    """Forecasts of a window set, in data units.

    Attributes:
        point: (B, h, C) point forecasts (the predictive median, or μ).
        quantiles: (B, h, C, Q) forecasts at ``levels`` (Q = 0 for a point model).
        levels: the quantile levels, increasing.
        windows: the windows forecast (actual values, series, origins, times).
    """

    point: np.ndarray
    quantiles: np.ndarray
    levels: tuple[float, ...]
    windows: WindowSet

    @property
    def interval_level(self) -> float | None:
        """Nominal coverage of [first level, last level], or None without intervals."""
        if len(self.levels) < 2:
            return None
        return round(self.levels[-1] - self.levels[0], 10)


def forecast_windows(
    model: Forecaster,
    preprocessor: ForecastPreprocessor,
    windows: WindowSet,
    *,
    batch_size: int = 512,
    seed: int = 0,
    levels: Sequence[float] | None = None,
    calibration: ConformalCalibration | None = None,
) -> Forecasts:
    """Run ``model`` on ``windows`` (in chunks) and map the output back to data units.

    ``levels``: the quantile levels (None: the model's own); ``calibration``: a conformal
    calibration whose interval bounds, where among the levels, are widened in normalised
    units before the mapping back (:mod:`rnnkit.eval.conformal`).
    """
    wanted = model.check_levels(levels) if model.likelihood != "point" else ()
    points, quantiles = [], []
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    for start in range(0, len(windows), batch_size):
        part = slice(start, start + batch_size)
        out = model.predict(
            torch.as_tensor(windows.inputs[part], dtype=dtype, device=device),
            seed=seed + start,
            levels=wanted or None,
        )
        points.append(out["point"].cpu().double().numpy())
        quantiles.append(out["quantiles"].cpu().double().numpy())
    C, h = preprocessor.n_targets, preprocessor.horizon
    levels = tuple(wanted)
    point = np.concatenate(points) if points else np.zeros((0, h, C))
    quant = np.concatenate(quantiles) if quantiles else np.zeros((0, h, C, len(levels)))
    if calibration is not None and levels:
        quant = calibration.apply(quant, levels)
    return Forecasts(
        point=preprocessor.to_data_units(point, windows.loc, windows.scale, windows.offset),
        quantiles=preprocessor.to_data_units(quant, windows.loc, windows.scale, windows.offset),
        levels=tuple(levels),
        windows=windows,
    )
