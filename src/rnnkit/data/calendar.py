"""Calendar features: known-future covariates computed from the time column alone.

Each feature is a position in a cycle, φ ∈ [0, 1), encoded as the pair (sin 2πφ, cos 2πφ) so that
the end of a cycle sits next to its start (December next to January):

* 'hour'      φ = hour / 24
* 'dayofweek' φ = weekday / 7            (Monday = 0)
* 'dayofyear' φ = (day of year − 1) / 365.25
* 'month'     φ = (month − 1) / 12

Because they depend only on the timestamp, they are known for the forecast horizon too (the
forecaster reads them for the future steps it predicts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.data.frequency import Frequency

CALENDAR_FEATURES = ("hour", "dayofweek", "dayofyear", "month")


def auto_calendar(frequency: Frequency) -> list[str]:
    """Features that vary within a cycle at this sampling frequency ('auto')."""
    if not frequency.is_datetime or frequency.kind == "year":
        return []
    if frequency.kind == "month":
        return ["month"] if frequency.n < 12 else []
    if frequency.kind == "business_day":
        return ["dayofweek", "dayofyear"]
    seconds = frequency.n
    if seconds < 86400:
        return ["hour", "dayofweek", "dayofyear"]
    if seconds < 7 * 86400:
        return ["dayofweek", "dayofyear"]
    return ["dayofyear"] if seconds < 365 * 86400 else []


def resolve_calendar(spec: str | Sequence[str], frequency: Frequency) -> list[str]:
    """'auto', 'none', or an explicit list of names from :data:`CALENDAR_FEATURES`."""
    if isinstance(spec, str):
        if spec == "auto":
            return auto_calendar(frequency)
        if spec == "none":
            return []
        spec = [spec]
    names = list(spec)
    for name in names:
        if name not in CALENDAR_FEATURES:
            raise ValueError(
                f"calendar must be 'auto', 'none' or names from {list(CALENDAR_FEATURES)}, "
                f"got {name!r}"
            )
    if names and not frequency.is_datetime:
        raise ValueError(
            f"calendar features {names} need a date/datetime time column, but the time column "
            f"is numeric; use calendar='none'"
        )
    return names


def calendar_features(times: pd.Series | Sequence[Any], names: Sequence[str]) -> np.ndarray:
    """Features of every time. Shapes: times (N,) → (N, 2·len(names)), float32."""
    n = len(times)
    if not names:
        return np.zeros((n, 0), dtype=np.float32)
    t = pd.DatetimeIndex(pd.to_datetime(times))
    columns = []
    for name in names:
        if name == "hour":
            phase = (t.hour + t.minute / 60) / 24
        elif name == "dayofweek":
            phase = t.day_of_week / 7
        elif name == "dayofyear":
            phase = (t.day_of_year - 1) / 365.25
        else:
            phase = (t.month - 1) / 12
        angle = 2 * np.pi * np.asarray(phase, dtype=np.float64)
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=1).astype(np.float32)
