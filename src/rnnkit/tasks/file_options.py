"""Options every task has for reading a user's files: the CSV dialect and the date order.

:class:`FileOptions` is mixed into each task config (its fields are keyword-only, so they come
after the task's own options and never shift a positional argument). None means detected from
the file, and the data report says what was detected (:mod:`rnnkit.data.csv_dialect`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnnkit.core.checks import choice_problems

#: The option names, as the readers take them.
FILE_OPTIONS = ("sep", "decimal", "encoding", "dayfirst", "time_format")
BAD_ROW_POLICIES = ("error", "skip")


@dataclass(kw_only=True)
class FileOptions:
    """How a CSV file is read.

    sep: field separator of CSV files, e.g. ';' (None: detected among ',', ';', tab and '|').
    decimal: decimal mark of numbers in CSV files, '.' or ',' (None: detected).
    encoding: text encoding of the files, e.g. 'cp1252' (None: UTF-8, else cp1252, and the
        report says so).
    dayfirst: dates like 03.01.2024 are day-first (true) or month-first (false); None: the
        order the data shows, and an error naming both readings when every date reads both ways.
    time_format: strptime format of the time column, e.g. '%d.%m.%Y %H:%M' (None: detected).
    on_bad_rows: rows that cannot be used (an empty text or label; at prediction, a series the
        model was not trained on): 'error' refuses the file naming them, 'skip' leaves them out
        and reports which.
    """

    sep: str | None = None
    decimal: str | None = None
    encoding: str | None = None
    dayfirst: bool | None = None
    time_format: str | None = None
    on_bad_rows: str = "error"

    def file_problems(self) -> list[str]:
        """Messages for invalid file options (the task config's ``problems`` adds them)."""
        out = choice_problems(
            self, (("decimal", (None, ".", ",")), ("on_bad_rows", BAD_ROW_POLICIES))
        )
        if self.sep is not None and (not isinstance(self.sep, str) or len(self.sep) != 1):
            out.append(f"sep must be one character, e.g. ';' or '\\t', got {self.sep!r}")
        for name in ("encoding", "time_format"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                out.append(f"{name} must be a non-empty string or None, got {value!r}")
        if self.encoding:
            import codecs

            try:
                codecs.lookup(self.encoding)
            except LookupError:
                out.append(f"encoding must name a text encoding, got {self.encoding!r}")
        return out

    def file_options(self) -> dict[str, Any]:
        """The reader keyword arguments: ``{'sep': ..., 'decimal': ..., ...}``."""
        return {name: getattr(self, name) for name in FILE_OPTIONS}
