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

Covariates are always standardised per series with their training mean and standard deviation.
The statistics are learned from training rows only, so no validation or test value leaks into
the inputs; they are stored in the model artifact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

NORMALIZATIONS = ("window", "series")
TRANSFORMS = ("none", "log")
_TINY = 1e-8  # a constant column gets σ = 1 rather than a division by zero


def forward_transform(y: np.ndarray, transform: str) -> np.ndarray:
    """g(y): identity or natural log (the caller has checked y > 0 for 'log')."""
    return np.log(y) if transform == "log" else np.asarray(y, dtype=np.float64)


def inverse_transform(gy: np.ndarray, transform: str) -> np.ndarray:
    """g⁻¹: identity or exp."""
    return np.exp(gy) if transform == "log" else gy


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


def check_positive(values: np.ndarray, columns: Sequence[str], what: str) -> None:
    """For transform='log': every value must be > 0 (names the first that is not)."""
    bad = ~(values > 0)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"transform='log' needs positive targets, but column {columns[col]!r} has "
            f"{float(values[row, col])!r} in {what} (row {row + 1}); use transform='none'"
        )
