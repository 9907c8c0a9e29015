"""Labelled numeric sequences: readers for long-format CSV, NPZ and UCR/UEA ``.ts`` files, and
per-channel normalisation fit on the training split.

Every reader returns a :class:`SequenceSet`: N sequences of possibly different lengths, each an
array (T_i, F) of float32 (or (T_i, H, W[, C]) frames for videos), optional labels, and an id per
sequence so that predictions can be written next to the input's identifying column.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.core.suggest import did_you_mean


@dataclass
class SequenceSet:
    """N variable-length sequences with optional labels.

    Attributes:
        sequences: N float32 arrays, each (T_i, *step_shape): (T_i, F) for feature sequences,
            (T_i, H, W) or (T_i, H, W, C) for frame sequences.
        labels: (N,) labels (str or int) or None when unlabelled.
        ids: N identifiers (the long CSV's id column, or the row index as a string).
        feature_names: the F channel names, when known.
        split: (N,) 'train'/'test' marks for bundled data with a fixed split, else None.
    """

    sequences: list[np.ndarray]
    labels: np.ndarray | None = None
    ids: list[str] = field(default_factory=list)
    feature_names: list[str] | None = None
    split: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.sequences)
        if not self.ids:
            self.ids = [str(i) for i in range(n)]
        for name, value in (("labels", self.labels), ("ids", self.ids), ("split", self.split)):
            if value is not None and len(value) != n:
                raise ValueError(f"{name} must have one entry per sequence ({n}), got {len(value)}")
        shapes = {s.shape[1:] for s in self.sequences}
        if len(shapes) > 1:
            raise ValueError(f"every sequence must have the same step shape, got {sorted(shapes)}")

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def step_shape(self) -> tuple[int, ...]:
        """Shape of one step: (F,) or (H, W[, C])."""
        return tuple(self.sequences[0].shape[1:])

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.sequences], dtype=np.int64)

    def subset(self, index: Sequence[int] | np.ndarray) -> SequenceSet:
        """The sequences at ``index`` (a new set sharing the arrays)."""
        index = np.asarray(index, dtype=np.int64)
        return SequenceSet(
            [self.sequences[i] for i in index],
            None if self.labels is None else self.labels[index],
            [self.ids[i] for i in index],
            self.feature_names,
            None if self.split is None else self.split[index],
        )


def require_columns(columns: Sequence[str], wanted: dict[str, str | None], source: str) -> None:
    """Raise one ValueError naming every missing column, each with the closest existing name.

    ``wanted`` maps an argument name (e.g. 'label_column') to the column it names (None: unused).
    """
    problems = [
        f"{arg}={col!r} is not a column{did_you_mean(col, columns)}"
        for arg, col in wanted.items()
        if col is not None and col not in columns
    ]
    if problems and len(columns) == 1 and ";" in str(columns[0]):  # read with ',', written with ';'
        problems.append("the file looks ';'-separated, not ','-separated")
    if problems:
        raise ValueError(f"{source}: " + "; ".join(problems) + f". Columns found: {list(columns)}")


def read_utf8(path: Path) -> str:
    """The text of ``path`` (newlines as ``\\n``); a file that is not UTF-8 is a ValueError that
    names it and the first bad byte, instead of a UnicodeDecodeError from deep in a reader."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{str(path)!r} must be UTF-8 text, got byte {err.object[err.start]:#04x} at offset "
            f"{err.start} that is not (a binary file, or text in another encoding?)"
        ) from err


def _check_file(path: str | os.PathLike[str], argument: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{argument} must be an existing file, got {str(path)!r} (not found)")
    return path


def read_long_csv(
    source: str | os.PathLike[str] | Any,
    *,
    id_column: str,
    time_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    label_column: str | None = None,
    where: str | None = None,
) -> SequenceSet:
    """Read sequences stored one step per row (long format).

    Args:
        source: a CSV path or a pandas DataFrame.
        id_column: which sequence each row belongs to.
        time_column: orders the steps within a sequence (None: file order).
        feature_columns: the F numeric channels (None: every column but id, time and label).
        label_column: the sequence's class; it must be the same on all rows of a sequence
            (None: unlabelled, e.g. for prediction).
        where: how messages name a DataFrame source (e.g. the file it was read from).

    Raises:
        ValueError: a missing column (with the closest name), a non-numeric value (row and
            column named), NaN/Inf in features, or a label that changes within a sequence.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        df, where = source, where or "data frame"
    else:
        path = _check_file(source, "data path")
        try:
            df = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise ValueError(f"{str(path)!r} is not a readable CSV file: {err}") from err
        where = repr(str(path))
    if df.empty:
        raise ValueError(f"{where} must hold at least one row, got none")
    require_columns(
        list(df.columns),
        {"id_column": id_column, "time_column": time_column, "label_column": label_column},
        where,
    )
    if feature_columns is None:
        used = {id_column, time_column, label_column}
        feature_columns = [c for c in df.columns if c not in used]
    else:
        feature_columns = list(feature_columns)
        require_columns(
            list(df.columns),
            {f"feature_columns[{i}]": c for i, c in enumerate(feature_columns)},
            where,
        )
    if not feature_columns:
        raise ValueError(f"{where}: feature_columns must name at least one column, got none")
    wide = np.empty((len(df), len(feature_columns)), dtype=np.float64)
    for j, col in enumerate(feature_columns):
        numeric = pd.to_numeric(df[col], errors="coerce")
        bad = numeric.isna() & df[col].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{where}: column {col!r} must be numeric, got {df[col].iloc[row]!r} at data "
                f"row {row + 1}"
            )
        wide[:, j] = numeric.to_numpy(dtype=np.float64)
    with np.errstate(over="ignore"):  # beyond float32's range: inf, refused just below
        values = wide.astype(np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        row, j = (int(k) for k in np.argwhere(~finite)[0])
        raise ValueError(
            f"{where}: features must be finite, got {values[row, j]}"
            + (f" (from {wide[row, j]!r}, beyond float32's range)"
               if np.isfinite(wide[row, j]) else "")
            + " in column "
            f"{feature_columns[j]!r} at data row {row + 1} (drop or fill such rows first)"
        )
    # Group rows by id in order of first appearance; sort steps by time when a column says so.
    keys = df[id_column].astype(str).to_numpy()
    order = (
        np.lexsort((df[time_column].to_numpy(), pd.factorize(keys)[0]))
        if time_column is not None
        else np.argsort(pd.factorize(keys)[0], kind="stable")
    )
    codes, uniques = pd.factorize(keys[order])
    bounds = np.flatnonzero(np.diff(codes)) + 1
    groups = np.split(order, bounds)
    labels = None
    if label_column is not None:
        label_values = df[label_column].to_numpy()
        if pd.isna(df[label_column]).any():
            row = int(np.flatnonzero(pd.isna(df[label_column]).to_numpy())[0])
            raise ValueError(
                f"{where}: label column {label_column!r} is empty at data row {row + 1}"
            )
        labels_list = []
        for g in groups:
            first = label_values[g[0]]
            if (label_values[g] != first).any():
                raise ValueError(
                    f"{where}: label column {label_column!r} must be constant within a sequence, "
                    f"but sequence {keys[g[0]]!r} has labels "
                    f"{sorted(set(map(str, label_values[g])))}"
                )
            labels_list.append(first)
        labels = np.asarray(labels_list)
    return SequenceSet(
        [values[g] for g in groups], labels, [str(u) for u in uniques], feature_columns
    )


_NPZ_X_KEYS = ("x", "X", "inputs", "data")
_NPZ_Y_KEYS = ("y", "Y", "labels", "targets")


def read_npz(
    path: str | os.PathLike[str],
    *,
    x_key: str | None = None,
    y_key: str | None = None,
    lengths_key: str | None = "lengths",
) -> SequenceSet:
    """Read sequences from a NumPy ``.npz`` archive (never unpickles objects).

    Args:
        path: the file.
        x_key: array of shape (N, T, F) or frames (N, T, H, W[, C]) (None: the first of
            'x', 'X', 'inputs', 'data').
        y_key: labels (N,) (None: the first of 'y', 'Y', 'labels', 'targets', if any).
        lengths_key: optional (N,) valid lengths; steps past a length are dropped.
    """
    path = _check_file(path, "data path")
    # Opened here so that it is closed: numpy leaves its own handle open on a damaged zip.
    with open(path, "rb") as handle:
        try:
            archive = np.load(handle, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
            # Never numpy's text: for any file that is not a zip it advises allow_pickle.
            raise ValueError(f"{_not_npz(path)} (it is not a zip archive of .npy arrays)") from err
        if not isinstance(archive, np.lib.npyio.NpzFile):  # a bare .npy array
            raise ValueError(
                f"{_not_npz(path)} (it is a single .npy array of shape "
                f"{getattr(archive, 'shape', '?')}; save named arrays with numpy.savez)"
            )
        with archive:
            keys = list(archive.files)

            def pick(key: str | None, defaults: Sequence[str], argument: str) -> str | None:
                if key is not None:
                    if key not in keys:
                        raise ValueError(
                            f"{argument}={key!r} is not an array in {str(path)!r}"
                            f"{did_you_mean(key, keys)}; arrays found: {keys}"
                        )
                    return key
                return next((k for k in defaults if k in keys), None)

            xk = pick(x_key, _NPZ_X_KEYS, "x_key")
            if xk is None:
                raise ValueError(
                    f"{str(path)!r} must hold an input array named one of {list(_NPZ_X_KEYS)} "
                    f"(or pass x_key), got arrays {keys}"
                )
            yk = pick(y_key, _NPZ_Y_KEYS, "y_key")
            try:  # each array is read (and can be found damaged) only here
                x = np.asarray(archive[xk])
                y = np.asarray(archive[yk]) if yk is not None else None
                lengths = np.asarray(archive[lengths_key]) if lengths_key in keys else None
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
                raise _unreadable_npz(path, err) from err
    if x.ndim not in (3, 4, 5) or x.dtype.kind not in "biuf":  # real numbers (or booleans)
        raise ValueError(
            f"array {xk!r} in {str(path)!r} must be numeric (real numbers) of shape (N, T, F), "
            f"(N, T, H, W) or (N, T, H, W, C), got dtype {x.dtype} and shape {x.shape}"
        )
    with np.errstate(over="ignore"):  # beyond float32's range: inf, refused below
        x = x.astype(np.float32)
    n, t = x.shape[:2]
    if lengths is None:
        lengths = np.full(n, t)
    elif (
        lengths.shape != (n,)
        or lengths.dtype.kind not in "iu"
        or (lengths < 1).any()
        or (lengths > t).any()
    ):
        shown = (
            f"range [{lengths.min()}, {lengths.max()}]"
            if lengths.size and lengths.dtype.kind in "iuf"
            else f"dtype {lengths.dtype}"
        )
        raise ValueError(
            f"array {lengths_key!r} must hold N={n} lengths in [1, {t}] (integers), got shape "
            f"{lengths.shape} with {shown}"
        )
    sequences = [x[i, : int(lengths[i])] for i in range(n)]
    for i, s in enumerate(sequences):
        if not np.isfinite(s).all():
            raise ValueError(f"array {xk!r} must be finite, got NaN/Inf in sequence {i}")
    if y is not None and (y.shape != (n,) or y.dtype.kind not in "biufU"):
        raise ValueError(
            f"array {yk!r} must hold N={n} labels (numbers or strings) of shape ({n},), got "
            f"{y.dtype} of shape {y.shape}"
        )
    return SequenceSet(sequences, y)


def _not_npz(path: Path) -> str:
    return f"{str(path)!r} is not a valid NPZ archive of numeric arrays x, y[, lengths]"


def _unreadable_npz(path: Path, err: Exception) -> ValueError:
    """The error for an archive member numpy cannot read; pickled data is named as such, never
    with numpy's advice to allow pickle (unpickling a file can run code)."""
    if "pickle" in str(err):
        return ValueError(
            f"{_not_npz(path)} (it holds pickled Python objects, which rnnkit never loads "
            "because unpickling can run code; save numeric arrays with numpy.savez)"
        )
    return ValueError(f"{_not_npz(path)} ({err})")


def read_ts(path: str | os.PathLike[str]) -> SequenceSet:
    """Read a UCR/UEA archive ``.ts`` file (univariate or multivariate, equal or variable length).

    Each data line holds the D dimensions separated by ``:``, each a comma-separated series,
    then the class label when ``@classLabel true``. Missing values (``?``) are not accepted:
    the error names the line. Files with ``@timeStamps true`` are refused.
    """
    path = _check_file(path, "data path")
    header: dict[str, str] = {}
    sequences: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    for lineno, raw in enumerate(read_utf8(path).split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise ValueError(
                    f"{str(path)!r} line {lineno}: expected a @tag, got {line[:40]!r}"
                )
            tag, _, value = line[1:].partition(" ")
            tag = tag.lower()
            if tag == "data":
                in_data = True
                if header.get("timestamps", "false").lower() == "true":
                    raise ValueError(f"{str(path)!r}: @timeStamps true is not supported")
            else:
                header[tag] = value.strip()
            continue
        has_label = header.get("classlabel", "false").split(" ")[0].lower() == "true"
        parts = line.split(":")
        if has_label:
            labels.append(parts[-1].strip())
            parts = parts[:-1]
        dims = [p.split(",") for p in parts]
        if len({len(d) for d in dims}) != 1:
            raise ValueError(
                f"{str(path)!r} line {lineno}: every dimension must have the same length, "
                f"got lengths {[len(d) for d in dims]}"
            )
        try:
            with np.errstate(over="ignore"):  # beyond float32's range: inf, refused below
                arr = np.array(dims, dtype=np.float64).T.astype(np.float32)  # (T, D)
        except ValueError as err:
            raise ValueError(
                f"{str(path)!r} line {lineno}: values must be numbers (missing values '?' "
                f"are not supported): {err}"
            ) from err
        if not np.isfinite(arr).all():
            raise ValueError(f"{str(path)!r} line {lineno}: values must be finite")
        sequences.append(arr)
    if not sequences:
        raise ValueError(f"{str(path)!r} must hold at least one series after @data, got none")
    dims = {s.shape[1] for s in sequences}
    if len(dims) != 1:
        raise ValueError(f"{str(path)!r}: series have different dimension counts {sorted(dims)}")
    names = [f"dim_{i}" for i in range(sequences[0].shape[1])]
    return SequenceSet(sequences, np.asarray(labels) if labels else None, feature_names=names)


NORMALIZATIONS = ("channel", "global", "none")


@dataclass
class Normalizer:
    """x' = (x − μ) / σ with statistics fit on the training split's real steps only.

    ``mode='channel'`` keeps one (μ, σ) per feature (the last axis of a (T, F) step, or the
    channel axis C of frames); 'global' one pair for everything (images, whose pixels share a
    scale); 'none' leaves data as it is. σ is floored at 1e-6 so that a constant channel maps to
    0 instead of dividing by zero.
    """

    mode: str = "channel"
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mode not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {list(NORMALIZATIONS)}, got {self.mode!r}"
            )

    def fit(self, sequences: Sequence[np.ndarray]) -> Normalizer:
        if self.mode == "none":
            return self
        steps = np.concatenate([np.asarray(s, dtype=np.float64) for s in sequences])
        if self.mode == "global" or steps.ndim == 3:  # (N·T, H, W): no channel axis
            flat = steps.reshape(-1, 1)
        else:
            flat = steps.reshape(-1, steps.shape[-1])  # (N·T·H·W, C) or (N·T, F)
        self.mean = flat.mean(axis=0).tolist()
        self.std = np.maximum(flat.std(axis=0), 1e-6).tolist()
        return self

    def transform(self, sequence: np.ndarray) -> np.ndarray:
        if self.mode == "none":
            return np.asarray(sequence, dtype=np.float32)
        if not self.mean:
            raise ValueError("Normalizer must be fit before transform")
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        if len(mean) > 1 and sequence.shape[-1] != len(mean):
            raise ValueError(
                f"sequences must have {len(mean)} channels like the training data, got "
                f"{sequence.shape[-1]}"
            )
        return ((sequence - mean) / std).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "mean": self.mean, "std": self.std}

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> Normalizer:
        return cls(state["mode"], list(state["mean"]), list(state["std"]))
