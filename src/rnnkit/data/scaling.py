"""Per-series scaling of forecasting targets and covariates, fit on training rows only.

A target value y of series s is mapped to the network's units by

    z = (g(y) − loc) / σ_s,      g = identity or log,

and back by y = g⁻¹(z · σ_s + loc). Two normalisations (Hewamalage et al. 2021 find that RNN
forecasters only compete with classical methods when the series are normalised):

* 'series': loc = μ_s, the mean of g(y) over the series' training rows, σ_s their standard
  deviation. Suits bounded, stationary-looking series.
* 'window': loc = g(y) at the window's last observed step (so the network predicts *changes* from
  the forecast origin, and an output of 0 is the naive forecast), σ_s the standard deviation of
  the first differences of g(y) over the training rows (so one step of change is O(1)). Suits
  trending or random-walk-like series, and works for seasonal ones too.
* 'instance': reversible instance normalisation (RevIN, Kim et al. 2022): loc = the mean of g(y)
  over the window's T observed steps and σ = their standard deviation (σ_s of the series when the
  window is flat). Every window reaches the network at level 0 and spread 1, whatever level or
  amplitude the series has reached, and the head's output is mapped back with the window's own
  loc and σ; so a series that trends out of its training range is still forecast in familiar
  units.

Covariates are always standardised per series with their training mean and standard deviation.
The statistics are learned from training rows only, so no validation or test value leaks into
the inputs; they are stored in the model artifact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

NORMALIZATIONS = ("window", "series", "instance")
TRANSFORMS = ("none", "log", "log1p")
_TINY = 1e-8  # a constant column gets σ = 1 rather than a division by zero


def forward_transform(y: np.ndarray, transform: str) -> np.ndarray:
    """g(y): identity, natural log, or log(1 + y) (the caller has checked y > 0 for 'log',
    y >= 0 for 'log1p')."""
    if transform == "log":
        return np.log(y)
    if transform == "log1p":
        return np.log1p(y)
    return np.asarray(y, dtype=np.float64)


def inverse_transform(gy: np.ndarray, transform: str) -> np.ndarray:
    """g⁻¹: identity, exp, or exp − 1."""
    if transform == "log":
        return np.exp(gy)
    if transform == "log1p":
        return np.expm1(gy)
    return gy


@dataclass
class SeriesScaler:
    """Per-series location and scale of C columns, in transformed units.

    Attributes:
        series: series ids, in the order of the rows of ``mean`` and ``scale``.
        mean: (S, C) training mean of g(y).
        scale: (S, C) σ_s (standard deviation of g(y), or of its first differences).
        transform: 'none' or 'log'.
        spread: 'std' or 'diff_std', what ``scale`` measures.
    """

    series: list[str]
    mean: np.ndarray
    scale: np.ndarray
    transform: str = "none"
    spread: str = "std"

    @classmethod
    def fit(
        cls,
        train: Mapping[str, np.ndarray],
        *,
        transform: str = "none",
        spread: str = "std",
    ) -> SeriesScaler:
        """Statistics of each series' training rows ``train[s]`` (N_s, C)."""
        if transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {list(TRANSFORMS)}, got {transform!r}")
        if spread not in ("std", "diff_std"):
            raise ValueError(f"spread must be 'std' or 'diff_std', got {spread!r}")
        means, scales = [], []
        for sid, values in train.items():
            gy = forward_transform(np.asarray(values, dtype=np.float64), transform)
            if len(gy) < 2:
                raise ValueError(
                    f"every series needs at least 2 training rows to fit its scaler, but series "
                    f"{sid!r} has {len(gy)}; lower val_fraction/test_fraction or drop the series"
                )
            spread_of = np.diff(gy, axis=0) if spread == "diff_std" else gy
            sd = spread_of.std(axis=0)
            means.append(gy.mean(axis=0))
            scales.append(np.where(sd > _TINY, sd, 1.0))
        return cls(list(train), np.stack(means), np.stack(scales), transform, spread)

    def index(self, sid: str) -> int:
        """Row of series ``sid``; a series unseen at fit time is refused."""
        try:
            return self.series.index(sid)
        except ValueError:
            shown = ", ".join(repr(s) for s in self.series[:10])
            raise ValueError(
                f"series {sid!r} was not in the training data, so it has no scaler; the model "
                f"knows the series {shown}" + (" ..." if len(self.series) > 10 else "")
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "series": list(self.series),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "transform": self.transform,
            "spread": self.spread,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SeriesScaler:
        return cls(
            series=[str(s) for s in d["series"]],
            mean=np.asarray(d["mean"], dtype=np.float64),
            scale=np.asarray(d["scale"], dtype=np.float64),
            transform=str(d["transform"]),
            spread=str(d["spread"]),
        )


def level_elasticity(y: np.ndarray, block: int) -> float:
    """How the spread of a series grows with its level: the slope β of log(sd_b) on log(mean_b)
    over consecutive blocks b of ``block`` rows (sd of the first differences inside the block,
    so a trend does not count as spread). β ≈ 0: additive changes (spread independent of the
    level); β ≈ 1: multiplicative (spread proportional to the level, which a log makes constant).

    Shapes: y (N,) positive values. Returns NaN when fewer than 4 blocks have a positive spread
    or the block means do not vary.
    """
    y = np.asarray(y, dtype=np.float64)
    k = len(y) // block
    if k < 4 or block < 2:
        return float("nan")
    blocks = y[len(y) - k * block :].reshape(k, block)  # the most recent whole blocks
    mean = blocks.mean(axis=1)
    sd = np.diff(blocks, axis=1).std(axis=1)
    keep = (sd > 0) & (mean > 0)
    if keep.sum() < 4:
        return float("nan")
    x, v = np.log(mean[keep]), np.log(sd[keep])
    if np.ptp(x) < 1e-6:
        return float("nan")
    return float(np.polyfit(x, v, 1)[0])


#: The automatic transform takes the log when the spread grows at least this fast with the level
#: (β ≥ 0.5: closer to multiplicative than to additive) and the level moved by this factor.
LOG_ELASTICITY = 0.5
LOG_LEVEL_RATIO = 1.5


def choose_transform(
    train: Mapping[str, np.ndarray],
    all_positive: bool,
    season: int,
    all_nonnegative: bool = False,
) -> dict:
    """The automatic target transform ('log', 'log1p' or 'none') and why, from training rows
    only.

    'log' when every target value is positive (``all_positive``; 'log1p', g(y) = log(1 + y),
    when some are zero but none negative, ``all_nonnegative``: one month without tourists
    should not cost a whole panel its multiplicative scale), the median elasticity β of
    the spread to the level (:func:`level_elasticity`, blocks of one season, or of a tenth of
    the rows for m < 4) is at least :data:`LOG_ELASTICITY`, and the block levels span a factor
    of at least :data:`LOG_LEVEL_RATIO` (without a level change there is nothing to learn the
    slope from). ``train[s]``: (N_s, C) training rows of series s.

    Returns ``{'transform', 'elasticity', 'level_ratio', 'reason'}`` for the data report.
    """
    betas, ratios = [], []
    for values in train.values():
        values = np.asarray(values, dtype=np.float64)
        n = len(values)
        block = season if season >= 4 else max(5, n // 10)
        for j in range(values.shape[1]):
            beta = level_elasticity(values[:, j], block)
            if np.isfinite(beta):
                betas.append(beta)
                k = n // block
                means = values[n - k * block :, j].reshape(k, block).mean(axis=1)
                if means.min() > 0:
                    ratios.append(float(means.max() / means.min()))
    beta = float(np.median(betas)) if betas else float("nan")
    ratio = float(np.median(ratios)) if ratios else float("nan")
    if not all_positive and not all_nonnegative:
        return {"transform": "none", "elasticity": beta, "level_ratio": ratio,
                "reason": "some target values are negative"}
    if not np.isfinite(beta):
        return {"transform": "none", "elasticity": beta, "level_ratio": ratio,
                "reason": "too few training rows to measure how the spread follows the level"}
    if beta >= LOG_ELASTICITY and ratio >= LOG_LEVEL_RATIO:
        log = "log" if all_positive else "log1p"
        zero = "" if all_positive else "; some values are 0, so log(1 + y)"
        return {"transform": log, "elasticity": beta, "level_ratio": ratio,
                "reason": f"the spread grows with the level (elasticity {beta:.2f} >= "
                f"{LOG_ELASTICITY}, level ratio {ratio:.2f} >= {LOG_LEVEL_RATIO}){zero}"}
    return {"transform": "none", "elasticity": beta, "level_ratio": ratio,
            "reason": f"the spread does not grow with the level enough (elasticity {beta:.2f}, "
            f"level ratio {ratio:.2f}; log needs >= {LOG_ELASTICITY} and >= {LOG_LEVEL_RATIO})"}


def check_positive(
    values: np.ndarray, columns: Sequence[str], what: str, transform: str = "log"
) -> None:
    """For transform='log': every value must be > 0; for 'log1p', >= 0 (names the first that
    is not). Other transforms accept anything."""
    if transform not in ("log", "log1p"):
        return
    bad = ~(values > 0) if transform == "log" else ~(values >= 0)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        need = "positive" if transform == "log" else "non-negative"
        raise ValueError(
            f"transform={transform!r} needs {need} targets, but column {columns[col]!r} has "
            f"{float(values[row, col])!r} in {what} (row {row + 1}); use transform='none'"
        )
