"""Conformal calibration of a forecaster's prediction interval, per horizon step.

Conformalized quantile regression (Romano, Patterson & Candès 2019), one calibration per
horizon step k and target c, in the network's normalised units z (so each window's interval
widens in proportion to its own scale). With the model's interval [l, u] at nominal coverage
1 − α, the score of a window i is

.. math::
    E_{i,k} = \\max(l_{i,k} - z_{i,k},\\; z_{i,k} - u_{i,k})

(negative inside the interval), and a calibrated interval is [l − Q̂, u + Q̂] with Q̂ the
⌈(m + 1)(1 − α)⌉-th smallest of m scores (Q̂ < 0 narrows an interval that was too wide).

**Split** (:func:`conformal_widths`): one Q̂ per step from the n validation windows, used for
every later forecast. It covers with probability ≥ 1 − α only if the validation and test
errors are exchangeable; forecast errors drift, and on the public suite it did not hold.

**Online** (:func:`online_widths`): the validation and then the test windows are walked in
time order. A window i forecast from origin o_i (its last
input row) is calibrated, for step k, on the scores E_{j,k} of every window j whose step-k
target was observed at o_i,

.. math::
    S_{i,k} = \\{E_{j,k} : t_{j,k} \\le t(o_i)\\}, \\qquad
    \\hat Q_{i,k} = \\text{the } \\lceil (m + 1)(1 - \\alpha) \\rceil\\text{-th smallest of }
    S_{i,k},\\ m = |S_{i,k}|

(t_{j,k}: the time of window j's step-k target, in any series of a panel), so the test
backtest is scored as a user who recalibrates at each origin would see it, never with a
value from the future. The first test origin sees exactly the validation windows (split);
later ones add the test windows already observed. Two variants: *recent*, only the latest n
of S_{i,k} (n: the validation windows); *ACI* (adaptive conformal inference, Gibbs & Candès
2021; what ``calibrate='conformal'`` runs, :data:`ADOPTED_RULE`), the same S_{i,k} with the
level of each step k and target c adapted by every observed outcome of an online-calibrated
test window j (err_{j,k} = 1 when its target fell outside its calibrated interval), in the
order the targets were observed,

.. math::
    \\alpha_{k} \\leftarrow \\alpha_{k} + \\gamma\\,(\\alpha - \\mathrm{err}_{j,k}), \\qquad
    \\hat Q_{i,k} = \\text{the } \\lceil (m + 1)(1 - \\alpha_k) \\rceil\\text{-th smallest of }
    S_{i,k}

with γ = 0.005 (the paper's, fixed, not tuned) and the rank clipped to 1 … m (where the paper
has the empty and the infinite interval). The calibration stored for ``predict`` uses every
window (all targets observed at the end of the data) and, for ACI, the level after every
outcome. The rule was chosen on the public suite (docs/forecasting.md).

Legend: n windows, h horizon, C targets, Q quantile levels, B windows scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Online variants: 'split' (validation only), 'online', 'recent', 'aci'.
RULES = ("split", "online", "recent", "aci")
#: Adaptive conformal inference's step size, fixed from Gibbs & Candès (2021), not tuned.
ACI_GAMMA = 0.005


@dataclass
class ConformalCalibration:
    """How much to widen the interval at each horizon step, in normalised units.

    Attributes:
        level: the nominal coverage 1 − α of the calibrated interval.
        lower, upper: its quantile levels α/2 and 1 − α/2.
        widen: Q̂ per step and target, (h, C); or per window (B, h, C) for a backtest
            calibrated online (one Q̂ per window's origin).
        windows: m, the calibration windows (the most any step had).
        rule: how Q̂ was computed (:data:`RULES`).
    """

    level: float
    lower: float
    upper: float
    widen: np.ndarray
    windows: int
    rule: str = "split"

    def apply(self, quantiles: np.ndarray, levels: Sequence[float]) -> np.ndarray:
        """Quantiles (B, h, C, Q) at ``levels`` with the calibrated bounds moved out by Q̂
        (levels other than the two bounds are kept; all are re-sorted so none cross)."""
        out = np.array(quantiles, dtype=np.float64, copy=True)
        widen = self.widen if self.widen.ndim == 3 else self.widen[None]
        if self.widen.ndim == 3 and len(widen) != len(out):
            raise ValueError(
                f"a per-window calibration holds {len(widen)} windows, got quantiles of "
                f"{len(out)}"
            )
        rounded = [round(float(q), 10) for q in levels]
        for bound, sign in ((self.lower, -1.0), (self.upper, 1.0)):
            if round(bound, 10) in rounded:
                j = rounded.index(round(bound, 10))
                out[..., j] += sign * widen
        return np.sort(out, axis=-1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "conformal",
            "rule": self.rule,
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
            str(d.get("rule", "split")),  # artifacts before the online rule
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
    """Split-conformal Q̂ per step and target (equations in the module docstring).

    Shapes: actual, lower, upper (n, h, C) in the same units → (h, C).

    Raises:
        ValueError: fewer calibration windows than the level needs, n < 1/α − 1 (then
            ⌈(n + 1)(1 − α)⌉ > n and no finite Q̂ exists).
    """
    return split_widths(np.maximum(lower - actual, actual - upper), level)


def split_widths(scores: np.ndarray, level: float) -> np.ndarray:
    """Q̂ per step and target from the scores E (n, h, C) → (h, C); raises as
    :func:`conformal_widths`."""
    n = len(scores)
    rank = math.ceil((n + 1) * level)
    if rank > n:
        raise ValueError(
            f"conformal calibration at level {level} needs at least {fewest_windows(level)} "
            f"validation windows, got {n}; raise val_fraction or use calibrate='none'"
        )
    return np.sort(scores, axis=0)[rank - 1]


def sortable_times(times: np.ndarray) -> np.ndarray:
    """(n, h) timestamps or numbers (a WindowSet's ``times``) as float64 for comparisons
    (nanoseconds since the epoch for timestamps)."""
    import pandas as pd

    flat = pd.Index(list(np.asarray(times).ravel()))
    if isinstance(flat, pd.DatetimeIndex):
        values = flat.as_unit("ns").asi8.astype(np.float64)
    else:
        values = np.asarray(flat, dtype=np.float64)
    return values.reshape(np.shape(times))


def window_scores(
    model: Any, windows: Any, level: float, *, seed: int = 0
) -> tuple[np.ndarray, tuple[float, float]]:
    """Scores E (n, h, C) of ``windows`` (a :class:`~rnnkit.data.forecast_inputs.WindowSet`,
    targets known; NaN where a target is missing) and the interval's levels (α/2, 1 − α/2).
    Predicts in chunks of 512 with seed ``seed + start``, as the backtest does."""
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
    q = np.concatenate(parts)  # (n, h, C, 2)
    return np.maximum(q[..., 0] - z, z - q[..., 1]), (lo, hi)


def _rank_statistic(pool: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Per target, the ⌈(m + 1)·level⌉-th smallest of the m finite scores of ``pool`` (m, C),
    the rank clipped to 1 … m (``level`` (C,)); NaN with no score."""
    out = np.full(pool.shape[1], np.nan)
    for c in range(pool.shape[1]):
        s = np.sort(pool[np.isfinite(pool[:, c]), c])
        if len(s):
            rank = min(max(math.ceil((len(s) + 1) * level[c]), 1), len(s))
            out[c] = s[rank - 1]
    return out


def online_widths(
    scores: np.ndarray,
    times: np.ndarray,
    level: float,
    *,
    start: int,
    rule: str = "online",
    recent: int | None = None,
    gamma: float = ACI_GAMMA,
) -> tuple[np.ndarray, np.ndarray]:
    """Q̂ of each window from ``start`` on, calibrated online, and the final Q̂ (equations in
    the module docstring).

    Shapes: scores (n, h, C) of the validation windows (rows < ``start``) then the windows to
    calibrate; times (n, h) float, when each target is observed (:func:`sortable_times`).
    Returns (n − start, h, C) and (h, C).

    ``rule``: 'split' (validation windows only), 'online', 'recent' (the latest ``recent``
    scores, default the validation windows), 'aci' (level adapted with step ``gamma``).

    Raises:
        ValueError: an unknown rule, or ``start`` outside 1 … n.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    n, h, C = scores.shape
    if not 1 <= start <= n:
        raise ValueError(f"start must be in 1 … {n} (the validation windows), got {start}")
    keep = start if recent is None else recent
    alpha = 1.0 - level
    aci_alpha = np.full((h, C), alpha)
    fed = np.zeros((n, h), dtype=bool)  # ACI: misses already fed back
    out = np.full((n - start, h, C), np.nan)
    origin = times[:, 0]
    order_by_step = [np.argsort(times[:, k], kind="stable") for k in range(h)]

    def pool(k: int, known: np.ndarray) -> np.ndarray:
        if rule == "split":
            known = known & (np.arange(n) < start)
        rows = order_by_step[k][known[order_by_step[k]]]  # observed, oldest first
        if rule == "recent":
            rows = rows[-keep:]
        return scores[rows, k, :]

    def feed(k: int, known: np.ndarray) -> None:
        # each newly observed target of an online-calibrated window moves α_k by γ(α − err)
        new = known & ~fed[:, k] & (np.arange(n) >= start)
        for j in order_by_step[k][new[order_by_step[k]]]:
            err = scores[j, k] > out[j - start, k]  # (C,); NaN Q̂ or score: no update
            ok = np.isfinite(scores[j, k]) & np.isfinite(out[j - start, k])
            aci_alpha[k] += np.where(ok, gamma * (alpha - err), 0.0)
        fed[:, k] |= new

    for t in np.unique(origin[start:]):
        group = start + np.flatnonzero(origin[start:] == t)
        for k in range(h):
            # window j's step-k target is known at this origin when it is before the first
            # forecast step t (rows are consecutive, so before t means at or before o_i)
            known = times[:, k] < t
            if rule == "aci":
                feed(k, known)
            q = _rank_statistic(pool(k, known), 1.0 - aci_alpha[k])
            out[group - start, k] = q
    final = np.empty((h, C))
    everything = np.ones(n, dtype=bool)
    for k in range(h):
        if rule == "aci":
            feed(k, everything)
        final[k] = _rank_statistic(pool(k, everything), 1.0 - aci_alpha[k])
    return out, final


def fit_conformal(model: Any, windows: Any, level: float, *, seed: int = 0) -> ConformalCalibration:
    """Split-calibrate ``model``'s central interval of coverage ``level`` on ``windows`` (a
    :class:`~rnnkit.data.forecast_inputs.WindowSet` of validation windows, targets known)."""
    scores, (lo, hi) = window_scores(model, windows, level, seed=seed)
    widen = split_widths(scores, level)
    return ConformalCalibration(level, lo, hi, widen, len(windows))


#: The rule ``calibrate='conformal'`` runs, chosen on both public suites as a whole
#: (docs/forecasting.md, "online conformal calibration").
ADOPTED_RULE = "aci"


def calibrate_online(
    model: Any,
    val: Any,
    test: Any,
    level: float,
    *,
    seed: int = 0,
    rule: str = ADOPTED_RULE,
    gamma: float = ACI_GAMMA,
) -> tuple[ConformalCalibration, ConformalCalibration]:
    """Calibrate ``model``'s interval of coverage ``level`` online over the validation
    windows ``val`` then the backtest windows ``test`` (WindowSets, targets known).

    Returns the per-window calibration of ``test`` (widen (B, h, C), each window's Q̂ from
    the targets observed at its origin) for scoring the backtest, and the final calibration
    (widen (h, C), every window) for the artifact. With a backtest stride above 1 only the
    backtest's own windows join the calibration. ``gamma`` is ACI's step (rule 'aci').
    """
    s_val, (lo, hi) = window_scores(model, val, level, seed=seed)
    s_test, _ = window_scores(model, test, level, seed=seed)
    times = sortable_times(np.concatenate([val.times, test.times]))
    scores = np.concatenate([s_val, s_test])
    per_window, final = online_widths(scores, times, level, start=len(val), rule=rule,
                                      gamma=gamma)
    used = len(val) if rule in ("split", "recent") else len(scores)
    return (
        ConformalCalibration(level, lo, hi, per_window, used, rule),
        ConformalCalibration(level, lo, hi, final, used, rule),
    )
