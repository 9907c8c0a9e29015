"""Classical benchmark forecasts on exactly the windows the model is scored on.

For a window of one series y_0 … y_N with origin o (last observed row) and step k = 1 … h:

* naive:          ŷ_{o+k} = y_o                                    (random walk)
* seasonal naive: ŷ_{o+k} = y_{o + k − m⌈k/m⌉}                    (same step one season back)
* drift:          ŷ_{o+k} = y_o + k (y_o − y_0) / o                (line through first and last)

Only rows up to o are used, so a baseline never sees the values it forecasts.
"""

from __future__ import annotations

import numpy as np

BASELINES = ("naive", "seasonal_naive", "drift")


def baseline_forecasts(
    y: np.ndarray, origins: np.ndarray, horizon: int, season: int
) -> dict[str, np.ndarray]:
    """The three baselines for windows of one series.

    Shapes: y (N, C) raw targets, origins (B,) → each forecast (B, h, C).

    Raises:
        ValueError: an origin has fewer than ``season`` rows of history for seasonal naive.
    """
    k = np.arange(1, horizon + 1)
    last = y[origins]  # (B, C)
    naive = np.repeat(last[:, None, :], horizon, axis=1)
    back = origins[:, None] + k[None, :] - season * np.ceil(k / season).astype(np.int64)[None, :]
    if len(origins) and back.min() < 0:
        raise ValueError(
            f"season_length={season} needs at least {season} rows before every forecast origin, "
            f"but a window starts with only {int(origins.min()) + 1}; lower season_length or "
            f"val_fraction/test_fraction"
        )
    seasonal = y[back]
    slope = (last - y[0]) / np.maximum(origins, 1)[:, None]  # (B, C); origin 0 → flat
    drift = last[:, None, :] + k[None, :, None] * slope[:, None, :]
    return {"naive": naive, "seasonal_naive": seasonal, "drift": drift}
