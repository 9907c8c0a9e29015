"""Sequence classification as one call each: ``train``, ``evaluate``, ``predict``.

``train(config, run_dir)`` reads labelled sequences — a text file (CSV/TSV/JSONL with a text and
a label column), numeric sequences (long-format CSV, NPZ, UCR/UEA ``.ts``) or a bundled dataset
(``rnnkit datasets --task classify``) — splits them (stratified; bundled data keep their fixed
test split), fits the preprocessing on the training split only (vocabulary, or per-channel
normalisation), trains a :class:`~rnnkit.models.classifier.SequenceClassifier` with
:class:`rnnkit.train.Trainer` (batches bucketed by length, best validation epoch kept), scores it
on validation and test beside non-recurrent baselines fit on the same training split, and writes
into ``run_dir``:

* ``model.safetensors`` — the artifact (``kind='sequence-classifier'``: model constructor
  arguments, weights, and the preprocessing: vocabulary and tokeniser, or normaliser; label
  names; column names);
* ``metrics.json`` — validation and test metrics of the model and the baselines;
* ``confusion_matrix.png`` — the model's test confusion matrix;
* what the trainer writes (history, learning curves, best/last checkpoints).

``evaluate(artifact, data)`` scores a saved model on labelled data; ``predict(artifact, data)``
returns the predicted label and class probabilities beside the input's identifying columns.
Bad input raises ``ValueError`` naming the argument, what was expected and what was received.
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from rnnkit.config import choice_problems, int_problems
from rnnkit.data.bucketing import BucketLoader, pad_sequences
from rnnkit.data.labels import LabelSet
from rnnkit.data.registry import get_dataset, list_datasets, load_dataset
from rnnkit.data.sequence_files import (
    Normalizer,
    SequenceSet,
    closest_hint,
    read_long_csv,
    read_npz,
    read_ts,
    require_columns,
)
from rnnkit.data.text import TextPipeline, Tokenizer
from rnnkit.io.artifact import Artifact, atomic_write_bytes, load_artifact, save_artifact
from rnnkit.models.classification_baselines import (
    BagOfWordsLogistic,
    ChannelStatsLogistic,
    NearestNeighbour,
)
from rnnkit.models.classification_metrics import (
    ClassificationReport,
    classification_report,
    plot_confusion_matrix,
)
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.train import TrainConfig, Trainer, seed_everything
from rnnkit.train.callbacks import BestWeights, default_callbacks

ARTIFACT_KIND = "sequence-classifier"
FORMATS = ("auto", "csv", "tsv", "jsonl", "long_csv", "npz", "ts")

#: Training options that suit classification; :func:`default_training` adds the dataset's own.
CLASSIFY_TRAINING_DEFAULTS: dict[str, Any] = {
    "epochs": 20,
    "lr": 2e-3,
    "clip_norm": 1.0,
    "early_stopping": 4,
    "monitor": "val_loss",
}

#: Options of the default configuration per input kind (None options resolve to these).
GENERIC_DEFAULTS: dict[str, dict[str, Any]] = {
    "text": {
        "tokenizer": "word",
        "min_freq": 2,
        "max_vocab": 30000,
        "max_length": 200,
        "embedding_dim": 128,
        "cell": "gru",
        "hidden_size": 64,
        "bidirectional": True,
        "pooling": "max",
        "dropout": 0.3,
        "batch_size": 64,
    },
    "sequences": {
        "normalization": "channel",
        "cell": "lstm",
        "hidden_size": 64,
        "bidirectional": False,
        "pooling": "last",
        "dropout": 0.0,
        "batch_size": 32,
    },
}

#: Per bundled dataset: classification options, then training options (docs/classification.md).
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "rotten-tomatoes": {"dropout": 0.5},
    "chinese-reviews": {"tokenizer": "char", "max_length": 150},
    "basic-motions": {
        "cell": "gru",
        "pooling": "max",
        "hidden_size": 64,
        "batch_size": 8,
        "val_fraction": 0.2,
    },
    "digits": {"normalization": "global"},
    "mnist-5k": {"normalization": "global", "hidden_size": 128},
}
DATASET_TRAINING: dict[str, dict[str, Any]] = {
    "basic-motions": {"epochs": 80, "lr": 3e-3, "early_stopping": None},
    "digits": {"epochs": 40, "early_stopping": 6},
    "mnist-5k": {"epochs": 30, "early_stopping": 5},
}


def training_defaults(dataset: str | None = None) -> dict[str, Any]:
    """:class:`TrainConfig` values for this task: :data:`CLASSIFY_TRAINING_DEFAULTS`, then the
    bundled ``dataset``'s own (a command line lays config-file values and flags over these)."""
    return {**CLASSIFY_TRAINING_DEFAULTS, **DATASET_TRAINING.get(dataset or "", {})}


def default_training(dataset: str | None = None, **overrides: Any) -> TrainConfig:
    """:class:`TrainConfig` from :func:`training_defaults` for ``dataset``, then ``overrides``."""
    return TrainConfig(**{**training_defaults(dataset), **overrides})


@dataclass
class ClassifyConfig:
    """Options of a classification run (training options live in
    :class:`rnnkit.train.TrainConfig`). Options left at None take the bundled dataset's defaults,
    else the defaults of the input kind (text or numeric), listed in ``docs/classification.md``.

    data: a bundled dataset name (``rnnkit datasets --task classify``), e.g. 'rotten-tomatoes',
        'chinese-reviews', 'basic-motions', 'digits', 'mnist-5k'; or a file: CSV/TSV/JSONL with
        a text and a label column, a long-format CSV of numeric steps (needs id_column), an NPZ
        archive (arrays x, y, optional lengths) or a UCR/UEA .ts file.
    test_data: a separate labelled test file in the same format (None: hold out test_fraction
        of data).
    format: 'auto' (from the file extension and columns), 'csv', 'tsv', 'jsonl', 'long_csv',
        'npz' or 'ts'.
    text_column: the column holding the text (text files).
    label_column: the column holding the class (text files and long CSV).
    id_column: the sequence-id column of a long-format CSV (one row per step).
    time_column: orders the steps within a sequence of a long-format CSV (None: file order).
    feature_columns: numeric columns of a long-format CSV (None: all but id, time and label).
    val_fraction: share of the training data held out for validation (early stopping and the
        best epoch), stratified by class.
    test_fraction: share of data held out for the test, stratified by class (files without
        test_data; bundled datasets have a fixed test split).
    max_train: use at most this many training sequences (a seeded stratified sample; None:
        all).
    tokenizer: 'word' (each Chinese character is its own word) or 'char' (text).
    lowercase: lower-case text before tokenising.
    min_freq: a token needs this many occurrences in training to get its own id; rarer ones
        become the unknown token.
    max_vocab: at most this many token ids, padding and unknown included.
    max_length: texts longer than this many tokens are cut (the count is reported).
    truncation: which side of a long text is cut: 'end' keeps the beginning, 'start' the end.
    normalization: numeric inputs: 'channel' (mean and std per channel), 'global' (one mean
        and std, e.g. pixels) or 'none'; fit on the training split.
    cell: recurrent cell, 'lstm', 'gru' or 'rnn'.
    hidden_size: hidden units per layer and direction.
    num_layers: stacked recurrent layers.
    bidirectional: run each layer in both directions.
    pooling: summary of the recurrent outputs: 'last' (state at the last real step), 'mean',
        'max' (over real steps) or 'attention'.
    embedding_dim: size of token embeddings (text).
    frame_features: size of each frame's code from the per-frame CNN (video inputs).
    head_hidden: width of a hidden ReLU layer in the head (0: a linear head).
    dropout: on embeddings/inputs, between layers and before the head.
    class_weights: 'none' or 'balanced' (loss weight of class c is N / (C · N_c)).
    batch_size: sequences per training batch (bucketed by length).
    baselines: also fit and score the non-recurrent baselines (bag-of-words logistic
        regression for text; 1-nearest-neighbour and per-channel-statistics logistic
        regression for numeric sequences).
    """

    data: str = "rotten-tomatoes"
    test_data: str | None = None
    format: Literal["auto", "csv", "tsv", "jsonl", "long_csv", "npz", "ts"] = "auto"
    text_column: str = "text"
    label_column: str = "label"
    id_column: str | None = None
    time_column: str | None = None
    feature_columns: list[str] | None = None
    val_fraction: float | None = None
    test_fraction: float = 0.2
    max_train: int | None = None
    tokenizer: Literal["word", "char"] | None = None
    lowercase: bool = True
    min_freq: int | None = None
    max_vocab: int | None = None
    max_length: int | None = None
    truncation: Literal["end", "start"] = "end"
    normalization: Literal["channel", "global", "none"] | None = None
    cell: Literal["lstm", "gru", "rnn"] | None = None
    hidden_size: int | None = None
    num_layers: int = 1
    bidirectional: bool | None = None
    pooling: Literal["last", "mean", "max", "attention"] | None = None
    embedding_dim: int | None = None
    frame_features: int = 64
    head_hidden: int = 0
    dropout: float | None = None
    class_weights: Literal["none", "balanced"] = "none"
    batch_size: int | None = None
    baselines: bool = True

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError("ClassifyConfig: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ClassifyConfig:
        known = [f.name for f in fields(cls)]
        unknown = [k for k in values if k not in known]
        if unknown:
            raise ValueError(
                "ClassifyConfig: unknown option(s) "
                + ", ".join(f"{k!r}{closest_hint(k, known)}" for k in unknown)
            )
        return cls(**values)


def _problems(c: ClassifyConfig) -> list[str]:
    out = choice_problems(
        c,
        (
            ("format", FORMATS),
            ("tokenizer", (None, "word", "char")),
            ("truncation", ("end", "start")),
            ("normalization", (None, "channel", "global", "none")),
            ("cell", (None, "lstm", "gru", "rnn")),
            ("pooling", (None, "last", "mean", "max", "attention")),
            ("class_weights", ("none", "balanced")),
        ),
    )
    out += int_problems(
        c,
        (
            ("min_freq", 1, True),
            ("max_vocab", 3, True),
            ("max_length", 1, True),
            ("hidden_size", 1, True),
            ("num_layers", 1, False),
            ("embedding_dim", 1, True),
            ("frame_features", 1, False),
            ("head_hidden", 0, False),
            ("batch_size", 1, True),
            ("max_train", 2, True),
        ),
    )
    for name, optional in (("val_fraction", True), ("test_fraction", False), ("dropout", True)):
        value = getattr(c, name)
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            out.append(f"{name} must be a number in [0, 1), got {value!r}")
    if not isinstance(c.data, str) or not c.data:
        out.append(f"data must be a file path or a bundled dataset name, got {c.data!r}")
    return out


def resolve(config: ClassifyConfig, kind: str) -> ClassifyConfig:
    """A copy of ``config`` with every None option set: the bundled dataset's default, else the
    default of the input ``kind`` ('text' or 'sequences')."""
    c = copy.deepcopy(config)
    dataset = DATASET_DEFAULTS.get(c.data, {})
    generic = {**GENERIC_DEFAULTS[kind], "val_fraction": 0.1}
    for f in fields(c):
        if getattr(c, f.name) is None and f.name in {**generic, **dataset}:
            setattr(c, f.name, dataset.get(f.name, generic.get(f.name)))
    return c


# --------------------------------------------------------------------------------------------
# Reading data
# --------------------------------------------------------------------------------------------


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


def _is_bundled(name: str) -> bool:
    return name in {d.name for d in list_datasets("classify")}


def _format_of(path: Path, format: str) -> str:
    if format != "auto":
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


def _read_table(path: Path, format: str) -> pd.DataFrame:
    try:
        if format == "jsonl":
            df = pd.read_json(path, lines=True, dtype=False)
        else:
            df = pd.read_csv(
                path, sep="\t" if format == "tsv" else ",", keep_default_na=False, na_values=[""]
            )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{str(path)!r} is not a readable {format.upper()} file: {err}") from err
    if df.empty:
        raise ValueError(f"{str(path)!r} must hold at least one data row, got none")
    return df


def _text_data(
    df: pd.DataFrame, where: str, text_column: str, label_column: str | None
) -> ClassificationData:
    require_columns(
        [str(c) for c in df.columns],
        {"text_column": text_column, "label_column": label_column},
        where,
    )
    texts = df[text_column]
    empty = texts.isna() | (texts.astype(str).str.strip() == "")
    if empty.any():
        rows = [int(i) + 1 for i in np.flatnonzero(empty.to_numpy())[:5]]
        raise ValueError(
            f"{where}: text column {text_column!r} must hold text on every row, got "
            f"{int(empty.sum())} empty row(s), first at data row(s) {rows}; remove them first"
        )
    labels = None
    if label_column is not None:
        missing = df[label_column].isna()
        if missing.any():
            rows = [int(i) + 1 for i in np.flatnonzero(missing.to_numpy())[:5]]
            raise ValueError(
                f"{where}: label column {label_column!r} must have a label on every row, got "
                f"{int(missing.sum())} empty, first at data row(s) {rows}"
            )
        labels = df[label_column].to_numpy()
    return ClassificationData(
        "text", texts.astype(str).tolist(), None, labels, df.reset_index(drop=True)
    )


def _sequence_data(s: SequenceSet, id_name: str = "sequence_id") -> ClassificationData:
    frame = pd.DataFrame({id_name: s.ids})
    return ClassificationData(
        "sequences", None, s.sequences, s.labels, frame, s.split, s.feature_names
    )


def read_data(
    source: str | os.PathLike[str] | pd.DataFrame,
    config: ClassifyConfig,
    *,
    labelled: bool = True,
) -> ClassificationData:
    """Read ``source`` (a bundled dataset name, a file, or a text DataFrame) as the config says.

    Args:
        labelled: whether the label column is required (training, evaluation) or optional
            (prediction: used when present, never required).
    """
    label_column = config.label_column
    if isinstance(source, pd.DataFrame):
        if not labelled and label_column not in source.columns:
            label_column = None
        return _text_data(source, "data frame", config.text_column, label_column)
    name = str(source)
    path = Path(name)
    if not path.exists():
        if _is_bundled(name):
            loaded = load_dataset(name)
            if isinstance(loaded, pd.DataFrame):
                data = _text_data(loaded, name, "text", "label")
                data.split = loaded["split"].to_numpy()
                data.frame = data.frame.drop(columns=["split"])
                return data
            return _sequence_data(loaded)
        if path.suffix:
            raise ValueError(f"data must be an existing file, got {name!r} (not found)")
        try:
            get_dataset(name)
        except ValueError:
            names = [d.name for d in list_datasets("classify")]
            raise ValueError(
                f"data must be an existing file or a bundled classification dataset "
                f"{names}, got {name!r}{closest_hint(name, names)}"
            ) from None
        raise ValueError(f"dataset {name!r} is not a classification dataset (see rnnkit datasets)")
    if not path.is_file():
        raise ValueError(f"data must be a file, got {name!r} (a folder)")
    fmt = _format_of(path, config.format)
    if fmt == "npz":
        return _sequence_data(read_npz(path))
    if fmt == "ts":
        return _sequence_data(read_ts(path))
    df = _read_table(path, fmt)
    columns = [str(c) for c in df.columns]
    if fmt != "long_csv" and (config.text_column in columns or config.id_column is None):
        if not labelled and label_column not in columns:
            label_column = None
        return _text_data(df, repr(name), config.text_column, label_column)
    if config.id_column is None:
        raise ValueError(
            f"{name!r}: id_column must name the sequence-id column of a long-format CSV, got None"
        )
    if not labelled and label_column not in columns:
        label_column = None
    seqs = read_long_csv(
        df,
        id_column=config.id_column,
        time_column=config.time_column,
        feature_columns=config.feature_columns,
        label_column=label_column,
    )
    return _sequence_data(seqs, config.id_column)


def stratified_split(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) indices: round(fraction · N_c) of each class c held out, at least one
    of each class kept."""
    keys = np.asarray([str(v) for v in labels])
    kept, held = [], []
    for key in sorted(set(keys)):
        idx = rng.permutation(np.flatnonzero(keys == key))
        n = min(round(len(idx) * fraction), len(idx) - 1)
        held.append(idx[:n])
        kept.append(idx[n:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def make_splits(
    data: ClassificationData, c: ClassifyConfig, seed: int, test: ClassificationData | None
) -> dict[str, ClassificationData]:
    """Train / validation / test parts (see :class:`ClassifyConfig` for the rules)."""
    if data.labels is None:
        raise ValueError("data must have labels to train a classifier")
    rng = np.random.default_rng(seed)
    if test is not None:
        pool = data
    elif data.split is not None:
        pool = data.subset(np.flatnonzero(data.split == "train"))
        test = data.subset(np.flatnonzero(data.split == "test"))
    else:
        LabelSet.fit(data.labels, argument=f"label column {c.label_column!r}")
        keep, held = stratified_split(data.labels, c.test_fraction, rng)
        pool, test = data.subset(keep), data.subset(held)
    LabelSet.fit(pool.labels, argument=f"label column {c.label_column!r} of the training data")
    keep, held = stratified_split(pool.labels, c.val_fraction, rng)
    train, val = pool.subset(keep), pool.subset(held)
    if c.max_train is not None and len(train) > c.max_train:
        keep, _ = stratified_split(train.labels, 1 - c.max_train / len(train), rng)
        train = train.subset(keep)
    return {"train": train, "val": val, "test": test}


# --------------------------------------------------------------------------------------------
# Preprocessing: what turns data into model input, saved with the artifact
# --------------------------------------------------------------------------------------------


@dataclass
class Preprocessing:
    """Fit on the training split; serialised into the artifact as JSON.

    Attributes:
        kind: 'text' or 'sequences'.
        labels: the classes.
        text: the text pipeline (text).
        normalizer: the input normaliser (numeric).
        step_shape: shape of one step of numeric input, (F,) or (H, W[, C]).
        columns: the column options the data was read with (text_column, label_column,
            id_column, time_column, feature_columns, format).
    """

    kind: str
    labels: LabelSet
    text: TextPipeline | None = None
    normalizer: Normalizer | None = None
    step_shape: tuple[int, ...] = ()
    columns: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, train: ClassificationData, c: ClassifyConfig) -> Preprocessing:
        labels = LabelSet.fit(train.labels, argument=f"label column {c.label_column!r}")
        columns = {
            k: getattr(c, k)
            for k in (
                "text_column",
                "label_column",
                "id_column",
                "time_column",
                "feature_columns",
                "format",
            )
        }
        if train.kind == "text":
            tokenizer = Tokenizer(c.tokenizer, lowercase=c.lowercase)
            pipeline = TextPipeline.fit(
                train.texts,
                tokenizer,
                min_freq=c.min_freq,
                max_size=c.max_vocab,
                max_length=c.max_length,
                truncation=c.truncation,
            )
            return cls("text", labels, text=pipeline, columns=columns)
        normalizer = Normalizer(c.normalization).fit(train.sequences)
        shape = tuple(int(s) for s in train.sequences[0].shape[1:])
        return cls("sequences", labels, normalizer=normalizer, step_shape=shape, columns=columns)

    def inputs(self, data: ClassificationData, *, where: str = "data") -> list[Any]:
        """Model inputs, one per sequence: token-id lists, or normalised float32 arrays."""
        if data.kind != self.kind:
            raise ValueError(
                f"{where} must hold {'text' if self.kind == 'text' else 'numeric sequences'} "
                f"like the training data, got {data.kind}"
            )
        if self.kind == "text":
            out = []
            for i, text in enumerate(data.texts):
                try:
                    out.append(self.text.encode(text))
                except ValueError:
                    raise ValueError(
                        f"{where}: text must contain at least one token, got {text!r} at data "
                        f"row {i + 1}"
                    ) from None
            return out
        for i, s in enumerate(data.sequences):
            if tuple(s.shape[1:]) != self.step_shape:
                raise ValueError(
                    f"{where}: every step must have shape {self.step_shape} like the training "
                    f"data, got {tuple(s.shape[1:])} in sequence {i + 1}"
                )
        return [self.normalizer.transform(s) for s in data.sequences]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "labels": self.labels.to_json(),
            "text": None if self.text is None else self.text.to_json(),
            "normalizer": None if self.normalizer is None else self.normalizer.to_json(),
            "step_shape": list(self.step_shape),
            "columns": self.columns,
        }

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> Preprocessing:
        return cls(
            state["kind"],
            LabelSet.from_json(state["labels"]),
            None if state["text"] is None else TextPipeline.from_json(state["text"]),
            None if state["normalizer"] is None else Normalizer.from_json(state["normalizer"]),
            tuple(state["step_shape"]),
            dict(state["columns"]),
        )


def build_model(
    c: ClassifyConfig, pre: Preprocessing, train_labels: np.ndarray
) -> SequenceClassifier:
    """The classifier a resolved config asks for, sized for ``pre``'s inputs."""
    weights = None
    if c.class_weights == "balanced":
        counts = np.bincount(pre.labels.encode(train_labels), minlength=len(pre.labels))
        weights = (counts.sum() / (len(counts) * np.maximum(counts, 1))).tolist()
    kind_args: dict[str, Any]
    if pre.kind == "text":
        kind_args = {
            "input_kind": "tokens",
            "vocab_size": len(pre.text.vocabulary),
            "embedding_dim": c.embedding_dim or 128,
        }
    elif len(pre.step_shape) == 1:
        kind_args = {"input_kind": "features", "input_size": pre.step_shape[0]}
    else:
        kind_args = {
            "input_kind": "frames",
            "frame_shape": list(pre.step_shape),
            "frame_features": c.frame_features,
        }
    return SequenceClassifier(
        len(pre.labels),
        **kind_args,
        cell=c.cell,
        hidden_size=c.hidden_size,
        num_layers=c.num_layers,
        bidirectional=c.bidirectional,
        pooling=c.pooling,
        head_hidden=c.head_hidden,
        dropout=c.dropout,
        class_weights=weights,
    )


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def predict_proba(
    model: SequenceClassifier, inputs: list[Any], batch_size: int = 256
) -> np.ndarray:
    """Class probabilities (N, C) for model inputs, in input order (batches bucketed by
    length, then put back)."""
    lengths = np.array([len(x) for x in inputs])
    out = np.zeros((len(inputs), model.num_classes), dtype=np.float64)
    order = np.argsort(lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        padded, lens = pad_sequences([inputs[i] for i in idx])
        out[idx] = model.predict_proba(padded, lens).double().numpy()
    return out


@dataclass
class ClassifyResult:
    """What :func:`train` produced.

    Attributes:
        run_dir: the run directory.
        artifact_path: ``run_dir / 'model.safetensors'``.
        metrics: the content of ``metrics.json``: ``metrics['test']['model']['accuracy']``,
            ``metrics['test']['baselines'][name]['accuracy']``, ``metrics['data']``...
        reports: the model's :class:`ClassificationReport` per part ('val', 'test').
        plots: PNG files written by the task (the trainer adds learning curves).
        config: the resolved configuration.
        training: the training configuration used.
    """

    run_dir: Path
    artifact_path: Path
    metrics: dict[str, Any]
    reports: dict[str, ClassificationReport]
    plots: list[Path]
    config: ClassifyConfig
    training: TrainConfig

    def table(self, part: str = "test") -> str:
        """Markdown table of ``part``: the model beside the baselines (accuracy, macro-F1)."""
        if part not in self.metrics or part not in ("val", "test"):
            scored = [p for p in ("val", "test") if p in self.metrics]
            raise ValueError(f"part must be one of {scored}, got {part!r}")
        return metrics_table(self.metrics[part])

    def summary(self) -> str:
        """A short Markdown account: data, model, training, test table, per-class report."""
        m, c = self.metrics, self.config
        d = m["data"]
        arch = (
            f"{'bidirectional ' if c.bidirectional else ''}{c.cell.upper()} "
            f"{c.num_layers}×{c.hidden_size}, {c.pooling} pooling"
        )
        lines = [
            f"Classifying {c.data!r} ({d['kind']}, {d['classes']} classes): {arch}.",
            "",
            f"Data: {d['train']} train, {d['val']} validation, {d['test']} test sequences"
            + (
                f"; vocabulary {d['vocabulary']} tokens, {d['truncated']} training texts cut "
                f"at {c.max_length} tokens"
                if d["kind"] == "text"
                else ""
            )
            + ".",
            f"Training: {m['training']['epochs']} epochs, best epoch {m['training']['best_epoch']},"
            f" {m['training']['seconds']:.0f} s.",
            "",
            "Test:",
            "",
            self.table("test"),
            "",
            "```",
            self.reports["test"].format_table(),
            "",
            self.reports["test"].format_confusion(),
            "```",
        ]
        return "\n".join(lines)


def metrics_table(part: dict[str, Any]) -> str:
    """Markdown table: the model and each baseline with accuracy and macro-F1."""
    rows = [("rnnkit model", part["model"]), *part.get("baselines", {}).items()]
    lines = ["| model | accuracy | macro-F1 |", "|---|---:|---:|"]
    lines += [f"| {name} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} |" for name, r in rows]
    return "\n".join(lines)


def _baselines(
    pre: Preprocessing, parts: dict[str, ClassificationData], inputs: dict[str, list[Any]]
) -> dict[str, dict[str, ClassificationReport]]:
    """Each baseline's reports on 'val' and 'test', fit on the training split."""
    y = {k: pre.labels.encode(parts[k].labels) for k in parts}
    names = pre.labels.names
    if pre.kind == "text":
        models = [BagOfWordsLogistic(len(pre.text.vocabulary), len(names))]
    else:
        models = [NearestNeighbour(), ChannelStatsLogistic(len(names))]
    out = {}
    for b in models:
        valid = (inputs["val"], y["val"]) if len(parts["val"]) else None
        b.fit(inputs["train"], y["train"], valid)
        out[b.name] = {
            k: classification_report(y[k], b.predict(inputs[k]), names)
            for k in ("val", "test")
            if len(parts[k])
        }
    return out


def train(
    config: ClassifyConfig,
    run_dir: str | os.PathLike[str],
    *,
    training: TrainConfig | None = None,
    quiet: bool = False,
) -> ClassifyResult:
    """Train, score and save a sequence classifier; see the module docstring for what is
    written.

    Args:
        config: the classification options (None options are resolved first).
        run_dir: an existing folder for the run's files.
        training: trainer options (default :func:`default_training` for ``config.data``); its
            ``out_dir`` defaults to ``run_dir`` and ``quiet`` is or-ed with ``quiet``.
        quiet: no progress bar and no printed lines.

    Raises:
        ValueError: bad data or options (the message says which and why).
    """
    started = time.perf_counter()
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"run_dir must be an existing folder, got {str(run_dir)!r}")
    training = copy.deepcopy(training) if training is not None else default_training(config.data)
    training.quiet = training.quiet or quiet
    if training.out_dir is None:
        training.out_dir = str(run_dir)

    def say(text: str) -> None:
        if not training.quiet:
            print(text, flush=True)

    data = read_data(config.data, config)
    c = resolve(config, data.kind)
    test = read_data(c.test_data, c) if c.test_data is not None else None
    parts = make_splits(data, c, training.seed, test)
    pre = Preprocessing.fit(parts["train"], c)
    inputs = {k: pre.inputs(p, where=f"{k} data") for k, p in parts.items()}
    targets = {k: pre.labels.encode(p.labels, argument=f"{k} labels") for k, p in parts.items()}
    data_facts: dict[str, Any] = {
        "kind": pre.kind,
        "classes": len(pre.labels),
        "labels": pre.labels.names,
        **{k: len(p) for k, p in parts.items()},
    }
    if pre.kind == "text":
        data_facts["vocabulary"] = len(pre.text.vocabulary)
        data_facts["truncated"] = pre.text.count_truncated(parts["train"].texts)
        say(
            f"data: {len(parts['train'])} train / {len(parts['val'])} validation / "
            f"{len(parts['test'])} test texts; vocabulary {len(pre.text.vocabulary)} tokens "
            f"(min_freq {c.min_freq}); {data_facts['truncated']} training texts cut at "
            f"{c.max_length} tokens"
        )
    else:
        say(
            f"data: {len(parts['train'])} train / {len(parts['val'])} validation / "
            f"{len(parts['test'])} test sequences, steps of shape {pre.step_shape}"
        )

    seed_everything(training.seed)
    model = build_model(c, pre, parts["train"].labels)
    train_loader = BucketLoader(
        inputs["train"], targets["train"], batch_size=c.batch_size, seed=training.seed
    )
    val_loader = None
    if len(parts["val"]):
        val_loader = BucketLoader(inputs["val"], targets["val"], batch_size=256, shuffle=False)
    elif training.monitor.startswith("val_"):
        training.monitor = "train_loss"
        training.early_stopping = training.plateau_patience = None
    best = BestWeights(training.monitor, training.monitor_mode)
    trainer = Trainer(model, training, callbacks=[*default_callbacks(training), best])
    trainer.fit(train_loader, val_loader)
    if best.weights is not None:
        model.load_state_dict(best.weights)
    model.eval()

    reports: dict[str, ClassificationReport] = {}
    metrics: dict[str, Any] = {"data": data_facts}
    for part in ("val", "test"):
        if len(parts[part]):
            probs = predict_proba(model, inputs[part])
            reports[part] = classification_report(
                targets[part], probs.argmax(axis=1), pre.labels.names
            )
            metrics[part] = {"model": reports[part].to_dict(), "baselines": {}}
    if c.baselines:
        for name, by_part in _baselines(pre, parts, inputs).items():
            for part, report in by_part.items():
                metrics[part]["baselines"][name] = {
                    "accuracy": report.accuracy,
                    "macro_f1": report.macro_f1,
                }
    metrics["training"] = {
        "epochs": len(trainer.history.epochs),
        "best_epoch": None if best.epoch is None else best.epoch + 1,
        "best_value": best.best,
        "monitor": training.monitor,
        "seconds": time.perf_counter() - started,
    }
    artifact_path = save_classifier(run_dir / "model.safetensors", model, pre, c, metrics)
    atomic_write_bytes(run_dir / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    plots = []
    if training.plots and "test" in reports:
        plots.append(
            plot_confusion_matrix(
                reports["test"],
                run_dir / "confusion_matrix.png",
                title=f"{c.data}: test accuracy {reports['test'].accuracy:.3f}",
            )
        )
    result = ClassifyResult(run_dir, artifact_path, metrics, reports, plots, c, training)
    say("")
    say(result.table("test"))
    return result


# --------------------------------------------------------------------------------------------
# Artifacts, evaluation, prediction
# --------------------------------------------------------------------------------------------


def save_classifier(
    path: str | os.PathLike[str],
    model: SequenceClassifier,
    pre: Preprocessing,
    config: ClassifyConfig,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` and its preprocessing as an artifact (``kind='sequence-classifier'``)."""
    summary = {
        part: {"accuracy": m["model"]["accuracy"], "macro_f1": m["model"]["macro_f1"]}
        for part, m in (metrics or {}).items()
        if part in ("val", "test")
    }
    return save_artifact(
        path,
        Artifact(
            kind=ARTIFACT_KIND,
            config={"model": model.config, "task": config.to_dict()},
            tensors=dict(model.state_dict()),
            preprocessing=pre.to_json(),
            metrics=summary,
        ),
    )


@dataclass
class LoadedClassifier:
    """A classifier rebuilt from its artifact, ready to predict."""

    model: SequenceClassifier
    preprocessing: Preprocessing
    config: ClassifyConfig
    metrics: dict[str, Any]


def load_classifier(path: str | os.PathLike[str]) -> LoadedClassifier:
    """Rebuild a classifier saved by :func:`train` (never executes code from the file).

    Raises:
        ValueError: the artifact holds another kind of model.
    """
    art = load_artifact(path)
    if art.kind != ARTIFACT_KIND:
        raise ValueError(
            f"artifact must be a {ARTIFACT_KIND!r} (from rnnkit train --task classify), got "
            f"{art.kind!r} in {str(path)!r}"
        )
    model = SequenceClassifier(**art.config["model"])
    model.load_state_dict(art.tensors)
    model.eval()
    return LoadedClassifier(
        model,
        Preprocessing.from_json(art.preprocessing),
        ClassifyConfig.from_dict(art.config["task"]),
        art.metrics,
    )


def _read_for(loaded: LoadedClassifier, data: Any, *, labelled: bool) -> ClassificationData:
    """Read ``data`` with the column options the model was trained with."""
    c = copy.deepcopy(loaded.config)
    for key, value in loaded.preprocessing.columns.items():
        setattr(c, key, value)
    if isinstance(data, (list, tuple)) and all(isinstance(t, str) for t in data):
        data = pd.DataFrame({c.text_column: list(data)})
    elif isinstance(data, SequenceSet):
        return _sequence_data(data)
    elif isinstance(data, ClassificationData):
        return data
    if data is None:
        # The model's own test data: a bundled dataset's fixed test split, or the same seeded
        # split of the training file.
        full = read_data(c.data, c)
        if c.test_data is not None:
            return read_data(c.test_data, c)
        if full.split is not None:
            return full.subset(np.flatnonzero(full.split == "test"))
        raise ValueError(
            f"data must be given to evaluate a model trained on the file {c.data!r} (its test "
            f"split is not stored in the artifact)"
        )
    if isinstance(data, (str, os.PathLike)) and _is_bundled(str(data)) and not Path(data).exists():
        full = read_data(str(data), c)
        return full.subset(np.flatnonzero(full.split == "test")) if full.split is not None else full
    return read_data(data, c, labelled=labelled)


def evaluate(
    artifact: str | os.PathLike[str] | LoadedClassifier, data: Any = None
) -> dict[str, Any]:
    """Score a saved classifier on labelled ``data``.

    Args:
        artifact: an artifact path (or a :class:`LoadedClassifier`).
        data: a file, a text DataFrame, a bundled dataset name (its test split), or None (the
            training data's test split, for bundled datasets and separate test files).

    Returns:
        metrics: accuracy, macro_f1, per_class precision/recall/F1/support, confusion_matrix.

    Raises:
        ValueError: missing labels, or labels the model was not trained on.
    """
    loaded = artifact if isinstance(artifact, LoadedClassifier) else load_classifier(artifact)
    part = _read_for(loaded, data, labelled=True)
    if part.labels is None:
        raise ValueError("data must have a label column to evaluate a classifier")
    pre = loaded.preprocessing
    y = pre.labels.encode(part.labels, argument="labels")
    probs = predict_proba(loaded.model, pre.inputs(part))
    return classification_report(y, probs.argmax(axis=1), pre.labels.names).to_dict()


def predict(artifact: str | os.PathLike[str] | LoadedClassifier, data: Any) -> pd.DataFrame:
    """Predicted label and class probabilities for every sequence of ``data``.

    Args:
        artifact: an artifact path (or a :class:`LoadedClassifier`).
        data: a file in the training format (labels optional), a text DataFrame, a list of
            texts, or a bundled dataset name (its test split).

    Returns:
        One row per sequence: the input's columns (text files: every column; numeric: the
        sequence id), then ``predicted_label`` and ``prob_<class>`` for every class.
    """
    loaded = artifact if isinstance(artifact, LoadedClassifier) else load_classifier(artifact)
    part = _read_for(loaded, data, labelled=False)
    pre = loaded.preprocessing
    probs = predict_proba(loaded.model, pre.inputs(part))
    out = part.frame.copy()
    out["predicted_label"] = pre.labels.decode(probs.argmax(axis=1))
    for j, name in enumerate(pre.labels.names):
        out[f"prob_{name}"] = probs[:, j]
    return out
