"""The options of a classification run (:class:`ClassifyConfig`), the defaults per input kind
and per bundled dataset, and how unset options are resolved (:func:`resolve`)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from typing import Any, Literal

from rnnkit.core.checks import choice_problems, int_problems
from rnnkit.data.classification_data import FORMATS
from rnnkit.models.backbone import model_cells
from rnnkit.tasks.file_options import FileOptions
from rnnkit.tasks.pipeline import TaskConfig

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
        # batch_size: from the training-set size, see batch_size_for
        "conv_branch": True,
        "min_updates": 600,
    },
}
#: Options left unset that every input kind resolves alike.
COMMON_DEFAULTS: dict[str, Any] = {
    "val_fraction": 0.1,
    "conv_branch": False,
    "min_updates": 0,
    "rotation": 0.0,
}

#: Batch size of numeric data from its training-set size N: N // 10 within [4, 32] (about ten
#: updates per epoch on small sets, as in Fawaz et al. 2019, never tiny batches for the
#: normalisation statistics of the conv branch).
BATCH_MIN, BATCH_MAX = 4, 32


def batch_size_for(n_train: int) -> int:
    """The numeric-data batch size for ``n_train`` training sequences (see :data:`BATCH_MIN`)."""
    return int(min(BATCH_MAX, max(BATCH_MIN, n_train // 10)))


def budget_epochs(
    min_updates: int, batches_per_epoch: int, epochs: int, patience: int | None
) -> tuple[int, int | None]:
    """(epochs, early-stopping patience) for an update budget.

    At least ``min_updates`` optimiser updates (epochs = ceil(min_updates / batches per epoch),
    never fewer than ``epochs``), and a patience of at least a quarter of that budget in epochs
    (never less than ``patience``; None stays None), so a small dataset whose epoch is a
    handful of updates trains as many updates as a large one and is not stopped after a few.
    """
    b = max(1, int(batches_per_epoch))
    derived = max(int(epochs), -(-int(min_updates) // b))
    if patience is None:
        return derived, None
    return derived, max(int(patience), -(-int(min_updates) // (4 * b)))

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
    # Images read row by row keep the configuration measured on them (docs/classification.md).
    "digits": {"normalization": "global", "batch_size": 32, "conv_branch": False, "min_updates": 0},
    "mnist-5k": {
        "normalization": "global",
        "hidden_size": 128,
        "batch_size": 32,
        "conv_branch": False,
        "min_updates": 0,
    },
    # Skeletons: the setting that scored higher on validation (training subjects only) of
    # the two measured in docs/classification.md.
    **{
        name: {
            "cell": "gru",
            "bidirectional": True,
            "pooling": "mean",
            "rotation": 15.0,
            "dropout": 0.2,
        }
        for name in ("msr-action3d", "msr-action3d-as1", "msr-action3d-as2", "msr-action3d-as3")
    },
}
DATASET_TRAINING: dict[str, dict[str, Any]] = {
    "basic-motions": {"epochs": 80, "lr": 3e-3, "early_stopping": None},
    "digits": {"epochs": 40, "early_stopping": 6},
    "mnist-5k": {"epochs": 30, "early_stopping": 5},
}


@dataclass
class ClassifyConfig(TaskConfig, FileOptions):
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
        'npz' or 'ts'; image and pose sequences: 'skeleton' (a long CSV with columns sequence,
        frame, joint, x, y, z and a label column, or an NPZ with xyz and offsets), 'video' (a
        folder with a sub-folder of videos per class, .mp4/.avi/.gif or folders of frames) or
        'depth' (the same, read as one grey channel).
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
    cell: recurrent cell, 'lstm', 'gru', 'rnn' (Elman) or another cell of the cell table.
    hidden_size: hidden units per layer and direction.
    num_layers: stacked recurrent layers.
    bidirectional: run each layer in both directions.
    pooling: summary of the recurrent outputs: 'last' (state at the last real step), 'mean',
        'max' (over real steps) or 'attention'.
    embedding_dim: size of token embeddings (text).
    frame_features: size of each frame's code from the per-frame CNN (video inputs).
    frame_encoder: video inputs: 'cnn' codes each frame on its own (LRCN); 'convlstm' or
        'convgru' run a convolutional recurrent layer over the frames first (Shi et al. 2015),
        so the codes carry where things moved between frames.
    frames: video inputs: at most this many frames per video, one from each of that many equal
        segments: the segment's centre in evaluation and prediction, a random frame of it in
        every training epoch (temporal jitter; :mod:`rnnkit.data.frame_sampling`). None: every
        frame.
    frame_stride: video inputs: keep every this-many-th frame first (1: all).
    flip: video inputs: mirror each training video left-right with probability 1/2 every
        epoch (only where a mirrored action keeps its label).
    crop: video inputs: shift each training video by a random offset of up to this many pixels
        in each direction every epoch (pad with edge values, cut the original size; 0: off).
    head_hidden: width of a hidden ReLU layer in the head (0: a linear head).
    dropout: on embeddings/inputs, between layers and before the head.
    rotation: skeleton inputs: every training epoch, rotate each sequence about the vertical
        axis by its own random angle of at most this many degrees (view-point augmentation;
        None: 0, or the bundled dataset's value).
    class_weights: 'none' or 'balanced' (loss weight of class c is N / (C · N_c)).
    sampling: 'auto' (class-balanced for numeric data whose largest class has at least 1.5×
        the sequences of its smallest, else shuffled), 'shuffle' or 'balanced' (each epoch
        draws sequences with probability ∝ 1 / class size).
    conv_branch: numeric steps: add the temporal CNN of LSTM-FCN beside the recurrent layer
        (default for numeric sequences; see docs/classification.md).
    selection: what picks the best epoch and drives early stopping when the training monitor
        is left at its default: 'auto' (numeric data with an update budget: 'accuracy'; else
        'loss'), 'accuracy' (validation accuracy, ties to the lower loss) or 'loss'
        (validation loss). A monitor given in the training options always wins.
    min_updates: train at least this many optimiser updates when the training options' epochs
        and early-stopping patience are left at their defaults (epochs and patience are then
        derived from it and the number of batches; 0: off).
    batch_size: sequences per training batch (bucketed by length; numeric data: N_train // 10
        within [4, 32]).
    baselines: also fit and score the non-recurrent baselines (bag-of-words logistic
        regression for text; 1-nearest-neighbour and per-channel-statistics logistic
        regression for numeric sequences).
    dtw_baseline: numeric sequences: 'auto' (also score 1-NN with DTW in a 10% Sakoe-Chiba
        band, from dtaidistance — pip install 'rnnkit[dtw]' — when it is installed and the
        work is within dtw_max_cells, else a note says why not; the environment variable
        RNNKIT_LIBRARY_BASELINES=off turns 'auto' off) or 'off'.
    dtw_max_cells: the most DTW table cells 1-NN DTW may compute, (Σ training lengths) ×
        (Σ validation and test lengths); above it the baseline is skipped with the count
        (1e10 cells of one channel take about 14 s on one core: 7e8 cells/s measured).
    minirocket_baseline: numeric sequences: 'auto' (also score MiniRocket — 9,996 random
        convolutional features and a ridge classifier, Dempster et al. 2021 — from sktime,
        pip install 'rnnkit[minirocket]', when it is installed and the work is within
        minirocket_max_cells, else a note says why not; RNNKIT_LIBRARY_BASELINES=off turns
        'auto' off) or 'off'.
    minirocket_max_cells: the most work MiniRocket may do: 9,996 × channels × (Σ lengths of
        the training, validation and test sequences) + N_train × 9,996 × min(N_train, 9,996)
        (the ridge); above it the baseline is skipped with the count (about 4e9 cells/s on one
        core measured: the default is about a minute).
    fallback: 'baseline' (when the network loses to the best of those baselines on validation
        accuracy, ship that baseline as the model: predict then labels with it — without
        class probabilities — and the artifact and summary say so) or 'none' (always ship the
        network).
    """

    data: str = "rotten-tomatoes"
    test_data: str | None = None
    format: Literal[
        "auto", "csv", "tsv", "jsonl", "long_csv", "npz", "ts", "skeleton", "video", "depth"
    ] = "auto"
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
    cell: str | None = None
    hidden_size: int | None = None
    num_layers: int = 1
    bidirectional: bool | None = None
    pooling: Literal["last", "mean", "max", "attention"] | None = None
    embedding_dim: int | None = None
    frame_features: int = 64
    frame_encoder: Literal["cnn", "convlstm", "convgru"] = "cnn"
    frames: int | None = None
    frame_stride: int = 1
    flip: bool = False
    crop: int = 0
    head_hidden: int = 0
    dropout: float | None = None
    rotation: float | None = None
    class_weights: Literal["none", "balanced"] = "none"
    sampling: Literal["auto", "shuffle", "balanced"] = "auto"
    conv_branch: bool | None = None
    selection: Literal["auto", "accuracy", "loss"] = "auto"
    min_updates: int | None = None
    batch_size: int | None = None
    baselines: bool = True
    dtw_baseline: Literal["auto", "off"] = "auto"
    dtw_max_cells: int = 10_000_000_000
    minirocket_baseline: Literal["auto", "off"] = "auto"
    minirocket_max_cells: int = 250_000_000_000
    fallback: Literal["none", "baseline"] = "none"

    def problems(self) -> list[str]:
        return _problems(self) + self.file_problems()


def _problems(c: ClassifyConfig) -> list[str]:
    out = choice_problems(
        c,
        (
            ("format", FORMATS),
            ("fallback", ("none", "baseline")),
            ("dtw_baseline", ("auto", "off")),
            ("minirocket_baseline", ("auto", "off")),
            ("tokenizer", (None, "word", "char")),
            ("truncation", ("end", "start")),
            ("normalization", (None, "channel", "global", "none")),
            ("cell", (None, *model_cells())),
            ("pooling", (None, "last", "mean", "max", "attention")),
            ("class_weights", ("none", "balanced")),
            ("sampling", ("auto", "shuffle", "balanced")),
            ("selection", ("auto", "accuracy", "loss")),
            ("conv_branch", (None, True, False)),
            ("frame_encoder", ("cnn", "convlstm", "convgru")),
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
            ("frames", 1, True),
            ("frame_stride", 1, False),
            ("crop", 0, False),
            ("head_hidden", 0, False),
            ("batch_size", 1, True),
            ("max_train", 2, True),
            ("min_updates", 0, True),
            ("dtw_max_cells", 1, False),
            ("minirocket_max_cells", 1, False),
        ),
    )
    for name, optional in (("val_fraction", True), ("test_fraction", False), ("dropout", True)):
        value = getattr(c, name)
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            out.append(f"{name} must be a number in [0, 1), got {value!r}")
    if c.rotation is not None and (
        isinstance(c.rotation, bool)
        or not isinstance(c.rotation, (int, float))
        or not 0 <= c.rotation <= 180
    ):
        out.append(f"rotation must be a number of degrees in [0, 180], got {c.rotation!r}")
    if not isinstance(c.flip, bool):
        out.append(f"flip must be true or false, got {c.flip!r}")
    if not isinstance(c.data, str) or not c.data:
        out.append(f"data must be a file path or a bundled dataset name, got {c.data!r}")
    return out


def resolve(config: ClassifyConfig, kind: str) -> ClassifyConfig:
    """A copy of ``config`` with every None option set: the bundled dataset's default, else the
    default of the input ``kind`` ('text' or 'sequences'). ``batch_size`` of numeric data stays
    None here: the task sets it from the training-set size (:func:`batch_size_for`)."""
    c = copy.deepcopy(config)
    dataset = DATASET_DEFAULTS.get(c.data, {})
    generic = {**COMMON_DEFAULTS, **GENERIC_DEFAULTS[kind]}
    for f in fields(c):
        if getattr(c, f.name) is None and f.name in {**generic, **dataset}:
            setattr(c, f.name, dataset.get(f.name, generic.get(f.name)))
    return c
