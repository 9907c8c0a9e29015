"""Static covariates: per-series attributes (store size, region) for a global forecaster.

A static column holds one value per series (checked: every row of a series has the same value).
A column whose values all read as numbers is numeric and standardised with the mean and spread
of the training series' values; any other column is categorical, its categories (the training
series' values, sorted) numbered 1 … V and 0 kept for the unknown category, which a series
gets at prediction time when its value was not seen in training (with a warning naming it).

:class:`StaticEncoder` turns a series' values into the vector the forecaster reads,
``[numeric (Ns), category numbers (Kc)]``, appended to every row of its windows (the model
embeds the numbers and feeds the result to its encoder's initial state and its head). Its
state is plain JSON, stored in the model artifact.

Legend: S series, Ns numeric static covariates, Kc categorical ones.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.data.timeseries import check_columns, read_table

#: Embedding width of a categorical column with V categories: min(8, ⌈(V + 1) / 2⌉).
MAX_EMBEDDING = 8


def embedding_size(categories: int) -> int:
    """The embedding width of a column with ``categories`` known values (unknown excluded)."""
    return int(min(MAX_EMBEDDING, max(1, (categories + 2) // 2)))


def read_static(
    data: str | os.PathLike[str] | pd.DataFrame,
    *,
    series_column: str | None,
    columns: Sequence[str],
    **file_options: Any,
) -> pd.DataFrame:
    """One row per series (index: series id as text; '' for a single series) with the static
    ``columns`` of ``data`` (a CSV/Parquet file or a DataFrame, read as the history is).

    Raises:
        ValueError: a missing column, an empty value, or a series whose value changes (named
            with the two values).
    """
    from rnnkit.data.registry import load_dataset
    from rnnkit.data.series_datasets import FORECAST_DEFAULTS

    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, str) and data in FORECAST_DEFAULTS:
        frame = load_dataset(data)
    else:
        reading = {k: file_options.get(k) for k in ("sep", "decimal", "encoding")}
        frame = read_table(data, **reading)
    columns = list(columns)
    check_columns(frame, "static_covariates", columns)
    sids = frame[series_column].astype(str) if series_column else pd.Series([""] * len(frame))
    rows = {}
    for sid, part in frame[columns].groupby(sids.to_numpy(), sort=False):
        for c in columns:
            values = part[c]
            if values.isna().any():
                raise ValueError(
                    f"static_covariates column {c!r} must have a value on every row, got an "
                    f"empty one in series {sid!r}"
                )
            distinct = [v.item() if isinstance(v, np.generic) else v for v in pd.unique(values)]
            if len(distinct) > 1:
                raise ValueError(
                    f"static_covariates column {c!r} must hold one value per series, but series "
                    f"{sid!r} has {distinct[0]!r} and {distinct[1]!r}"
                )
        rows[str(sid)] = part.iloc[0]
    return pd.DataFrame(rows).T.loc[:, columns]


@dataclass
class StaticEncoder:
    """How static values become model inputs (module docstring).

    Attributes:
        numeric: the numeric columns (Ns), in input order.
        mean, scale: (Ns,) their training mean and spread.
        categorical: the categorical columns (Kc), after the numeric ones.
        vocab: per categorical column, its known categories (number i + 1 is vocab[i]).
    """

    numeric: list[str]
    mean: np.ndarray
    scale: np.ndarray
    categorical: list[str]
    vocab: list[list[str]]

    @classmethod
    def fit(cls, static: pd.DataFrame, train_series: Sequence[str]) -> StaticEncoder:
        """Learn from the rows of ``static`` (one per series) of the training series."""
        rows = static.loc[[s for s in train_series if s in static.index]]
        numeric, categorical, means, scales, vocab = [], [], [], [], []
        for c in static.columns:
            values = pd.to_numeric(static[c], errors="coerce")
            if values.notna().all():
                x = pd.to_numeric(rows[c]).to_numpy(np.float64)
                numeric.append(str(c))
                means.append(float(x.mean()))
                sd = float(x.std())
                scales.append(sd if sd > 1e-8 else 1.0)
            else:
                categorical.append(str(c))
                vocab.append(sorted({str(v) for v in rows[c]}))
        return cls(numeric, np.array(means), np.array(scales), categorical, vocab)

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def width(self) -> int:
        """Ns + Kc, the input columns it adds."""
        return len(self.numeric) + len(self.categorical)

    @property
    def cardinalities(self) -> list[int]:
        """Per categorical column, V + 1 (the unknown category included)."""
        return [len(v) + 1 for v in self.vocab]

    def encode(self, static: pd.DataFrame, series: Sequence[str]) -> dict[str, np.ndarray]:
        """Series id → its (Ns + Kc,) vector; an unseen category becomes 0 (unknown) with one
        warning naming every such value.

        Raises:
            ValueError: a series without a static row, or a numeric column that is not.
        """
        out, unknown = {}, []
        for sid in series:
            if sid not in static.index:
                raise ValueError(
                    f"static_covariates {self.columns} must be given for every series, got none "
                    f"for series {sid!r}"
                )
            row = static.loc[sid]
            vec = []
            for c, m, s in zip(self.numeric, self.mean, self.scale, strict=True):
                v = pd.to_numeric(pd.Series([row[c]]), errors="coerce").iloc[0]
                if pd.isna(v):
                    raise ValueError(
                        f"static_covariates column {c!r} is numeric in training, but series "
                        f"{sid!r} has {row[c]!r}"
                    )
                vec.append((float(v) - m) / s)
            for c, known in zip(self.categorical, self.vocab, strict=True):
                v = str(row[c])
                if v in known:
                    vec.append(float(known.index(v) + 1))
                else:
                    vec.append(0.0)
                    unknown.append(f"{c}={v!r} (series {sid!r})")
            out[sid] = np.array(vec, dtype=np.float64)
        if unknown:
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            warnings.warn(
                f"{len(unknown)} static categories were not seen in training and get the "
                f"unknown embedding: {shown}",
                stacklevel=3,
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": self.numeric,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "categorical": self.categorical,
            "vocab": self.vocab,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StaticEncoder:
        return cls(
            list(d["numeric"]),
            np.asarray(d["mean"], dtype=np.float64),
            np.asarray(d["scale"], dtype=np.float64),
            list(d["categorical"]),
            [list(v) for v in d["vocab"]],
        )
