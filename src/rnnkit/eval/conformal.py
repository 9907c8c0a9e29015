"""Split-conformal calibration of a forecaster's prediction interval, per horizon step.

Conformalized quantile regression (Romano, Patterson & Candès 2019), one calibration per
horizon step k and target c, on the validation windows (n of them), in the network's normalised
units z (so each window's interval widens in proportion to its own scale). With the model's
interval [l, u] at nominal coverage 1 − α, the score of a calibration window is

.. math::
    E_i = \\max(l_i - z_i,\\; z_i - u_i)

(negative inside the interval), and the calibrated interval is
[l − Q̂, u + Q̂] with Q̂ the ⌈(n + 1)(1 − α)⌉-th smallest E_i (Q̂ < 0 narrows an interval that
was too wide). If the calibration and test windows are exchangeable the calibrated interval
covers with probability at least 1 − α; forecast errors drift in time, so the coverage on the
test period is measured, not assumed (docs/forecasting.md). The validation windows also chose
the training epoch; they are used again here, which the docs say.

Legend: B windows, h horizon, C targets, Q quantile levels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class ConformalCalibration:
    """How much to widen the interval at each horizon step, in normalised units.

    Attributes:
        level: the nominal coverage 1 − α of the calibrated interval.
        lower, upper: its quantile levels α/2 and 1 − α/2.
        widen: (h, C) Q̂ per step and target.
        windows: n, the calibration windows.
    """

    level: float
    lower: float
    upper: float
    widen: np.ndarray
    windows: int

    def apply(self, quantiles: np.ndarray, levels: Sequence[float]) -> np.ndarray:
        """Quantiles (B, h, C, Q) at ``levels`` with the calibrated bounds moved out by Q̂
        (levels other than the two bounds are kept; all are re-sorted so none cross)."""
        out = np.array(quantiles, dtype=np.float64, copy=True)
        rounded = [round(float(q), 10) for q in levels]
        for bound, sign in ((self.lower, -1.0), (self.upper, 1.0)):
            if round(bound, 10) in rounded:
                j = rounded.index(round(bound, 10))
                out[..., j] += sign * self.widen[None]
        return np.sort(out, axis=-1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "conformal",
            "level": self.level,
            "lower": self.lower,
            "upper": self.upper,
            "widen": self.widen.tolist(),
            "windows": self.windows,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConformalCalibration:
        return cls(
            float(d["level"]),
            float(d["lower"]),
            float(d["upper"]),
            np.asarray(d["widen"], dtype=np.float64),
            int(d["windows"]),
        )


def fewest_windows(level: float) -> int:
    """The fewest calibration windows n with ⌈(n + 1)·level⌉ ≤ n (a finite Q̂)."""
    return next(m for m in range(1, 10**7) if math.ceil((m + 1) * level) <= m)


def check_calibration_windows(n: int, level: float, horizon: int) -> None:
    """Refuse a calibration with too few validation windows, before any training.

    Raises:
        ValueError: the windows needed and got, and what to change.
    """
    least = fewest_windows(level)
    if n < least:
        raise ValueError(
            f"calibrate='conformal' at interval {level} needs at least {least} validation "
            f"windows (⌈(n + 1)·{level}⌉ <= n), got {n}: the validation period must hold "
            f"{least + horizon - 1} rows of a series for horizon={horizon}; raise val_fraction "
            "or use calibrate='none'"
        )


def conformal_widths(
    actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float
) -> np.ndarray:
    """Q̂ per step and target (equations in the module docstring).

    Shapes: actual, lower, upper (n, h, C) in the same units → (h, C).

    Raises:
        ValueError: fewer calibration windows than the level needs, n < 1/α − 1 (then
            ⌈(n + 1)(1 − α)⌉ > n and no finite Q̂ exists).
    """
    n = len(actual)
    alpha = 1.0 - level
    rank = math.ceil((n + 1) * (1.0 - alpha))
    if rank > n:
        raise ValueError(
            f"conformal calibration at level {level} needs at least {fewest_windows(level)} "
            f"validation windows, got {n}; raise val_fraction or use calibrate='none'"
        )
    scores = np.maximum(lower - actual, actual - upper)  # (n, h, C)
    return np.sort(scores, axis=0)[rank - 1]


def fit_conformal(model: Any, windows: Any, level: float, *, seed: int = 0) -> ConformalCalibration:
    """Calibrate ``model``'s central interval of coverage ``level`` on ``windows`` (a
    :class:`~rnnkit.data.forecast_inputs.WindowSet` of validation windows, targets known)."""
    import torch

    from rnnkit.models.forecaster import interval_quantiles

    lo, _, hi = interval_quantiles(level)
    T = windows.input_length
    z = windows.target[:, T:, :].astype(np.float64)  # (n, h, C)
    parts = []
    with torch.no_grad():
        first = next(model.parameters())
        for start in range(0, len(windows), 512):
            x = torch.as_tensor(
                windows.inputs[start : start + 512], dtype=first.dtype, device=first.device
            )
            out = model.predict(x, seed=seed + start, levels=(lo, hi))
            parts.append(out["quantiles"].cpu().double().numpy())
    q = np.concatenate(parts)
    widen = conformal_widths(z, q[..., 0], q[..., 1], level)
    return ConformalCalibration(level, lo, hi, widen, len(windows))
