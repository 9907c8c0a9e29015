"""Time-based splits and sliding windows, with no leakage between splits.

Splits are made by *time*, the same cut points for every series: with U distinct timestamps in
the table, the last ⌊U·test_fraction⌉ of them form the test period, the ⌊U·val_fraction⌉ before
them the validation period, and everything earlier the training period. A window is described by
its *origin* o, the row of its last observed step:

    inputs   rows o − T + 1 … o        (T = input_length)
    targets  rows o + 1 … o + h        (h = horizon)

A window belongs to the split that holds all of its targets. Training windows also keep their
inputs inside the training period; validation and test windows may read inputs from earlier
periods (the past is known at forecast time), never targets from another split. Windows of a
split slide by ``stride`` and are aligned so that the last one ends exactly at the split's last
row: for the test split with stride 1 this is the rolling-origin backtest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.data.frequency import Frequency

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class TimeSplit:
    """Cut points: validation starts at ``val_start``, test at ``test_start`` (times, inclusive).

    ``val_start == test_start`` means there is no validation period.

    ``min_train_rows`` (0: off) is the rule for a panel whose series differ in length: a series
    that would keep fewer training rows than that before ``val_start`` (a short series, or one
    that starts late) is used for training only — all its rows are training rows and it has no
    validation or test period — instead of failing the whole run, because its scaler needs
    training rows to be fit at all. Its rows may then overlap the other series' validation
    and test periods in time; no row of a scored series is trained on.
    """

    val_start: Any
    test_start: Any
    min_train_rows: int = 0

    def rows(self, times: pd.Series | np.ndarray) -> tuple[int, int]:
        """(a, b) for one series sorted by time: train rows [0, a), val [a, b), test [b, N)."""
        t = np.asarray(times)
        a = int(np.searchsorted(t, np.asarray(self.val_start, dtype=t.dtype), side="left"))
        b = int(np.searchsorted(t, np.asarray(self.test_start, dtype=t.dtype), side="left"))
        if self.training_only(a):
            return len(t), len(t)
        return a, b

    def training_only(self, train_rows: int) -> bool:
        """Whether a series with ``train_rows`` rows before ``val_start`` is used for training
        only (see the class docstring)."""
        return train_rows < self.min_train_rows

    def to_dict(self) -> dict[str, Any]:
        d = {"val_start": _jsonable(self.val_start), "test_start": _jsonable(self.test_start)}
        if self.min_train_rows:  # older artifacts have no key and mean 0
            d["min_train_rows"] = self.min_train_rows
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], frequency: Frequency) -> TimeSplit:
        """Inverse of :meth:`to_dict`; ``frequency`` says whether the times are dates."""

        def parse(v: Any) -> Any:
            if frequency.is_datetime:
                return pd.Timestamp(v).to_datetime64()
            return np.float64(v)

        return cls(
            parse(d["val_start"]), parse(d["test_start"]), int(d.get("min_train_rows", 0))
        )


def _jsonable(t: Any) -> Any:
    if isinstance(t, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(t).isoformat()
    return t.item() if isinstance(t, np.generic) else t


def time_split(
    times: pd.Series | np.ndarray,
    val_fraction: float,
    test_fraction: float,
    *,
    min_steps: int = 0,
) -> TimeSplit:
    """Cut points over the distinct values of ``times`` (all series pooled).

    ``min_steps`` (a forecaster's horizon) is the shortest validation and test period: a
    fraction that rounds to fewer timestamps is raised to it — a period shorter than one
    horizon holds no window — as long as the training period stays at least as long as the
    two together (else the fractions are kept, and the window check explains).

    Raises:
        ValueError: fractions outside [0, 1), summing to 1 or more, or a test period of zero
            timestamps.
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must leave rows for training (sum < 1), got "
            f"{val_fraction} + {test_fraction}"
        )
    unique = np.unique(np.asarray(times))
    n_test = round(len(unique) * test_fraction)
    n_val = round(len(unique) * val_fraction)
    raised_test = max(n_test, min_steps) if test_fraction > 0 else n_test
    raised_val = max(n_val, min_steps) if val_fraction > 0 else n_val
    if len(unique) - raised_test - raised_val >= raised_test + raised_val:
        n_test, n_val = raised_test, raised_val
    if test_fraction > 0 and n_test == 0:
        raise ValueError(
            f"test_fraction={test_fraction} of {len(unique)} timestamps leaves no test period; "
            f"raise test_fraction or provide more rows"
        )
    test_start = unique[len(unique) - n_test] if n_test else _after(unique[-1])
    val_start = unique[len(unique) - n_test - n_val] if n_val else test_start
    return TimeSplit(val_start, test_start)


def _after(last: Any) -> Any:
    """A time later than every row (an empty test period)."""
    if isinstance(last, np.datetime64):
        return last + np.timedelta64(1, "ns")
    return np.nextafter(np.float64(last), np.inf)


def window_origins(
    target_start: int,
    target_stop: int,
    input_length: int,
    horizon: int,
    stride: int = 1,
) -> np.ndarray:
    """Origins of the windows whose targets all lie in rows [target_start, target_stop).

    The last window ends exactly at ``target_stop − 1``; earlier ones step back by ``stride``;
    the first origin is the later of ``input_length − 1`` (enough inputs) and
    ``target_start − 1``. Returns an increasing int64 array (possibly empty).
    """
    if stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    last = target_stop - 1 - horizon  # its targets end on row target_stop − 1
    first = max(input_length - 1, target_start - 1)
    if last < first:
        return np.zeros(0, dtype=np.int64)
    return np.arange(last, first - 1, -stride, dtype=np.int64)[::-1].copy()


def split_origins(
    split: str,
    n_rows: int,
    bounds: tuple[int, int],
    input_length: int,
    horizon: int,
    stride: int = 1,
) -> np.ndarray:
    """Window origins of one series for ``split`` in 'train' / 'val' / 'test'.

    ``bounds`` = (a, b) from :meth:`TimeSplit.rows`. Training windows use rows [0, a) only.
    """
    a, b = bounds
    if split == "train":
        return window_origins(0, a, input_length, horizon, stride)
    if split == "val":
        return window_origins(a, b, input_length, horizon, stride)
    if split == "test":
        return window_origins(b, n_rows, input_length, horizon, stride)
    raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")


def gather_windows(
    values: np.ndarray, origins: np.ndarray, input_length: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Slice windows out of one series.

    Shapes: values (N, F), origins (B,) → past (B, T, F) = rows o−T+1…o, future (B, h, F) =
    rows o+1…o+h (rows past N − 1 are NaN, for forecasting beyond the data).
    """
    past_idx = origins[:, None] + np.arange(1 - input_length, 1)[None, :]
    future_idx = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    padded = np.concatenate([values, np.full((horizon, values.shape[1]), np.nan)], axis=0)
    return values[past_idx], padded[np.minimum(future_idx, len(padded) - 1)]
