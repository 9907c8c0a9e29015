"""Sequence tagging (one label per token): the :class:`TagTask` of the task pipeline, and its
one-call API.

``train(config, run_dir)`` reads a tagged corpus — JSONL (``{"tokens": [...], "tags": [...]}``),
CoNLL (``token tag`` lines, blank line between sentences), ``token/tag`` lines, or the bundled
``chinese-segmentation`` — splits it by sentence, builds the vocabulary on the training split,
trains a :class:`~rnnkit.models.tagger.SequenceTagger` (bidirectional by default) through the
task runner (:mod:`rnnkit.tasks.pipeline`), scores it beside the most-frequent-tag-per-token
baseline, and writes ``model.safetensors`` (``kind='sequence-tagger'``), ``metrics.json``,
``confusion_matrix.png`` and the trainer's files into ``run_dir``.

Sequences longer than ``max_length`` tokens are cut into consecutive pieces (never truncated:
every token keeps its tag). For BMES word segmentation tags (b, m, e, s) the metrics add the
word-level precision, recall and F1 of the SIGHAN bakeoffs, and :func:`segment` returns words.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.data.bucketing import BucketLoader, pad_sequences
from rnnkit.data.folds import Fold, fold_parts
from rnnkit.data.provenance import (
    Rows,
    identify_test_data,
    rows_selection,
    selected_rows,
    stored_source,
)
from rnnkit.data.registry import list_datasets
from rnnkit.data.splits import random_sample, random_split, three_way_split
from rnnkit.data.tagging import TaggedCorpus, bmes_to_words
from rnnkit.data.tagging_inputs import TagPreprocessing, cut, read_corpus, read_tokens
from rnnkit.io.artifact import Artifact
from rnnkit.models.classification_baselines import MostFrequentTag
from rnnkit.models.classification_metrics import (
    ClassificationReport,
    classification_report,
    plot_confusion_matrix,
    segmentation_scores,
)
from rnnkit.models.tagger import SequenceTagger
from rnnkit.tasks.pipeline import (
    TEST_DATA_KEY,
    Prepared,
    Say,
    Scores,
    Task,
    TaskResult,
    training_line,
)
from rnnkit.tasks.pipeline import run as run_task
from rnnkit.tasks.tag_config import DATASET_TRAINING, TAG_TRAINING_DEFAULTS, TagConfig, resolve
from rnnkit.train import TrainConfig

ARTIFACT_KIND = "sequence-tagger"
BMES = frozenset("bmes")
SCORE_KEYS = ("accuracy", "macro_f1", "word_f1")


@dataclass
class TagResult(TaskResult):
    """What :func:`train` produced (see :class:`rnnkit.tasks.pipeline.TaskResult`), with the
    model's per-tag :class:`ClassificationReport` per part in ``reports``."""

    reports: dict[str, ClassificationReport] = field(default_factory=dict)


@dataclass
class LoadedTagger:
    """A tagger rebuilt from its artifact."""

    model: SequenceTagger
    preprocessing: TagPreprocessing
    config: TagConfig
    #: Which data the test split is (:mod:`rnnkit.data.provenance`); None in older artifacts.
    test_data: dict[str, Any] | None = None


class TagTask(Task):
    """One label per step (e.g. Chinese word segmentation)."""

    name = "tag"
    artifact_kind = ARTIFACT_KIND
    description = "one label per step (e.g. Chinese word segmentation)"
    config_class = TagConfig
    result_class = TagResult
    loaded_class = LoadedTagger
    headline = ("accuracy", True)
    training_base = TAG_TRAINING_DEFAULTS
    dataset_training = DATASET_TRAINING
    examples = ("rnnkit train --task tag --data chinese-segmentation --epochs 3",)

    def prepare(
        self, config: TagConfig, training: TrainConfig, say: Say, *, fold: Fold | None = None
    ) -> Prepared:
        c = resolve(config)
        corpus = read_corpus(c.data, c.format)
        if corpus.tags is None:
            raise ValueError(f"data {c.data!r} must be tagged to train a tagger")
        test = read_corpus(c.test_data, c.format) if c.test_data is not None else None
        parts = fold_parts(corpus, split, c, training.seed, test, fold, stratify=False)
        pre = TagPreprocessing.fit(
            parts["train"],
            tokenizer=c.tokenizer,
            lowercase=c.lowercase,
            min_freq=c.min_freq,
            max_vocab=c.max_vocab,
            max_length=c.max_length,
        )
        say(
            f"data: {len(parts['train'])} train / {len(parts['val'])} validation / "
            f"{len(parts['test'])} test sequences; vocabulary {len(pre.pipeline.vocabulary)} "
            f"tokens; tags {pre.tags.names}"
        )
        x, y = pre.pieces(parts["train"])
        train_batches = BucketLoader(
            x, y, batch_size=c.batch_size, seed=training.seed, target_at="every"
        )
        val_batches = None
        if len(parts["val"]):
            vx, vy = pre.pieces(parts["val"])
            val_batches = BucketLoader(vx, vy, batch_size=256, shuffle=False, target_at="every")
        if c.test_data is not None:
            identity = identify_test_data(c.test_data)
        else:  # the same seeded split, replayed on row numbers: which sentences are the test
            test_rows = split(Rows.of(corpus), c, training.seed, None)["test"].rows
            identity = identify_test_data(c.data, rows_selection(test_rows))
        return Prepared(c, train_batches, val_batches, pre, parts, identity)

    def build_model(self, prepared: Prepared) -> SequenceTagger:
        c, pre = prepared.config, prepared.preprocessing
        return SequenceTagger(
            len(pre.tags),
            input_kind="tokens",
            vocab_size=len(pre.pipeline.vocabulary),
            embedding_dim=c.embedding_dim,
            cell=c.cell,
            hidden_size=c.hidden_size,
            num_layers=c.num_layers,
            bidirectional=c.bidirectional,
            dropout=c.dropout,
        )

    def score(self, model: SequenceTagger, prepared: Prepared, seed: int) -> Scores:
        c, pre, parts = prepared.config, prepared.preprocessing, prepared.parts
        tags = pre.tags
        metrics: dict[str, Any] = {
            "data": {
                "tags": len(tags),
                "tag_names": tags.names,
                "vocabulary": len(pre.pipeline.vocabulary),
                **{k: len(p) for k, p in parts.items()},
            }
        }
        reports: dict[str, ClassificationReport] = {}
        baseline = MostFrequentTag().fit(
            pre.normalized(parts["train"].tokens),
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
                _, b = score(pre, gold, baseline.predict(pre.normalized(parts[part].tokens)))
                metrics[part]["baselines"][baseline.name] = {
                    k: b[k] for k in SCORE_KEYS if k in b
                }
        summary = {
            p: {k: m["model"][k] for k in SCORE_KEYS if k in m["model"]}
            for p, m in metrics.items()
            if p in ("val", "test")
        }
        return Scores(metrics, summary, {"reports": reports})

    def plots(self, scores: Scores, prepared: Prepared, run_dir: Path) -> list[Path]:
        report = scores.details["reports"].get("test")
        if report is None:
            return []
        return [plot_confusion_matrix(report, run_dir / "confusion_matrix.png")]

    def table(self, part_metrics: dict[str, Any]) -> str:
        """Markdown table: the model beside the baseline (token accuracy, macro-F1, word F1)."""
        m = part_metrics
        rows = [("rnnkit model", m["model"]), *m.get("baselines", {}).items()]
        word = "word_f1" in m["model"]
        head = "| model | token accuracy | macro-F1 |" + (" word F1 |" if word else "")
        lines = [head, "|---|---:|---:|" + ("---:|" if word else "")]
        for name, r in rows:
            line = f"| {name} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} |"
            lines.append(line + (f" {r['word_f1']:.4f} |" if word else ""))
        return "\n".join(lines)

    def summary(self, result: TaskResult) -> str:
        m, c = result.metrics, result.config
        d = m["data"]
        return "\n".join(
            [
                f"Tagging {c.data!r} ({d['tags']} tags): "
                f"{'bidirectional ' if c.bidirectional else ''}{c.cell.upper()} "
                f"{c.num_layers}×{c.hidden_size}.",
                "",
                f"Data: {d['train']} train, {d['val']} validation, {d['test']} test sequences; "
                f"vocabulary {d['vocabulary']} tokens.",
                f"Training: {training_line(m['training'])}.",
                "",
                "Test:",
                "",
                result.table("test"),
                "",
                "```",
                result.reports["test"].format_table(),
                "```",
            ]
        )

    def restore(self, artifact: Artifact) -> LoadedTagger:
        model = self.rebuild_model(SequenceTagger, artifact)
        return LoadedTagger(
            model,
            TagPreprocessing.from_json(artifact.preprocessing),
            TagConfig.from_dict(artifact.config["task"]),
            artifact.preprocessing.get(TEST_DATA_KEY),
        )

    def evaluate(self, loaded: LoadedTagger, data: Any = None) -> dict[str, Any]:
        bundled = {d.name for d in list_datasets("tag")}
        if data is None:  # exactly the recorded test sentences of the unchanged source
            corpus = read_corpus(stored_source(loaded.test_data), loaded.config.format)
            rows = selected_rows(loaded.test_data, len(corpus))
            corpus = corpus if rows is None else corpus.subset(rows)
            tokens, gold_tags = corpus.tokens, corpus.tags
        elif isinstance(data, str) and data in bundled:
            corpus = read_corpus(data)
            if corpus.split is not None:
                corpus = corpus.subset(np.flatnonzero(corpus.split == "test"))
            tokens, gold_tags = corpus.tokens, corpus.tags
        else:
            tokens, gold_tags = read_tokens(loaded.preprocessing, data, loaded.config.format)
        if gold_tags is None:
            raise ValueError("data must be tagged (JSONL, CoNLL or token/tag lines) to evaluate")
        pre = loaded.preprocessing
        gold = [pre.tags.encode(t, argument="tags of data") for t in gold_tags]
        predicted, _ = predict_tags(loaded.model, pre, tokens)
        return score(pre, gold, predicted)[1]

    def predict(self, loaded: LoadedTagger, data: Any, *, format: str = "auto") -> pd.DataFrame:
        tokens, _ = read_tokens(loaded.preprocessing, data, format)
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


TASK = TagTask()


def split(
    corpus: TaggedCorpus, c: TagConfig, seed: int, test: TaggedCorpus | None
) -> dict[str, TaggedCorpus]:
    """Train / validation / test parts by sentence, at random (see :class:`TagConfig`)."""
    parts = three_way_split(
        corpus,
        rng=np.random.default_rng(seed),
        holdout=lambda d, fraction, rng: random_split(len(d), fraction, rng),
        sample=lambda d, k, rng: random_sample(len(d), k, rng),
        test_fraction=c.test_fraction,
        val_fraction=c.val_fraction,
        max_train=c.max_train,
        test=test,
    )
    if len(parts["train"]) == 0:
        raise ValueError("data must leave at least one training sequence after the splits, got 0")
    return parts


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


# --------------------------------------------------------------------------------------------
# The one-call API (what ``rnnkit train/evaluate/predict --task tag`` run)
# --------------------------------------------------------------------------------------------


def training_defaults(dataset: str | TagConfig | None = None) -> dict[str, Any]:
    """:class:`TrainConfig` values for this task: :data:`TAG_TRAINING_DEFAULTS`, then the
    bundled ``dataset``'s own (a command line lays config-file values and flags over these)."""
    return TASK.training_defaults(dataset)


def default_training(dataset: str | TagConfig | None = None, **overrides: Any) -> TrainConfig:
    """:class:`TrainConfig` from :func:`training_defaults` for ``dataset``, then ``overrides``."""
    return TASK.default_training(dataset, **overrides)


def train(
    config: TagConfig,
    run_dir: str | os.PathLike[str],
    *,
    training: TrainConfig | None = None,
    quiet: bool = False,
) -> TagResult:
    """Train, score and save a sequence tagger (see the module docstring)."""
    return run_task(TASK, config, run_dir, training=training, quiet=quiet)


def load_tagger(path: str | os.PathLike[str] | Artifact) -> LoadedTagger:
    """Rebuild a tagger saved by :func:`train` (never executes code from the file)."""
    return TASK.load(path)


def evaluate(artifact: str | os.PathLike[str] | LoadedTagger, data: Any = None) -> dict[str, Any]:
    """Score a saved tagger on tagged ``data`` (a file, a TaggedCorpus, or None / the bundled
    name for the bundled dataset's test split).

    Raises:
        ValueError: untagged data, or tags the model was not trained on.
    """
    return TASK.evaluate(TASK.loaded(artifact, LoadedTagger), data)


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
    return TASK.predict(TASK.loaded(artifact, LoadedTagger), data, format=format)


def segment(artifact: str | os.PathLike[str] | LoadedTagger, texts: list[str]) -> list[list[str]]:
    """Words of each text, for a tagger trained on BMES word segmentation tags."""
    loaded = TASK.loaded(artifact, LoadedTagger)
    if not set(map(str, loaded.preprocessing.tags.names)) <= BMES:
        raise ValueError(
            f"segment needs a tagger trained on BMES tags (b, m, e, s), got tags "
            f"{loaded.preprocessing.tags.names}"
        )
    tokens, _ = read_tokens(loaded.preprocessing, list(texts), "text")
    tags, _ = predict_tags(loaded.model, loaded.preprocessing, tokens)
    names = loaded.preprocessing.tags.decode
    return [bmes_to_words(t, names(g)) for t, g in zip(tokens, tags, strict=True)]
