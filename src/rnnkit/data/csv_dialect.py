"""CSV files as people write them: the separator, decimal mark, encoding and date order.

A European spreadsheet exports ``datum;filiale;menge`` with ``1,5`` for one and a half, in
cp1252, with dates like ``31.01.2024``; pandas' defaults read that as one column of text and
parse ``03.01.2024`` as March 1st. :func:`read_csv` detects what it can from the file and says
what it detected (``notes``), and :func:`parse_dates` refuses a date column whose day/month
order cannot be told from the data, naming both readings, instead of guessing.

Every detected setting can be given instead (``sep``, ``decimal``, ``encoding``, ``dayfirst``,
``time_format``): detection only fills what the user left at None.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: Separators tried when none is given, in order of preference on a tie.
SEPARATORS = (",", ";", "\t", "|")
#: Encodings tried when none is given: UTF-8 (with or without a byte-order mark), then the
#: Windows Western European code page, which decodes any byte (latin-1 is a subset of it).
ENCODINGS = ("utf-8-sig", "cp1252")
_SAMPLE_BYTES = 1 << 16
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d{1,3}(\.\d{3})*,\d+\s*$|^\s*[-+]?\d+,\d+\s*$")
#: d.m.y / m/d/y / d-m-y with a 4-digit (or 2-digit) year last, and an optional time.
_DMY = re.compile(r"^\s*(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})(?:[ T].*)?$")


class DateOrderError(ValueError):
    """The day/month order of a date column is ambiguous, mixed, or not the one given."""


@dataclass
class Dialect:
    """How a CSV file is written.

    Attributes:
        sep: the field separator.
        decimal: the decimal mark of numbers ('.' or ',').
        encoding: the text encoding.
        notes: what was detected rather than given, in words (for the data report).
    """

    sep: str = ","
    decimal: str = "."
    encoding: str = "utf-8-sig"
    notes: list[str] = field(default_factory=list)


def sniff_dialect(
    path: str | os.PathLike[str],
    *,
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
) -> Dialect:
    """The dialect of the CSV file at ``path``: given settings kept, the others detected.

    Raises:
        ValueError: ``encoding`` names no codec, or the file is not text in it.
    """
    raw = Path(path).read_bytes()[:_SAMPLE_BYTES]
    notes: list[str] = []
    text, encoding = _decode(raw, encoding, notes, str(path))
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if sep is None:
        sep = _sniff_separator(lines)
        if sep != ",":
            notes.append(f"separator {_name(sep)} detected (pass --sep to change it)")
    if decimal is None:
        decimal = _sniff_decimal(lines, sep)
        if decimal == ",":
            notes.append("decimal comma detected (pass --decimal to change it)")
    return Dialect(sep, decimal, encoding, notes)


def read_csv(
    path: str | os.PathLike[str],
    *,
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    **options: object,
) -> tuple[pd.DataFrame, Dialect]:
    """Read a CSV file in its own dialect; returns the frame and the dialect it was read with.

    ``options`` go to :func:`pandas.read_csv` (e.g. ``keep_default_na``).
    """
    dialect = sniff_dialect(path, sep=sep, decimal=decimal, encoding=encoding)
    # No thousands separator: with '.' as one, a date like 01.02.2024 would read as a number.
    frame = pd.read_csv(
        path,
        sep=dialect.sep,
        decimal=dialect.decimal,
        encoding=dialect.encoding,
        **options,  # type: ignore[arg-type]
    )
    return frame, dialect


def _decode(raw: bytes, encoding: str | None, notes: list[str], where: str) -> tuple[str, str]:
    if encoding is not None:
        try:
            return raw.decode(encoding), encoding
        except LookupError:
            raise ValueError(f"encoding must name a text encoding, got {encoding!r}") from None
        except UnicodeDecodeError as err:
            raise ValueError(
                f"data {where!r} is not {encoding} text (byte {err.start}: "
                f"{raw[err.start:err.start + 1]!r}); pass another --encoding, e.g. cp1252"
            ) from None
    for name in ENCODINGS:
        try:
            text = raw.decode(name)
        except UnicodeDecodeError:
            continue
        if name != ENCODINGS[0]:
            notes.append(f"read as {name} (not UTF-8; pass --encoding to change it)")
        return text, name
    raise ValueError(f"data {where!r} is not text in any of {list(ENCODINGS)}")  # unreachable


def _sniff_separator(lines: list[str]) -> str:
    """The candidate that splits every sampled line into the same number (> 1) of fields,
    the most fields winning; ',' when none does."""
    best, best_fields = ",", 1
    for candidate in SEPARATORS:
        rows = csv.reader(io.StringIO("\n".join(lines)), delimiter=candidate)
        counts = {len(row) for row in rows}
        if len(counts) == 1:
            (n,) = counts
            if n > best_fields:
                best, best_fields = candidate, n
    return best


def _sniff_decimal(lines: list[str], sep: str) -> str:
    """',' when the separator is not ',' and some field looks like ``1,5`` and none like
    ``1.5``; else '.'."""
    if sep == ",":
        return "."
    rows = csv.reader(io.StringIO("\n".join(lines[1:])), delimiter=sep)
    fields = [f for row in rows for f in row]
    comma = any(_DECIMAL_COMMA.match(f) for f in fields)
    point = any(re.match(r"^\s*[-+]?\d+\.\d+\s*$", f) and not _DMY.match(f) for f in fields)
    return "," if comma and not point else "."


def _name(sep: str) -> str:
    return {"\t": "tab", ";": "';'", "|": "'|'", ",": "','"}.get(sep, repr(sep))


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


def parse_dates(
    values: pd.Series,
    name: str,
    *,
    dayfirst: bool | None = None,
    time_format: str | None = None,
) -> tuple[pd.Series, str | None]:
    """Parse a column of date strings; returns the datetimes (NaT where unparseable) and a note
    when the day/month order was detected rather than given.

    Dates written day, month, year or month, day, year (``31.01.2024``, ``01/31/2024``) are
    read in the order the data shows (a first number above 12 is a day, a second number above
    12 is a day); when every date reads both ways, ``dayfirst`` must say which.

    Raises:
        ValueError: ambiguous order with ``dayfirst`` None (both readings of an example are
            named), or dates that need both orders.
    """
    text = values.astype(str)
    if time_format is not None:
        try:
            return pd.to_datetime(text, format=time_format, errors="coerce"), None
        except ValueError as err:
            raise DateOrderError(
                f"time_format must be a strptime format, got {time_format!r}: {err}"
            ) from None
    parts = text.str.extract(_DMY)
    numeric = parts[[0, 1]].dropna()
    note = None
    if len(numeric) and len(numeric) == len(text):  # every value is d/m/y-like
        first = numeric[0].astype(int).to_numpy()
        second = numeric[1].astype(int).to_numpy()
        day_first_seen = bool((first > 12).any())
        month_first_seen = bool((second > 12).any())
        if day_first_seen and month_first_seen:
            raise DateOrderError(
                f"time_column {name!r} must write every date in one order, but some dates read "
                f"day-first ({_example(text, first > 12)}) and others month-first "
                f"({_example(text, second > 12)})"
            )
        if dayfirst is None:
            if not (day_first_seen or month_first_seen):
                example = text.iloc[0]
                as_day = pd.to_datetime(example, dayfirst=True, errors="coerce")
                as_month = pd.to_datetime(example, dayfirst=False, errors="coerce")
                raise DateOrderError(
                    f"time_column {name!r} has dates that read both day-first and month-first: "
                    f"{example!r} is {_iso(as_day)} day-first and {_iso(as_month)} month-first; "
                    "pass --dayfirst true or --dayfirst false (or --time-format, e.g. "
                    "'%d.%m.%Y')"
                )
            dayfirst = day_first_seen
            note = (
                f"dates in {name!r} read {'day' if dayfirst else 'month'}-first "
                f"(e.g. {_example(text, first > 12 if dayfirst else second > 12)})"
            )
        elif (dayfirst and month_first_seen) or (dayfirst is False and day_first_seen):
            bad = second > 12 if dayfirst else first > 12
            raise DateOrderError(
                f"dayfirst={dayfirst} does not fit time_column {name!r}: "
                f"{_example(text, bad)} has no month {'second' if dayfirst else 'first'}"
            )
        return pd.to_datetime(text, dayfirst=dayfirst, errors="coerce", format="mixed"), note
    return pd.to_datetime(text, errors="coerce", format="mixed", dayfirst=bool(dayfirst)), note


def _example(text: pd.Series, mask: np.ndarray) -> str:
    return repr(str(text[np.asarray(mask)].iloc[0]))


def _iso(value: object) -> str:
    return "not a date" if pd.isna(value) else pd.Timestamp(value).date().isoformat()
