"""Labelled sequences for classification, read from a file or a bundled dataset.

Readers for text files (CSV/TSV/JSONL with a text and a label column) and numeric sequences
(long-format CSV, NPZ, UCR/UEA ``.ts``), with the format told from the extension and columns;
the result is one :class:`ClassificationData` either way. ``columns`` options (what
:data:`COLUMN_OPTIONS` names) say which columns hold what.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.core.suggest import did_you_mean
from rnnkit.data.action_datasets import MODALITY, action_data, read_action_file
from rnnkit.data.csv_dialect import read_csv
from rnnkit.data.registry import get_dataset, list_datasets, load_dataset
from rnnkit.data.sequence_files import (
    SequenceSet,
    read_long_csv,
    read_npz,
    read_ts,
    read_utf8,
    require_columns,
)

FORMATS = ("auto", "csv", "tsv", "jsonl", "long_csv", "npz", "ts", "skeleton", "video", "depth")
#: Formats of image and pose sequences (:mod:`rnnkit.data.skeleton`, :mod:`rnnkit.data.video`).
ACTION_FORMATS = ("skeleton", "video", "depth")
#: The options that say how a file is read; stored with a model so new data is read alike.
COLUMN_OPTIONS = (
    "text_column",
    "label_column",
    "id_column",
    "time_column",
    "feature_columns",
    "format",
)


@dataclass
class ClassificationData:
    """Labelled (or unlabelled) sequences as read from a file or a bundled dataset.

    Attributes:
        kind: 'text' or 'sequences'.
        texts: N texts (text only).
        sequences: N arrays (T_i, F) or (T_i, H, W[, C]) (numeric only).
        labels: (N,) labels, or None when the data has no label column.
        frame: the rows as read (text files: every column; numeric: one row per sequence with
            its id), so that predictions keep the input's identifying columns.
        split: (N,) fixed 'train'/'test' marks of a bundled dataset, else None.
        feature_names: channel names of numeric data.
    """

    kind: str
    texts: list[str] | None = None
    sequences: list[np.ndarray] | None = None
    labels: np.ndarray | None = None
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)
    split: np.ndarray | None = None
    feature_names: list[str] | None = None
    skipped: list[str] = field(default_factory=list)  # rows left out (on_bad_rows='skip')

    def __len__(self) -> int:
        return len(self.texts if self.kind == "text" else self.sequences)

    def subset(self, index: np.ndarray) -> ClassificationData:
        index = np.asarray(index, dtype=np.int64)
        return ClassificationData(
            self.kind,
            None if self.texts is None else [self.texts[i] for i in index],
            None if self.sequences is None else [self.sequences[i] for i in index],
            None if self.labels is None else self.labels[index],
            self.frame.iloc[index].reset_index(drop=True),
            None if self.split is None else self.split[index],
            self.feature_names,
        )


def is_bundled(name: str) -> bool:
    """Whether ``name`` is a bundled classification dataset."""
    return name in {d.name for d in list_datasets("classify")}


def _format_of(path: Path, format: str | None) -> str:
    if format not in (None, "auto"):
        return format
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix == ".tsv":
        return "tsv"
    if suffix == ".npz":
        return "npz"
    if suffix == ".ts":
        return "ts"
    return "csv"


def _check_jsonl(path: Path) -> None:
    """Every non-blank line of a JSONL file is one JSON object (a record); pandas would fail on
    anything else with an error that names neither the file nor the line."""
    for n, line in enumerate(read_utf8(path).split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as err:
            raise ValueError(f"{str(path)!r} line {n}: not valid JSON ({err})") from err
        if not isinstance(record, dict):
            raise ValueError(
                f"{str(path)!r} line {n}: expected one JSON object (a record) per line, "
                f"got {line[:60]!r}"
            )


def _read_table(path: Path, format: str, dialect: Mapping[str, Any]) -> pd.DataFrame:
    try:
        if format == "jsonl":
            _check_jsonl(path)
            df = pd.read_json(path, lines=True, dtype=False)
        else:  # the separator, decimal mark and encoding detected where not given
            sep = dialect.get("sep") or ("\t" if format == "tsv" else None)
            df, _ = read_csv(
                path,
                sep=sep,
                decimal=dialect.get("decimal"),
                encoding=dialect.get("encoding"),
                keep_default_na=False,
                na_values=[""],
            )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{str(path)!r} is not a readable {format.upper()} file: {err}") from err
    if df.empty:
        raise ValueError(f"{str(path)!r} must hold at least one data row, got none")
    return df


def _text_data(
    df: pd.DataFrame,
    where: str,
    text_column: str,
    label_column: str | None,
    on_bad_rows: str = "error",
) -> ClassificationData:
    """Texts (and labels) of ``df``; rows with an empty text or label are refused, or with
    ``on_bad_rows='skip'`` left out and named in ``ClassificationData.skipped``."""
    require_columns(
        [str(c) for c in df.columns],
        {"text_column": text_column, "label_column": label_column},
        where,
    )
    texts = df[text_column]
    empty = (texts.isna() | (texts.astype(str).str.strip() == "")).to_numpy()
    missing = df[label_column].isna().to_numpy() if label_column is not None else empty & False
    if on_bad_rows != "skip":
        for bad, what, unit in (
            (empty, f"text column {text_column!r} must hold text on every row", " row(s)"),
            (missing, f"label column {label_column!r} must have a label on every row", ""),
        ):
            if bad.any():
                rows = [int(i) + 1 for i in np.flatnonzero(bad)[:5]]
                raise ValueError(
                    f"{where}: {what}, got {int(bad.sum())} empty{unit}, first at data row(s) "
                    f"{rows}; "
                    "remove them, or pass on_bad_rows='skip' (--on-bad-rows skip) to leave "
                    "them out"
                )
    bad = empty | missing
    skipped = [f"data row {int(i) + 1}" for i in np.flatnonzero(bad)]
    if bad.all():
        raise ValueError(f"{where}: every row has an empty text or label, got {len(df)} rows")
    df = df.loc[~bad]
    labels = df[label_column].to_numpy() if label_column is not None else None
    data = ClassificationData(
        "text", df[text_column].astype(str).tolist(), None, labels, df.reset_index(drop=True)
    )
    data.skipped = skipped
    return data

def sequence_data(s: SequenceSet, id_name: str = "sequence_id") -> ClassificationData:
    frame = pd.DataFrame({id_name: s.ids})
    return ClassificationData(
        "sequences", None, s.sequences, s.labels, frame, s.split, s.feature_names
    )


def read_classification_data(
    source: str | os.PathLike[str] | pd.DataFrame,
    columns: Mapping[str, Any],
    *,
    labelled: bool = True,
    on_bad_rows: str = "error",
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
) -> ClassificationData:
    """Read ``source`` (a bundled dataset name, a file, or a text DataFrame).

    Args:
        columns: the :data:`COLUMN_OPTIONS`: ``text_column``, ``label_column``, ``id_column``
            (long CSV), ``time_column`` (long CSV; None: file order), ``feature_columns``
            (long CSV; None: all the others) and ``format`` ('auto' or one of :data:`FORMATS`).
        labelled: whether the label column is required (training, evaluation) or optional
            (prediction: used when present, never required).
        on_bad_rows: 'error' refuses rows with an empty text or label, 'skip' leaves them out
            (named in the result's ``skipped``).
        sep, decimal, encoding: how a CSV/TSV file is written (None: detected).
    """
    config = _Columns(**{k: columns.get(k) for k in COLUMN_OPTIONS})
    label_column = config.label_column
    if isinstance(source, pd.DataFrame):
        if not labelled and label_column not in source.columns:
            label_column = None
        return _text_data(source, "data frame", config.text_column, label_column, on_bad_rows)
    name = str(source)
    path = Path(name)
    if not path.exists():
        if is_bundled(name):
            loaded = load_dataset(name)
            if isinstance(loaded, pd.DataFrame):
                data = _text_data(loaded, name, "text", "label")
                data.split = loaded["split"].to_numpy()
                data.frame = data.frame.drop(columns=["split"])
                return data
            if name in MODALITY or config.format in ACTION_FORMATS:
                return action_data(name, loaded, config.format)
            return sequence_data(loaded)
        if path.suffix:
            raise ValueError(f"data must be an existing file, got {name!r} (not found)")
        try:
            get_dataset(name)
        except ValueError:
            names = [d.name for d in list_datasets("classify")]
            raise ValueError(
                f"data must be an existing file or a bundled classification dataset "
                f"{names}, got {name!r}{did_you_mean(name, names)}"
            ) from None
        raise ValueError(f"dataset {name!r} is not a classification dataset (see rnnkit datasets)")
    if config.format in ACTION_FORMATS:
        return read_action_file(path, config.format, label_column, labelled=labelled)
    if not path.is_file():
        raise ValueError(f"data must be a file, got {name!r} (a folder)")
    fmt = _format_of(path, config.format)
    if fmt == "npz":
        return sequence_data(read_npz(path))
    if fmt == "ts":
        return sequence_data(read_ts(path))
    df = _read_table(path, fmt, {"sep": sep, "decimal": decimal, "encoding": encoding})
    names = [str(c) for c in df.columns]
    if fmt != "long_csv" and config.text_column not in names and config.id_column is None:
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
        if len(numeric) >= max(1, len(names) // 2):  # mostly numbers: steps of sequences
            raise ValueError(
                f"{name!r} has no text column {config.text_column!r}"
                f"{did_you_mean(config.text_column, names)} and mostly numeric columns "
                f"({', '.join(names[:8])}{', ...' if len(names) > 8 else ''}): if it holds "
                "numeric sequences one step per row (long format), pass id_column "
                "(--id-column NAME) naming the sequence-id column, and label_column; for text, "
                "pass text_column"
            )
    if fmt != "long_csv" and (config.text_column in names or config.id_column is None):
        if not labelled and label_column not in names:
            label_column = None
        return _text_data(df, repr(name), config.text_column, label_column, on_bad_rows)
    if config.id_column is None:
        raise ValueError(
            f"{name!r}: id_column must name the sequence-id column of a long-format CSV, got None"
        )
    if not labelled and label_column not in names:
        label_column = None
    seqs = read_long_csv(
        df,
        id_column=config.id_column,
        time_column=config.time_column,
        feature_columns=config.feature_columns,
        label_column=label_column,
        where=repr(name),
    )
    return sequence_data(seqs, config.id_column)



@dataclass
class _Columns:
    text_column: str
    label_column: str
    id_column: str | None
    time_column: str | None
    feature_columns: list[str] | None
    format: str | None
