"""Sampling frequency of a time column: inferred from the data, used to count steps and to step
into the future.

A :class:`Frequency` maps times to *step numbers* relative to an anchor time (the first time of a
series): consecutive rows of a regular series are one step apart, a gap of k missing steps shows
as a jump of k + 1, and a time off the grid gets a fractional step number. The same object moves
a time k steps forward, which gives the timestamps of the forecast horizon.

Kinds: 'business_day' (Mon–Fri), 'timedelta' (a fixed duration: hours, days, weeks...),
'month' (n calendar months), 'year' (n calendar years), 'number' (a numeric time column, e.g.
years as integers, step n).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("business_day", "timedelta", "month", "year", "number")


@dataclass(frozen=True)
class Frequency:
    """A sampling grid. ``n`` is the step: seconds for 'timedelta', a count of days / months /
    years for the calendar kinds, the numeric step for 'number'."""

    kind: str
    n: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"frequency kind must be one of {list(KINDS)}, got {self.kind!r}")
        if not self.n > 0:
            raise ValueError(f"frequency step must be positive, got {self.n!r}")

    @property
    def label(self) -> str:
        """Human-readable, e.g. '1 day', 'business day', '1 month', 'step 1'."""
        if self.kind == "business_day":
            return "business day" if self.n == 1 else f"{self.n:g} business days"
        if self.kind == "number":
            return f"step {self.n:g}"
        if self.kind in ("month", "year"):
            return f"{self.n:g} {self.kind}" + ("s" if self.n != 1 else "")
        seconds = self.n
        for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
            if seconds % size == 0:
                k = seconds / size
                return f"{k:g} {unit}" + ("s" if k != 1 else "")
        return f"{seconds:g} seconds"

    @property
    def is_datetime(self) -> bool:
        return self.kind != "number"

    def to_steps(self, times: pd.Series | Sequence[Any], anchor: Any) -> np.ndarray:
        """Step number of every time relative to ``anchor`` (float; whole numbers on the grid).

        Shapes: times (N,) → (N,).
        """
        if self.kind == "number":
            t = np.asarray(times, dtype=np.float64)
            return (t - float(anchor)) / self.n
        t = pd.DatetimeIndex(pd.to_datetime(times))
        a = pd.Timestamp(anchor)
        if self.kind == "timedelta":
            return ((t - a) / pd.Timedelta(seconds=self.n)).to_numpy(np.float64)
        # Calendar kinds: a whole number of units when the finer parts match the anchor's.
        if self.kind == "business_day":
            days = t.normalize().to_numpy().astype("datetime64[D]")
            whole = np.busday_count(np.datetime64(a.normalize().date()), days).astype(np.float64)
            off = ~np.is_busday(days) | (t - t.normalize() != a - a.normalize())
        elif self.kind == "month":
            whole = ((t.year - a.year) * 12 + (t.month - a.month)).to_numpy(np.float64)
            off = ~_same_day_of_month(t, a) | (t - t.normalize() != a - a.normalize())
        else:  # year
            whole = (t.year - a.year).to_numpy(np.float64)
            off = (t.month != a.month) | ~_same_day_of_month(t, a)
            off = np.asarray(off) | np.asarray(t - t.normalize() != a - a.normalize())
        # Off-grid times get half a step so that they show as irregular.
        return (whole + 0.5 * np.asarray(off, dtype=np.float64)) / self.n

    def shift(self, time: Any, k: int) -> Any:
        """``time`` moved ``k`` steps along the grid (k may be negative)."""
        if self.kind == "number":
            value = float(time) + k * self.n
            return int(value) if value.is_integer() else value
        t = pd.Timestamp(time)
        if self.kind == "timedelta":
            return t + k * pd.Timedelta(seconds=self.n)
        steps = round(k * self.n)
        if self.kind == "business_day":
            day = np.busday_offset(np.datetime64(t.normalize().date()), steps, roll="forward")
            return pd.Timestamp(day) + (t - t.normalize())
        if self.kind == "month":
            if t.is_month_end and t.day != 1:
                return t + pd.offsets.MonthEnd(steps) if steps else t
            return t + pd.DateOffset(months=steps)
        return t + pd.DateOffset(years=steps)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Frequency:
        return cls(kind=str(d["kind"]), n=float(d["n"]))


def _same_day_of_month(t: pd.DatetimeIndex, a: pd.Timestamp) -> np.ndarray:
    # Month-end series (Jan 31, Feb 28, ...) are regular although the day number changes.
    same = np.asarray(t.day == a.day)
    if a.is_month_end:
        same |= np.asarray(t.is_month_end)
    return same


def infer_frequency(series_times: Sequence[pd.Series]) -> Frequency:
    """The most common spacing over all series (median of the positive differences).

    A daily spacing with no Saturday or Sunday anywhere becomes 'business_day' (stock prices);
    spacings of 28–31 days become 'month', 89–92 days '3 months', 365–366 days 'year'.
    A single row gives step 1 (of a day for dates).
    """
    first = series_times[0]
    numeric = not pd.api.types.is_datetime64_any_dtype(first)
    diffs = []
    for times in series_times:
        if numeric:
            d = np.diff(np.asarray(times, dtype=np.float64))
        else:
            d = np.diff(pd.DatetimeIndex(times).as_unit("ns").asi8) / 1e9  # seconds
        diffs.append(d[d > 0])
    pooled = np.concatenate(diffs) if diffs else np.array([])
    if numeric:
        step = float(np.median(pooled)) if pooled.size else 1.0
        return Frequency("number", step)
    if pooled.size == 0:
        return Frequency("timedelta", 86400.0)
    seconds = float(np.median(pooled))
    days = seconds / 86400
    if seconds == 86400:
        dates = pd.DatetimeIndex(pd.concat(list(series_times)))
        if len(dates) >= 10 and not (dates.day_of_week >= 5).any():
            return Frequency("business_day", 1)
        return Frequency("timedelta", seconds)
    if 28 <= days <= 31:
        return Frequency("month", 1)
    if 89 <= days <= 92:
        return Frequency("month", 3)
    if 365 <= days <= 366:
        return Frequency("year", 1)
    return Frequency("timedelta", seconds)


#: Seasons of a few fixed durations (seconds → period m in steps): a week of days, a year of
#: weeks. Sub-daily steps that divide a day get the daily cycle (hourly: 24).
_DAY, _WEEK = 86400.0, 604800.0


def season_length_for(frequency: Frequency, rows: int) -> tuple[int, str]:
    """The seasonal period m a frequency suggests, and why (for the report).

    Monthly 12, quarterly 4, daily 7, business days 5, weekly 52, hourly 24 (any sub-daily step
    that divides a day: steps per day), yearly and numeric time columns 1. A period is used only
    when ``rows`` (the training rows of the shortest series) hold at least two whole seasons,
    else m = 1: seasonal naive and MASE's scale need a season of history, and one season is too
    little to tell a cycle from noise.
    """
    m, why = 1, f"no seasonal period for a {frequency.label} frequency"
    if frequency.kind == "month" and frequency.n in (1, 3):
        m = 12 if frequency.n == 1 else 4
        why = "monthly: 12 months a year" if m == 12 else "quarterly: 4 quarters a year"
    elif frequency.kind == "business_day" and frequency.n == 1:
        m, why = 5, "business days: 5 a week"
    elif frequency.kind == "timedelta":
        if frequency.n == _DAY:
            m, why = 7, "daily: 7 days a week"
        elif frequency.n == _WEEK:
            m, why = 52, "weekly: 52 weeks a year"
        elif frequency.n < _DAY and (_DAY / frequency.n).is_integer():
            m = int(_DAY / frequency.n)
            why = f"{frequency.label} steps: {m} a day"
    if m > 1 and rows < 2 * m:
        return 1, f"{why}, but the training period has {rows} rows (< 2 seasons): m = 1"
    return m, why
