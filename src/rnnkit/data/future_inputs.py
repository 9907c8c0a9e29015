"""The future-known covariates a forecast needs at prediction time, read and checked.

A model trained with ``future_covariates`` (prices, promotions: values known in advance) needs
them for the h steps after the last row of every series it forecasts. They come as a table of
their own — the time column, the series column (for a panel) and the future-known columns, one
row per series and future step — because the history's missing-value policy must never fill a
future value in. Rows beyond the horizon are ignored (they never reach the model); a missing
row or value is refused, naming the series and times.

Legend: h horizon, Pf future-known covariates.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.data.frequency import Frequency
from rnnkit.data.timeseries import _parse_time, check_columns, read_table

#: At most this many missing (series, time) pairs are named in a message.
_SHOWN = 8


def _key(t: Any, frequency: Frequency) -> Any:
    """A time as a comparable key (Timestamp for dates, float for numbers)."""
    return pd.Timestamp(t) if frequency.is_datetime else float(t)


def read_future(
    future: str | os.PathLike[str] | pd.DataFrame | None,
    *,
    columns: list[str],
    time_column: str,
    series_column: str | None,
    frequency: Frequency,
    last_times: Mapping[str, Any],
    horizon: int,
    **file_options: Any,
) -> dict[str, np.ndarray]:
    """Future-known covariate values of every series for the ``horizon`` steps after its last
    time, in data units: series id → (h, Pf) float64.

    Args:
        future: a CSV/Parquet file or a DataFrame with ``time_column``, ``series_column`` (if
            any) and ``columns``; None is refused when ``columns`` is not empty.
        columns: the future-known covariates (Pf names).
        last_times: series id → the time of its last observed row in the history.
        file_options: sep, decimal, encoding, dayfirst, time_format as for the history.

    Raises:
        ValueError: no ``future`` table, a missing column, non-numeric values, or series/steps
            of the horizon without a row or with an empty value (each named, with its time).
    """
    if not columns:
        return {sid: np.zeros((horizon, 0)) for sid in last_times}
    needed = [time_column, *([series_column] if series_column else []), *columns]
    if future is None:
        raise ValueError(
            f"future must give the future-known covariates {columns} for the {horizon} steps "
            f"after the last row of every series (a table with columns {needed}; --future FILE "
            "on the command line), got None"
        )
    if isinstance(future, pd.DataFrame):
        frame = future
    else:
        reading = {k: file_options.get(k) for k in ("sep", "decimal", "encoding")}
        frame = read_table(future, **reading)
    check_columns(frame, "future", needed)
    frame = frame.loc[:, needed].copy()
    frame[time_column] = _parse_time(
        frame[time_column],
        time_column,
        dayfirst=file_options.get("dayfirst"),
        time_format=file_options.get("time_format"),
    )
    for c in columns:
        values = pd.to_numeric(frame[c], errors="coerce")
        bad = values.isna() & frame[c].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"future column {c!r} must be numeric, got {frame[c].iloc[row]!r} at data row "
                f"{row + 1}"
            )
        frame[c] = values.astype(np.float64)
    sids = frame[series_column].astype(str) if series_column else pd.Series([""] * len(frame))
    lookup: dict[tuple[str, Any], np.ndarray] = {}
    for sid, t, row in zip(
        sids, frame[time_column], frame[columns].to_numpy(np.float64), strict=True
    ):
        lookup[(sid, _key(t, frequency))] = row
    out, missing, empty = {}, [], []
    for sid, last in last_times.items():
        rows = []
        for k in range(1, horizon + 1):
            t = frequency.shift(last, k)
            row = lookup.get((sid, _key(t, frequency)))
            name = f"series {sid!r} at {t}" if series_column else f"{t}"
            if row is None:
                missing.append(name)
                row = np.full(len(columns), np.nan)
            elif not np.all(np.isfinite(row)):
                gaps = [c for c, v in zip(columns, row, strict=True) if not np.isfinite(v)]
                empty.append(f"{name} ({', '.join(gaps)})")
            rows.append(row)
        out[sid] = np.stack(rows)
    for what, found in (("has no row for", missing), ("has empty values for", empty)):
        if found:
            shown = "; ".join(found[:_SHOWN]) + (" ..." if len(found) > _SHOWN else "")
            raise ValueError(
                f"future must give {columns} for each of the {horizon} steps after the last row "
                f"of every series, but it {what} {len(found)} of them: {shown}"
            )
    return out
