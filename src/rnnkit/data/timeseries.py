"""Reading and checking time-series tables (CSV / Parquet / DataFrame) for forecasting.

A forecasting table is in *long* format: one row per (series, time step), with

* a time column (dates, datetimes, or plain numbers such as years),
* one or more target columns (what to forecast),
* optionally a series-id column (several series in one file, trained as one global model),
* optionally past-covariate columns (observed up to the forecast origin only).

:func:`load_series_table` turns such a table into a :class:`SeriesTable`: columns checked (a
misspelt name gets the closest real one suggested), values checked to be numeric (the first bad
row and column are named), rows sorted per series, duplicate timestamps refused, missing values
(NaN/Inf) refused or dropped/filled on request, the sampling frequency inferred, and gaps and
irregular timestamps detected and reported in a :class:`QualityReport`.

Every bad input raises ``ValueError`` with one paragraph naming the argument, what was expected
and what arrived, so that the command line can show it without a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.core.checks import check_choice
from rnnkit.core.suggest import did_you_mean
from rnnkit.data.csv_dialect import DateOrderError, parse_dates, read_csv
from rnnkit.data.frequency import Frequency, infer_frequency

MISSING_POLICIES = ("error", "drop", "ffill", "interpolate")
GAP_POLICIES = ("keep", "fill")
_EXAMPLES = 5  # how many offending locations an error message or report lists


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------


def read_table(
    path: str | os.PathLike[str],
    *,
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """Read a CSV (``.csv``, ``.csv.gz``, ``.txt``, ``.tsv``) or Parquet (``.parquet``, ``.pq``)
    file. A CSV's separator, decimal mark and encoding are detected where not given
    (:mod:`rnnkit.data.csv_dialect`); what was detected is appended to ``notes``.

    Raises:
        ValueError: the file does not exist, has an unknown extension, cannot be parsed, or has
            no data rows; Parquet without ``pyarrow`` or ``fastparquet`` installed.
    """
    p = Path(path)
    if not p.is_file():
        where = "a folder, not a file" if p.is_dir() else "no such file"
        raise ValueError(f"data must be an existing CSV or Parquet file, got {str(p)!r} ({where})")
    name = p.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            frame = _read_parquet(p)
        elif name.endswith((".csv", ".txt", ".tsv")):
            if name.endswith(".tsv") and sep is None:
                sep = "\t"
            frame, dialect = read_csv(p, sep=sep, decimal=decimal, encoding=encoding)
            if notes is not None:
                notes.extend(dialect.notes)
        elif name.endswith((".csv.gz", ".tsv.gz")):  # compressed: no sniffing, given or default
            default = "\t" if name.endswith(".tsv.gz") else ","
            frame = pd.read_csv(
                p, sep=sep or default, decimal=decimal or ".", encoding=encoding or "utf-8"
            )
        else:
            raise ValueError(
                f"data must be a file ending in .csv, .csv.gz, .tsv or .parquet, got {str(p)!r}"
            )
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"data must be a CSV file with a header and rows, got an empty file {str(p)!r}"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(
            f"data must be a readable CSV file, but {str(p)!r} could not be parsed: {err}"
        ) from None
    if len(frame) == 0:
        raise ValueError(
            f"data must have at least one data row, got {str(p)!r} with a header "
            f"({', '.join(map(str, frame.columns))}) and no rows"
        )
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except ImportError as err:
        raise ValueError(
            f"data {str(path)!r} is a Parquet file, which needs the package 'pyarrow' (or "
            f"'fastparquet'): install it with pip install pyarrow, or convert the file to CSV "
            f"({err})"
        ) from None
    except Exception as err:  # pyarrow raises its own types for corrupt files
        raise ValueError(
            f"data must be a readable Parquet file, but {str(path)!r} could not be read: {err}"
        ) from None


# --------------------------------------------------------------------------------------------
# Quality report
# --------------------------------------------------------------------------------------------


@dataclass
class SeriesQuality:
    """What the checks found in one series.

    Attributes:
        series: the series id ('' for a single-series table).
        rows: rows after missing-value handling and gap filling.
        start, end: first and last time, as text.
        missing_steps: time steps absent from the table (summed over all gaps).
        gaps: up to five examples, each (last time before the gap, first time after it,
            missing steps).
        irregular: rows whose time is not a whole number of steps after the previous one.
        irregular_examples: up to five such times.
        filled_steps: time steps inserted by ``gaps='fill'``.
    """

    series: str
    rows: int
    start: str
    end: str
    missing_steps: int = 0
    gaps: list[tuple[str, str, int]] = field(default_factory=list)
    irregular: int = 0
    irregular_examples: list[str] = field(default_factory=list)
    filled_steps: int = 0


@dataclass
class QualityReport:
    """Findings of :func:`load_series_table`, for people (``lines``) and files (``to_dict``)."""

    frequency: str
    series: list[SeriesQuality]
    missing_policy: str
    gap_policy: str
    missing_values: dict[str, int] = field(default_factory=dict)  # column -> NaN/Inf handled
    dropped_rows: int = 0
    reordered: bool = False
    reading: list[str] = field(default_factory=list)  # how the file was read, if detected

    @property
    def missing_steps(self) -> int:
        return sum(s.missing_steps for s in self.series)

    @property
    def irregular(self) -> int:
        return sum(s.irregular for s in self.series)

    def lines(self) -> list[str]:
        """A short human-readable account, one finding per line."""
        n_rows = sum(s.rows for s in self.series)
        out = [f"{len(self.series)} series, {n_rows} rows, frequency {self.frequency}"]
        out += self.reading
        if self.reordered:
            out.append("rows were not in time order; sorted by series and time")
        for column, count in self.missing_values.items():
            out.append(
                f"{count} NaN/Inf value(s) in {column!r} "
                f"handled with missing={self.missing_policy!r}"
            )
        if self.dropped_rows:
            out.append(f"{self.dropped_rows} row(s) dropped")
        if len(self.series) > 3:  # many series: totals, with examples from the first ones
            with_gaps = [s for s in self.series if s.missing_steps]
            if with_gaps:
                examples = ", ".join(
                    f"{s.series!r} {a} → {b}" for s in with_gaps[:2] for a, b, _ in s.gaps[:1]
                )
                filled = sum(s.filled_steps for s in self.series)
                action = f"{filled} filled" if filled else "kept as consecutive steps"
                out.append(
                    f"{self.missing_steps} missing time step(s) in gaps in {len(with_gaps)} "
                    f"series ({action}), e.g. {examples}"
                )
            irregular = [s for s in self.series if s.irregular]
            if irregular:
                out.append(
                    f"{self.irregular} irregular timestamp(s) off the {self.frequency} grid in "
                    f"{len(irregular)} series, e.g. {irregular[0].irregular_examples[0]}"
                )
            return out
        for s in self.series:
            name = f"series {s.series!r}: " if s.series else ""
            if s.missing_steps:
                examples = ", ".join(f"{a} → {b} ({k} missing)" for a, b, k in s.gaps[:3])
                action = (
                    f"filled {s.filled_steps} by linear interpolation"
                    if s.filled_steps
                    else "kept as consecutive steps"
                )
                out.append(
                    f"{name}{s.missing_steps} missing time step(s) in gaps ({action}), "
                    f"e.g. {examples}"
                )
            if s.irregular:
                out.append(
                    f"{name}{s.irregular} irregular timestamp(s) off the {self.frequency} grid, "
                    f"e.g. {', '.join(s.irregular_examples[:3])}"
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "frequency": self.frequency,
            "missing_policy": self.missing_policy,
            "gap_policy": self.gap_policy,
            "missing_values": dict(self.missing_values),
            "dropped_rows": self.dropped_rows,
            "reordered": self.reordered,
            "reading": list(self.reading),
            "missing_steps": self.missing_steps,
            "irregular": self.irregular,
            "series": [asdict(s) for s in self.series],
        }


# --------------------------------------------------------------------------------------------
# The checked table
# --------------------------------------------------------------------------------------------


@dataclass
class SeriesTable:
    """A checked long-format table, sorted by (series, time), index 0..N−1.

    Attributes:
        frame: the data; the time column holds ``datetime64`` or numbers, the series column
            strings, targets and covariates float64 with no NaN/Inf.
        time_column: name of the time column.
        targets: target column names (C of them).
        covariates: past-covariate column names (P of them).
        series_column: name of the series-id column, or None for a single series.
        frequency: the inferred sampling frequency.
        report: what the checks found.
    """

    frame: pd.DataFrame
    time_column: str
    targets: list[str]
    covariates: list[str]
    series_column: str | None
    frequency: Frequency
    report: QualityReport

    @property
    def series_ids(self) -> list[str]:
        """Series ids in table order ('' for a single-series table)."""
        if self.series_column is None:
            return [""]
        return list(dict.fromkeys(self.frame[self.series_column]))

    def series_slices(self) -> dict[str, slice]:
        """Row range of every series in :attr:`frame`."""
        return _groups(self.frame, self.series_column)


def check_columns(frame: pd.DataFrame, argument: str, names: Sequence[str]) -> None:
    """Every name in ``names`` must be a column of ``frame``; the error suggests the closest."""
    columns = [str(c) for c in frame.columns]
    # Read with ',' but written with ';': the whole header is one column's name.
    one = len(columns) == 1 and ";" in columns[0]
    hint = " (the file looks ';'-separated, not ','-separated)" if one else ""
    for name in names:
        if name not in columns:
            raise ValueError(
                f"{argument} must name columns of the data, but {name!r} is not one"
                f"{did_you_mean(name, columns)}; the columns are: {', '.join(columns)}{hint}"
            )


def load_series_table(
    data: str | os.PathLike[str] | pd.DataFrame,
    *,
    time_column: str,
    targets: Sequence[str],
    series_column: str | None = None,
    covariates: Sequence[str] = (),
    missing: str = "error",
    gaps: str = "keep",
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    dayfirst: bool | None = None,
    time_format: str | None = None,
    missing_advice: str | None = None,
) -> SeriesTable:
    """Read and check a forecasting table.

    Args:
        data: a CSV/Parquet path or a DataFrame (not modified).
        time_column: dates/datetimes (any format pandas parses) or numbers (e.g. years).
        targets: columns to forecast (at least one).
        series_column: column telling series apart, or None for a single series.
        covariates: numeric columns known up to the forecast origin (past covariates).
        missing: what to do with NaN/Inf in targets and covariates: 'error' (default: refuse,
            naming where), 'drop' (drop those rows), 'ffill' (carry the last value forward,
            the first values backward), 'interpolate' (linear in row order within each series).
        gaps: 'keep' (default: rows stay consecutive steps; gaps are only reported) or 'fill'
            (insert the missing time steps, values linearly interpolated).
        sep, decimal, encoding: how a CSV file is written (None: detected, and said in the
            report).
        dayfirst, time_format: how dates like ``03.01.2024`` read (None: from the data; an
            error names both readings when every date reads both ways).
        missing_advice: what a NaN/Inf message advises (None: the ``missing`` options, for
            training; prediction, which has the model's own policy, says something else).

    Raises:
        ValueError: a missing column, non-numeric values, unparseable or missing times,
            duplicate timestamps within a series, NaN/Inf with ``missing='error'``, or a bad
            option; the message names the argument, the expected and the received.
    """
    check_choice("missing", missing, MISSING_POLICIES)
    check_choice("gaps", gaps, GAP_POLICIES)
    targets, covariates = list(targets), list(covariates)
    if not targets:
        raise ValueError("targets must name at least one column to forecast, got none")
    reading: list[str] = []
    if isinstance(data, pd.DataFrame):
        frame = data
    else:
        frame = read_table(data, sep=sep, decimal=decimal, encoding=encoding, notes=reading)
    if len(frame) == 0:
        raise ValueError("data must have at least one row, got an empty table")
    check_columns(frame, "time_column", [time_column])
    check_columns(frame, "targets", targets)
    check_columns(frame, "covariates", covariates)
    if series_column is not None:
        check_columns(frame, "series_column", [series_column])
    _check_roles(time_column, targets, covariates, series_column)

    keep = [time_column, *([series_column] if series_column else []), *targets, *covariates]
    frame = frame.loc[:, keep].copy()
    frame.index = pd.RangeIndex(len(frame))  # row numbers in messages are data rows, 1-based
    frame[time_column] = _parse_time(
        frame[time_column], time_column, dayfirst=dayfirst, time_format=time_format, notes=reading
    )
    for column in [*targets, *covariates]:
        frame[column] = _to_numeric(frame[column], column)
    if series_column is not None:
        ids = frame[series_column]
        if ids.isna().any():
            row = int(np.flatnonzero(ids.isna().to_numpy())[0]) + 1
            raise ValueError(
                f"series_column {series_column!r} must have an id on every row, got an empty "
                f"value at data row {row}"
            )
        frame[series_column] = ids.astype(str)

    sort_by = [series_column, time_column] if series_column else [time_column]
    ordered = frame.sort_values(sort_by, kind="stable")
    reordered = not ordered.index.equals(frame.index)
    _check_duplicates(ordered, time_column, series_column)

    report = QualityReport(
        frequency="",
        series=[],
        missing_policy=missing,
        gap_policy=gaps,
        reordered=reordered,
        reading=reading,
    )
    values = [*targets, *covariates]
    ordered = _handle_missing(ordered, values, series_column, missing, report, missing_advice)
    if len(ordered) == 0:
        raise ValueError(
            "data must keep at least one row after dropping rows with NaN/Inf, got none left"
        )
    ordered = ordered.reset_index(drop=True)

    groups = _groups(ordered, series_column)
    frequency = infer_frequency([ordered[time_column].iloc[s] for s in groups.values()])
    report.frequency = frequency.label
    pieces = []
    for sid, rows in groups.items():
        part = ordered.iloc[rows]
        quality, part = _check_grid(part, time_column, values, frequency, sid, gaps)
        report.series.append(quality)
        pieces.append(part)
    frame = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
    frame = frame.reset_index(drop=True)
    return SeriesTable(frame, time_column, targets, covariates, series_column, frequency, report)


def _check_roles(
    time_column: str, targets: list[str], covariates: list[str], series_column: str | None
) -> None:
    roles: dict[str, str] = {}
    for role, names in (
        ("time_column", [time_column]),
        ("series_column", [series_column] if series_column else []),
        ("targets", targets),
        ("covariates", covariates),
    ):
        for name in names:
            if name in roles:
                other = roles[name]
                where = f"both {other} and {role}" if other != role else f"{role} twice"
                raise ValueError(f"each column may play one role, but {name!r} is given as {where}")
            roles[name] = role


def _parse_time(
    column: pd.Series,
    name: str,
    *,
    dayfirst: bool | None = None,
    time_format: str | None = None,
    notes: list[str] | None = None,
) -> pd.Series:
    """Numbers stay numbers (e.g. years); anything else must parse as dates, in the day/month
    order the data shows (:func:`rnnkit.data.csv_dialect.parse_dates`)."""
    missing = column.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)[:_EXAMPLES] + 1
        raise ValueError(
            f"time_column {name!r} must have a time on every row, got empty values at data "
            f"row(s) {', '.join(map(str, rows))}"
        )
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        if column.dtype.kind == "f":
            infinite = ~np.isfinite(column.to_numpy(dtype=np.float64))
            if infinite.any():
                row = int(np.flatnonzero(infinite)[0])
                raise ValueError(
                    f"time_column {name!r} must hold finite times, but data row {row + 1} has "
                    f"{column.iloc[row]!r}"
                )
            return column.astype(np.float64)
        return column.astype(np.int64)
    try:
        if pd.api.types.is_datetime64_any_dtype(column):
            parsed = column
        else:
            parsed, note = parse_dates(column, name, dayfirst=dayfirst, time_format=time_format)
            if note is not None and notes is not None:
                notes.append(note)
        if not pd.api.types.is_datetime64_any_dtype(parsed):  # e.g. naive and zoned times
            raise ValueError(f"parsed as {parsed.dtype}, not as one datetime type")
        # The rest of rnnkit works in nanoseconds; pandas may have parsed year 1 in seconds.
        parsed = parsed.dt.as_unit("ns")
    except DateOrderError:
        raise  # its own message: the day/month order of the dates
    except (pd.errors.OutOfBoundsDatetime, OverflowError) as err:
        # errors='coerce' does not cover dates outside pandas' range (years 1677-2262).
        raise ValueError(
            f"time_column {name!r} must hold dates between 1677 and 2262 (pandas' range), "
            f"got {err}"
        ) from err
    except ValueError as err:  # e.g. times in several time zones, which have no one axis
        raise ValueError(
            f"time_column {name!r} must hold dates on one time axis (one time zone or none), "
            f"got {str(err).split('. ')[0]}"
        ) from err
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"time_column {name!r} must hold dates, datetimes or numbers, but data row "
            f"{row + 1} has {column.iloc[row]!r}, which is not a date"
            + (f" ({int(bad.sum())} such rows in all)" if bad.sum() > 1 else "")
        )
    return parsed


def _to_numeric(column: pd.Series, name: str) -> pd.Series:
    """Numbers as float64; text that is not a number is refused with its row (NaN passes)."""
    if pd.api.types.is_bool_dtype(column):
        return column.astype(np.float64)
    if pd.api.types.is_numeric_dtype(column):
        return column.astype(np.float64)
    converted = pd.to_numeric(column, errors="coerce")
    # Text spellings of missing values count as missing, not as non-numeric.
    text = column.astype(str).str.strip().str.lower()
    spelled_missing = text.isin(["", "nan", "na", "n/a", "null", "none", "inf", "-inf"])
    bad = (converted.isna() & column.notna() & ~spelled_missing).to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        examples = ", ".join(f"row {r + 1}: {column.iloc[r]!r}" for r in rows[:_EXAMPLES])
        raise ValueError(
            f"column {name!r} must hold numbers, but {len(rows)} value(s) are not numeric "
            f"({examples}); fix or remove those rows"
        )
    converted = converted.astype(np.float64)
    converted[text.isin(["inf"]).to_numpy()] = np.inf
    converted[text.isin(["-inf"]).to_numpy()] = -np.inf
    return converted


def _check_duplicates(frame: pd.DataFrame, time_column: str, series_column: str | None) -> None:
    keys = [series_column, time_column] if series_column else [time_column]
    dup = frame.duplicated(keys, keep=False).to_numpy()
    if dup.any():
        rows = frame.index.to_numpy()[dup][:_EXAMPLES] + 1
        first = frame[dup].iloc[0]
        where = f" in series {first[series_column]!r}" if series_column else ""
        raise ValueError(
            f"time_column {time_column!r} must not repeat a time within a series, but "
            f"{int(dup.sum())} rows share timestamps{where} (e.g. {first[time_column]} at data "
            f"rows {', '.join(map(str, rows))}); aggregate or remove the duplicates"
            + (
                ""
                if series_column
                else ", or name the series_column if the file holds several series"
            )
        )


def _handle_missing(
    frame: pd.DataFrame,
    columns: list[str],
    series_column: str | None,
    policy: str,
    report: QualityReport,
    advice: str | None = None,
) -> pd.DataFrame:
    values = frame[columns].to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if not bad.any():
        return frame
    if policy == "error":
        rows, cols = np.nonzero(bad)
        order = np.argsort(frame.index.to_numpy()[rows], kind="stable")[:_EXAMPLES]
        examples = ", ".join(
            f"row {frame.index[rows[i]] + 1} column {columns[cols[i]]!r} "
            f"({'NaN' if np.isnan(values[rows[i], cols[i]]) else 'Inf'})"
            for i in order
        )
        raise ValueError(
            f"targets and covariates must be finite numbers, but {int(bad.sum())} value(s) "
            f"are NaN or Inf ({examples}); "
            + (advice or "pass missing='drop' to drop those rows, or missing='ffill' / "
               "'interpolate' to fill them")
        )
    report.missing_values = {
        c: int(bad[:, j].sum()) for j, c in enumerate(columns) if bad[:, j].any()
    }
    frame = frame.copy()
    if policy == "drop":
        keep = ~bad.any(axis=1)
        report.dropped_rows = int((~keep).sum())
        return frame[keep]
    frame[columns] = np.where(bad, np.nan, values)
    groups = frame.groupby(series_column, sort=False) if series_column else None
    for column in columns:
        if policy == "ffill":
            col = groups[column].ffill() if groups is not None else frame[column].ffill()
        else:
            col = (
                groups[column].transform(lambda s: s.interpolate(limit_direction="both"))
                if groups is not None
                else frame[column].interpolate(limit_direction="both")
            )
        frame[column] = col
    # What is still missing sits at the start of a series (ffill) or is a whole empty series.
    if groups is not None:
        frame[columns] = frame.groupby(series_column, sort=False)[columns].bfill()
    else:
        frame[columns] = frame[columns].bfill()
    still = ~np.isfinite(frame[columns].to_numpy(np.float64))
    if still.any():
        row = int(frame.index[np.nonzero(still)[0][0]]) + 1
        raise ValueError(
            f"targets and covariates must be fillable, but column "
            f"{columns[int(np.nonzero(still)[1][0])]!r} has no finite value at all in the "
            f"series of data row {row}; "
            + (advice or "drop that series or pass missing='drop'")
        )
    return frame


def _groups(frame: pd.DataFrame, series_column: str | None) -> dict[str, slice]:
    if series_column is None:
        return {"": slice(0, len(frame))}
    ids = frame[series_column].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    return {str(ids[a]): slice(int(a), int(b)) for a, b in zip(starts, ends, strict=True)}


def _check_grid(
    part: pd.DataFrame,
    time_column: str,
    values: list[str],
    frequency: Frequency,
    sid: str,
    gaps: str,
) -> tuple[SeriesQuality, pd.DataFrame]:
    """Gaps and irregular timestamps of one series; with ``gaps='fill'`` the filled series."""
    times = part[time_column]
    steps = frequency.to_steps(times, anchor=times.iloc[0])
    whole = np.isclose(steps, np.round(steps), atol=1e-6)
    diffs = np.diff(np.round(steps))
    gap_at = np.flatnonzero((diffs > 1) & whole[1:] & whole[:-1])
    quality = SeriesQuality(
        series=sid,
        rows=len(part),
        start=_fmt(times.iloc[0]),
        end=_fmt(times.iloc[-1]),
        missing_steps=int((diffs[gap_at] - 1).sum()),
        gaps=[
            (_fmt(times.iloc[i]), _fmt(times.iloc[i + 1]), int(diffs[i] - 1))
            for i in gap_at[:_EXAMPLES]
        ],
        irregular=int((~whole).sum()),
        irregular_examples=[_fmt(t) for t in times[~whole].iloc[:_EXAMPLES]],
    )
    if gaps == "fill" and quality.irregular:
        raise ValueError(
            f"gaps='fill' needs timestamps on the inferred {frequency.label} grid, but series "
            f"{sid!r} has {quality.irregular} off it (e.g. {quality.irregular_examples[0]}); "
            f"resample the data first, or use gaps='keep'"
        )
    if gaps == "fill" and quality.missing_steps:
        index = np.round(steps).astype(np.int64)
        full = np.arange(index[0], index[-1] + 1)
        filled = pd.DataFrame({"_step": full}).merge(
            part.assign(_step=index), on="_step", how="left"
        )
        filled[time_column] = [frequency.shift(times.iloc[0], int(k)) for k in full]
        filled[values] = filled[values].interpolate(limit_direction="both")
        for column in part.columns:
            if column not in values and column != time_column:
                filled[column] = filled[column].ffill()  # the series id
        quality.filled_steps = quality.missing_steps
        quality.rows = len(filled)
        part = filled.drop(columns="_step")[list(part.columns)]
    return quality, part


def _fmt(t: object) -> str:
    if isinstance(t, pd.Timestamp):
        return t.strftime("%Y-%m-%d") if t == t.normalize() else t.isoformat()
    if isinstance(t, (float, np.floating)) and float(t).is_integer():
        return str(int(t))
    return str(t)
