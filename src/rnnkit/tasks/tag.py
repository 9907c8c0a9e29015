"""Sequence tagging (one label per token) as one call each: ``train``, ``evaluate``,
``predict``.

``train(config, run_dir)`` reads a tagged corpus — JSONL (``{"tokens": [...], "tags": [...]}``),
CoNLL (``token tag`` lines, blank line between sentences), ``token/tag`` lines, or the bundled
``chinese-segmentation`` — splits it by sentence, builds the vocabulary on the training split,
trains a :class:`~rnnkit.models.tagger.SequenceTagger` (bidirectional by default) with
:class:`rnnkit.train.Trainer`, scores it beside the most-frequent-tag-per-token baseline, and
writes ``model.safetensors`` (``kind='sequence-tagger'``), ``metrics.json``,
``confusion_matrix.png`` and the trainer's files into ``run_dir``.

Sequences longer than ``max_length`` tokens are cut into consecutive pieces (never truncated:
every token keeps its tag). For BMES word segmentation tags (b, m, e, s) the metrics add the
word-level precision, recall and F1 of the SIGHAN bakeoffs, and :func:`segment` returns words.
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from rnnkit.config import choice_problems, int_problems
from rnnkit.data.bucketing import BucketLoader, pad_sequences
from rnnkit.data.labels import LabelSet
from rnnkit.data.registry import list_datasets, load_dataset
from rnnkit.data.sequence_files import closest_hint
from rnnkit.data.tagging import TaggedCorpus, bmes_to_words, read_tagged
from rnnkit.data.text import TextPipeline, Tokenizer, Vocabulary
from rnnkit.io.artifact import Artifact, atomic_write_bytes, load_artifact, save_artifact
from rnnkit.models.classification_baselines import MostFrequentTag
from rnnkit.models.classification_metrics import (
    ClassificationReport,
    classification_report,
    plot_confusion_matrix,
    segmentation_scores,
)
from rnnkit.models.tagger import SequenceTagger
from rnnkit.train import TrainConfig, Trainer, seed_everything
from rnnkit.train.callbacks import BestWeights, default_callbacks

ARTIFACT_KIND = "sequence-tagger"
BMES = frozenset("bmes")

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


def training_defaults(dataset: str | None = None) -> dict[str, Any]:
    """:class:`TrainConfig` values for this task: :data:`TAG_TRAINING_DEFAULTS`, then the
    bundled ``dataset``'s own (a command line lays config-file values and flags over these)."""
    return {**TAG_TRAINING_DEFAULTS, **DATASET_TRAINING.get(dataset or "", {})}


def default_training(dataset: str | None = None, **overrides: Any) -> TrainConfig:
    """:class:`TrainConfig` from :func:`training_defaults` for ``dataset``, then ``overrides``."""
    return TrainConfig(**{**training_defaults(dataset), **overrides})


@dataclass
class TagConfig:
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
    cell: recurrent cell, 'lstm', 'gru' or 'rnn'.
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
    cell: Literal["lstm", "gru", "rnn"] = "lstm"
    hidden_size: int | None = None
    num_layers: int = 1
    bidirectional: bool = True
    embedding_dim: int = 64
    dropout: float = 0.2
    batch_size: int = 64
    baselines: bool = True

    def __post_init__(self) -> None:
        problems = choice_problems(
            self,
            (
                ("format", ("auto", "jsonl", "conll", "slash")),
                ("tokenizer", (None, "word", "char")),
                ("cell", ("lstm", "gru", "rnn")),
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
        if problems:
            raise ValueError("TagConfig: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TagConfig:
        known = [f.name for f in fields(cls)]
        unknown = [k for k in values if k not in known]
        if unknown:
            raise ValueError(
                "TagConfig: unknown option(s) "
                + ", ".join(f"{k!r}{closest_hint(k, known)}" for k in unknown)
            )
        return cls(**values)


def resolve(config: TagConfig) -> TagConfig:
    """A copy of ``config`` with None options set from the dataset's defaults (else generic:
    'word' tokens, 10% validation, 128 hidden units, all training sequences)."""
    c = copy.deepcopy(config)
    generic = {"tokenizer": "word", "val_fraction": 0.1, "hidden_size": 128}
    for key, value in {**generic, **DATASET_DEFAULTS.get(c.data, {})}.items():
        if getattr(c, key) is None:
            setattr(c, key, value)
    return c


def read_corpus(source: str | os.PathLike[str], format: str = "auto") -> TaggedCorpus:
    """A tagged corpus from a file or the bundled dataset name."""
    name = str(source)
    path = Path(name)
    if not path.exists():
        names = [d.name for d in list_datasets("tag")]
        if name in names:
            return load_dataset(name)
        if path.suffix:
            raise ValueError(f"data must be an existing file, got {name!r} (not found)")
        raise ValueError(
            f"data must be an existing tagged file or a bundled tagging dataset {names}, got "
            f"{name!r}{closest_hint(name, names)}"
        )
    return read_tagged(path, format)


def cut(tokens: list[list[str]], max_length: int) -> tuple[list[list[str]], list[tuple[int, int]]]:
    """Sequences cut into consecutive pieces of at most ``max_length``; also (sequence, start)
    of every piece so that tags can be put back together."""
    pieces, where = [], []
    for i, toks in enumerate(tokens):
        for start in range(0, len(toks), max_length):
            pieces.append(toks[start : start + max_length])
            where.append((i, start))
    return pieces, where


@dataclass
class TagPreprocessing:
    """Tokeniser (raw text at prediction), vocabulary, tag names and maximum piece length."""

    pipeline: TextPipeline
    tags: LabelSet

    def ids(self, tokens: list[str]) -> list[int]:
        return self.pipeline.vocabulary.encode(self.pipeline.tokenizer.normalize_tokens(tokens))

    def split_text(self, text: str) -> list[str]:
        """Raw text → tokens: characters (white space dropped) or words."""
        if self.pipeline.tokenizer.level == "char":
            return [ch for ch in text if not ch.isspace()]
        words = Tokenizer("word", lowercase=False, normalize=False)
        return words.tokenize(text)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.pipeline.to_json(), "tags": self.tags.to_json()}

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> TagPreprocessing:
        return cls(TextPipeline.from_json(state["text"]), LabelSet.from_json(state["tags"]))


def predict_tags(
    model: SequenceTagger, pre: TagPreprocessing, tokens: list[list[str]], batch_size: int = 256
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Tag ids and their probabilities for every token of every sequence (pieces of at most
    ``max_length`` tokens are tagged separately and joined)."""
    pieces, where = cut(tokens, pre.pipeline.max_length)
    ids = [pre.ids(p) for p in pieces]
    order = np.argsort([len(p) for p in pieces], kind="stable")
    piece_tags: list[np.ndarray] = [np.zeros(0)] * len(pieces)
    piece_probs: list[np.ndarray] = [np.zeros(0)] * len(pieces)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        padded, lens = pad_sequences([ids[i] for i in idx])
        tags, probs = model.predict(padded, lens)
        best = probs.max(dim=-1).values
        for row, i in enumerate(idx):
            n = int(lens[row])
            piece_tags[i] = tags[row, :n].numpy()
            piece_probs[i] = best[row, :n].double().numpy()
    out_tags: list[list[np.ndarray]] = [[] for _ in tokens]
    out_probs: list[list[np.ndarray]] = [[] for _ in tokens]
    for (seq, _), t, p in zip(where, piece_tags, piece_probs, strict=True):
        out_tags[seq].append(t)
        out_probs[seq].append(p)
    return [np.concatenate(t) for t in out_tags], [np.concatenate(p) for p in out_probs]


def score(
    pre: TagPreprocessing, gold: list[np.ndarray], predicted: list[np.ndarray]
) -> tuple[ClassificationReport, dict[str, Any]]:
    """Per-tag report over all tokens, and its JSON (with word-level scores for BMES tags)."""
    report = classification_report(np.concatenate(gold), np.concatenate(predicted), pre.tags.names)
    result = report.to_dict()
    if set(map(str, pre.tags.names)) <= BMES:
        names = pre.tags.names
        result.update(
            segmentation_scores(
                [[names[i] for i in g] for g in gold], [[names[i] for i in p] for p in predicted]
            )
        )
    return report, result


@dataclass
class TagResult:
    """What :func:`train` produced (see :class:`rnnkit.tasks.classify.ClassifyResult`)."""

    run_dir: Path
    artifact_path: Path
    metrics: dict[str, Any]
    reports: dict[str, ClassificationReport]
    plots: list[Path]
    config: TagConfig
    training: TrainConfig

    def table(self, part: str = "test") -> str:
        """Markdown table: the model beside the baseline (token accuracy, macro-F1, word F1)."""
        if part not in self.metrics or part not in ("val", "test"):
            scored = [p for p in ("val", "test") if p in self.metrics]
            raise ValueError(f"part must be one of {scored}, got {part!r}")
        m = self.metrics[part]
        rows = [("rnnkit model", m["model"]), *m.get("baselines", {}).items()]
        word = "word_f1" in m["model"]
        head = "| model | token accuracy | macro-F1 |" + (" word F1 |" if word else "")
        lines = [head, "|---|---:|---:|" + ("---:|" if word else "")]
        for name, r in rows:
            line = f"| {name} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} |"
            lines.append(line + (f" {r['word_f1']:.4f} |" if word else ""))
        return "\n".join(lines)

    def summary(self) -> str:
        m, c = self.metrics, self.config
        d = m["data"]
        return "\n".join(
            [
                f"Tagging {c.data!r} ({d['tags']} tags): "
                f"{'bidirectional ' if c.bidirectional else ''}{c.cell.upper()} "
                f"{c.num_layers}×{c.hidden_size}.",
                "",
                f"Data: {d['train']} train, {d['val']} validation, {d['test']} test sequences; "
                f"vocabulary {d['vocabulary']} tokens.",
                f"Training: {m['training']['epochs']} epochs, best epoch "
                f"{m['training']['best_epoch']}, {m['training']['seconds']:.0f} s.",
                "",
                "Test:",
                "",
                self.table("test"),
                "",
                "```",
                self.reports["test"].format_table(),
                "```",
            ]
        )


def _split(corpus: TaggedCorpus, c: TagConfig, seed: int, test: TaggedCorpus | None):
    rng = np.random.default_rng(seed)
    if test is None and corpus.split is not None:
        test = corpus.subset(np.flatnonzero(corpus.split == "test"))
        corpus = corpus.subset(np.flatnonzero(corpus.split == "train"))
    elif test is None:
        perm = rng.permutation(len(corpus))
        n_test = round(len(corpus) * c.test_fraction)
        test, corpus = corpus.subset(np.sort(perm[:n_test])), corpus.subset(np.sort(perm[n_test:]))
    perm = rng.permutation(len(corpus))
    n_val = round(len(corpus) * c.val_fraction)
    val, train = corpus.subset(np.sort(perm[:n_val])), corpus.subset(np.sort(perm[n_val:]))
    if c.max_train is not None and len(train) > c.max_train:
        train = train.subset(np.sort(rng.permutation(len(train))[: c.max_train]))
    if len(train) == 0:
        raise ValueError("data must leave at least one training sequence after the splits, got 0")
    return {"train": train, "val": val, "test": test}


def train(
    config: TagConfig,
    run_dir: str | os.PathLike[str],
    *,
    training: TrainConfig | None = None,
    quiet: bool = False,
) -> TagResult:
    """Train, score and save a sequence tagger (see the module docstring).

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

    c = resolve(config)
    corpus = read_corpus(c.data, c.format)
    if corpus.tags is None:
        raise ValueError(f"data {c.data!r} must be tagged to train a tagger")
    test = read_corpus(c.test_data, c.format) if c.test_data is not None else None
    parts = _split(corpus, c, training.seed, test)
    tags = LabelSet.fit(
        (t for seq in parts["train"].tags for t in seq), argument="tags of the training data"
    )
    tokenizer = Tokenizer(c.tokenizer, lowercase=c.lowercase)
    vocab = Vocabulary.build(
        (tokenizer.normalize_tokens(t) for t in parts["train"].tokens),
        min_freq=c.min_freq,
        max_size=c.max_vocab,
    )
    pre = TagPreprocessing(TextPipeline(tokenizer, vocab, c.max_length), tags)
    say(
        f"data: {len(parts['train'])} train / {len(parts['val'])} validation / "
        f"{len(parts['test'])} test sequences; vocabulary {len(vocab)} tokens; tags {tags.names}"
    )

    def pieces(part: TaggedCorpus) -> tuple[list[list[int]], list[np.ndarray]]:
        toks, where = cut(part.tokens, c.max_length)
        ids = [pre.ids(t) for t in toks]
        labels = [
            tags.encode(part.tags[i][s : s + c.max_length], argument="tags") for i, s in where
        ]
        return ids, labels

    seed_everything(training.seed)
    model = SequenceTagger(
        len(tags),
        input_kind="tokens",
        vocab_size=len(vocab),
        embedding_dim=c.embedding_dim,
        cell=c.cell,
        hidden_size=c.hidden_size,
        num_layers=c.num_layers,
        bidirectional=c.bidirectional,
        dropout=c.dropout,
    )
    x, y = pieces(parts["train"])
    loader = BucketLoader(x, y, batch_size=c.batch_size, seed=training.seed, target_at="every")
    val_loader = None
    if len(parts["val"]):
        vx, vy = pieces(parts["val"])
        val_loader = BucketLoader(vx, vy, batch_size=256, shuffle=False, target_at="every")
    elif training.monitor.startswith("val_"):
        training.monitor = "train_loss"
        training.early_stopping = training.plateau_patience = None
    best = BestWeights(training.monitor, training.monitor_mode)
    trainer = Trainer(model, training, callbacks=[*default_callbacks(training), best])
    trainer.fit(loader, val_loader)
    if best.weights is not None:
        model.load_state_dict(best.weights)
    model.eval()

    metrics: dict[str, Any] = {
        "data": {
            "tags": len(tags),
            "tag_names": tags.names,
            "vocabulary": len(vocab),
            **{k: len(p) for k, p in parts.items()},
        }
    }
    reports: dict[str, ClassificationReport] = {}
    baseline = MostFrequentTag().fit(
        [tokenizer.normalize_tokens(t) for t in parts["train"].tokens],
        [tags.encode(t, argument="tags") for t in parts["train"].tags],
    )
    for part in ("val", "test"):
        if not len(parts[part]):
            continue
        gold = [tags.encode(t, argument=f"{part} tags") for t in parts[part].tags]
        predicted, _ = predict_tags(model, pre, parts[part].tokens)
        reports[part], model_metrics = score(pre, gold, predicted)
        metrics[part] = {"model": model_metrics, "baselines": {}}
        if c.baselines:
            guess = baseline.predict([tokenizer.normalize_tokens(t) for t in parts[part].tokens])
            _, b = score(pre, gold, guess)
            metrics[part]["baselines"][baseline.name] = {
                k: b[k] for k in ("accuracy", "macro_f1", "word_f1") if k in b
            }
    metrics["training"] = {
        "epochs": len(trainer.history.epochs),
        "best_epoch": None if best.epoch is None else best.epoch + 1,
        "best_value": best.best,
        "monitor": training.monitor,
        "seconds": time.perf_counter() - started,
    }
    summary = {
        p: {k: m["model"][k] for k in ("accuracy", "macro_f1", "word_f1") if k in m["model"]}
        for p, m in metrics.items()
        if p in ("val", "test")
    }
    artifact_path = save_artifact(
        run_dir / "model.safetensors",
        Artifact(
            ARTIFACT_KIND,
            {"model": model.config, "task": c.to_dict()},
            dict(model.state_dict()),
            pre.to_json(),
            summary,
        ),
    )
    atomic_write_bytes(run_dir / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    plots = []
    if training.plots and "test" in reports:
        plots.append(plot_confusion_matrix(reports["test"], run_dir / "confusion_matrix.png"))
    result = TagResult(run_dir, artifact_path, metrics, reports, plots, c, training)
    say("")
    say(result.table("test"))
    return result


@dataclass
class LoadedTagger:
    """A tagger rebuilt from its artifact."""

    model: SequenceTagger
    preprocessing: TagPreprocessing
    config: TagConfig


def load_tagger(path: str | os.PathLike[str]) -> LoadedTagger:
    """Rebuild a tagger saved by :func:`train` (never executes code from the file)."""
    art = load_artifact(path)
    if art.kind != ARTIFACT_KIND:
        raise ValueError(
            f"artifact must be a {ARTIFACT_KIND!r} (from rnnkit train --task tag), got "
            f"{art.kind!r} in {str(path)!r}"
        )
    model = SequenceTagger(**art.config["model"])
    model.load_state_dict(art.tensors)
    model.eval()
    return LoadedTagger(
        model,
        TagPreprocessing.from_json(art.preprocessing),
        TagConfig.from_dict(art.config["task"]),
    )


def _tokens_of(loaded: LoadedTagger, data: Any, format: str) -> tuple[list[list[str]], Any]:
    """Token lists (and gold tags, if any) of raw texts, a TaggedCorpus, or a file."""
    pre = loaded.preprocessing
    if isinstance(data, TaggedCorpus):
        return data.tokens, data.tags
    if isinstance(data, (list, tuple)) and all(isinstance(t, str) for t in data):
        texts = list(data)
    else:
        path = Path(data)
        fmt = format
        if fmt == "auto":
            fmt = {".jsonl": "jsonl", ".json": "jsonl", ".conll": "conll", ".tsv": "conll"}.get(
                path.suffix.lower(), "text"
            )
        if fmt != "text":
            corpus = read_corpus(path, fmt)
            return corpus.tokens, corpus.tags
        if not path.is_file():
            raise ValueError(f"data must be an existing file, got {str(path)!r} (not found)")
        texts = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    tokens = [pre.split_text(t) for t in texts]
    for i, (text, toks) in enumerate(zip(texts, tokens, strict=True)):
        if not toks:
            raise ValueError(f"text must contain at least one token, got {text!r} (text {i + 1})")
    return tokens, None


def evaluate(artifact: str | os.PathLike[str] | LoadedTagger, data: Any = None) -> dict[str, Any]:
    """Score a saved tagger on tagged ``data`` (a file, a TaggedCorpus, or None / the bundled
    name for the bundled dataset's test split).

    Raises:
        ValueError: untagged data, or tags the model was not trained on.
    """
    loaded = artifact if isinstance(artifact, LoadedTagger) else load_tagger(artifact)
    if data is None or (isinstance(data, str) and data in {d.name for d in list_datasets("tag")}):
        corpus = read_corpus(loaded.config.data if data is None else data)
        if corpus.split is not None:
            corpus = corpus.subset(np.flatnonzero(corpus.split == "test"))
        tokens, gold_tags = corpus.tokens, corpus.tags
    else:
        tokens, gold_tags = _tokens_of(loaded, data, loaded.config.format)
    if gold_tags is None:
        raise ValueError("data must be tagged (JSONL, CoNLL or token/tag lines) to evaluate")
    pre = loaded.preprocessing
    gold = [pre.tags.encode(t, argument="tags of data") for t in gold_tags]
    predicted, _ = predict_tags(loaded.model, pre, tokens)
    return score(pre, gold, predicted)[1]


def predict(
    artifact: str | os.PathLike[str] | LoadedTagger, data: Any, *, format: str = "auto"
) -> pd.DataFrame:
    """Tags of every token: one row per token with columns ``sequence``, ``position``,
    ``token``, ``predicted_tag`` and ``probability``.

    Args:
        data: a list of raw texts, a text file (one text per line; any extension but .jsonl,
            .conll, .tsv), a tagged file (tags are ignored), or a TaggedCorpus.
        format: 'auto', 'text', 'jsonl', 'conll' or 'slash'.
    """
    loaded = artifact if isinstance(artifact, LoadedTagger) else load_tagger(artifact)
    tokens, _ = _tokens_of(loaded, data, format)
    tags, probs = predict_tags(loaded.model, loaded.preprocessing, tokens)
    names = loaded.preprocessing.tags.decode
    rows = [
        (i, j, tok, tag, float(p))
        for i, (toks, t, pr) in enumerate(zip(tokens, tags, probs, strict=True))
        for j, (tok, tag, p) in enumerate(zip(toks, names(t), pr, strict=True))
    ]
    return pd.DataFrame(
        rows, columns=["sequence", "position", "token", "predicted_tag", "probability"]
    )


def segment(artifact: str | os.PathLike[str] | LoadedTagger, texts: list[str]) -> list[list[str]]:
    """Words of each text, for a tagger trained on BMES word segmentation tags."""
    loaded = artifact if isinstance(artifact, LoadedTagger) else load_tagger(artifact)
    if not set(map(str, loaded.preprocessing.tags.names)) <= BMES:
        raise ValueError(
            f"segment needs a tagger trained on BMES tags (b, m, e, s), got tags "
            f"{loaded.preprocessing.tags.names}"
        )
    tokens, _ = _tokens_of(loaded, list(texts), "text")
    tags, _ = predict_tags(loaded.model, loaded.preprocessing, tokens)
    names = loaded.preprocessing.tags.decode
    return [bmes_to_words(t, names(g)) for t, g in zip(tokens, tags, strict=True)]
