"""The options of a tagging run (:class:`TagConfig`), the bundled dataset's defaults, and how
unset options are resolved (:func:`resolve`)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

from rnnkit.core.checks import choice_problems, int_problems
from rnnkit.models.backbone import model_cells
from rnnkit.tasks.pipeline import TaskConfig

#: Training options that suit tagging; :func:`default_training` adds the dataset's own.
TAG_TRAINING_DEFAULTS: dict[str, Any] = {
    "epochs": 10,
    "lr": 3e-3,
    "clip_norm": 1.0,
    "early_stopping": 3,
    "monitor": "val_loss",
}
#: Per bundled dataset: tagging options (docs/classification.md).
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "chinese-segmentation": {
        "tokenizer": "char",
        "max_train": 20000,
        "val_fraction": 0.03,
        "hidden_size": 64,
    },
}
DATASET_TRAINING: dict[str, dict[str, Any]] = {"chinese-segmentation": {"epochs": 6}}


@dataclass
class TagConfig(TaskConfig):
    """Options of a tagging run (training options live in :class:`rnnkit.train.TrainConfig`).
    Options left at None take the bundled dataset's defaults, else generic ones.

    data: the bundled 'chinese-segmentation', or a tagged file: .jsonl (objects with 'tokens'
        and 'tags' lists), .conll/.tsv (token and tag per line, blank line between sentences),
        or token/tag pairs separated by spaces, one sentence per line.
    test_data: a separate tagged test file (None: hold out test_fraction of the sentences).
    format: 'auto' (from the extension), 'jsonl', 'conll' or 'slash'.
    val_fraction: share of the training sentences held out for validation (None: the
        dataset's, 0.03 for chinese-segmentation, else 0.1).
    test_fraction: share of the sentences held out for the test (files without test_data).
    max_train: use at most this many training sequences (a seeded sample; None: the
        dataset's default, 20,000 clauses for chinese-segmentation, else all).
    tokenizer: how raw text given to predict is split into tokens: 'char' (every
        non-space character, for Chinese) or 'word'; None: the dataset's, or 'word'.
    lowercase: lower-case tokens before looking them up.
    min_freq: a token needs this many occurrences in training to get its own id.
    max_vocab: at most this many token ids, padding and unknown included.
    max_length: longer sequences are cut into consecutive pieces of at most this many tokens.
    cell: recurrent cell, 'lstm', 'gru', 'rnn' (Elman) or another cell of the cell table.
    hidden_size: hidden units per layer and direction (None: the dataset's, 64 for
        chinese-segmentation, else 128).
    num_layers: stacked recurrent layers.
    bidirectional: read each sequence in both directions (a tag depends on what follows).
    embedding_dim: size of token embeddings.
    dropout: on embeddings, between layers and before the output layer.
    batch_size: sequences per training batch (bucketed by length).
    baselines: also score the most-frequent-tag-per-token baseline.
    """

    data: str = "chinese-segmentation"
    test_data: str | None = None
    format: Literal["auto", "jsonl", "conll", "slash"] = "auto"
    val_fraction: float | None = None
    test_fraction: float = 0.2
    max_train: int | None = None
    tokenizer: Literal["word", "char"] | None = None
    lowercase: bool = True
    min_freq: int = 2
    max_vocab: int | None = 20000
    max_length: int = 100
    cell: str = "lstm"
    hidden_size: int | None = None
    num_layers: int = 1
    bidirectional: bool = True
    embedding_dim: int = 64
    dropout: float = 0.2
    batch_size: int = 64
    baselines: bool = True

    def problems(self) -> list[str]:
        problems = choice_problems(
            self,
            (
                ("format", ("auto", "jsonl", "conll", "slash")),
                ("tokenizer", (None, "word", "char")),
                ("cell", model_cells()),
            ),
        )
        problems += int_problems(
            self,
            (
                ("max_train", 2, True),
                ("min_freq", 1, False),
                ("max_vocab", 3, True),
                ("max_length", 1, False),
                ("hidden_size", 1, True),
                ("num_layers", 1, False),
                ("embedding_dim", 1, False),
                ("batch_size", 1, False),
            ),
        )
        for name in ("val_fraction", "test_fraction", "dropout"):
            value = getattr(self, name)
            if value is None and name == "val_fraction":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                problems.append(f"{name} must be a number in [0, 1), got {value!r}")
        return problems



def resolve(config: TagConfig) -> TagConfig:
    """A copy of ``config`` with None options set from the dataset's defaults (else generic:
    'word' tokens, 10% validation, 128 hidden units, all training sequences)."""
    c = copy.deepcopy(config)
    generic = {"tokenizer": "word", "val_fraction": 0.1, "hidden_size": 128}
    for key, value in {**generic, **DATASET_DEFAULTS.get(c.data, {})}.items():
        if getattr(c, key) is None:
            setattr(c, key, value)
    return c
