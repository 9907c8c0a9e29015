"""Sequence classification: the :class:`ClassifyTask` of the task pipeline, and its one-call API.

``train(config, run_dir)`` reads labelled sequences — a text file (CSV/TSV/JSONL with a text and
a label column), numeric sequences (long-format CSV, NPZ, UCR/UEA ``.ts``) or a bundled dataset
(``rnnkit datasets --task classify``) — splits them (stratified; bundled data keep their fixed
test split), fits the preprocessing on the training split only (vocabulary, or per-channel
normalisation), trains a :class:`~rnnkit.models.classifier.SequenceClassifier` through the task
runner (:mod:`rnnkit.tasks.pipeline`: batches bucketed by length, best validation epoch kept),
scores it on validation and test beside non-recurrent baselines fit on the same training split,
and writes into ``run_dir``:

* ``model.safetensors`` — the artifact (``kind='sequence-classifier'``: model and task config,
  weights, and the preprocessing: vocabulary and tokeniser, or normaliser; label names; column
  names);
* ``metrics.json`` — validation and test metrics of the model and the baselines;
* ``confusion_matrix.png`` — the model's test confusion matrix;
* what the trainer writes (history, learning curves, best/last checkpoints).

``evaluate(artifact, data)`` scores a saved model on labelled data; ``predict(artifact, data)``
returns the predicted label and class probabilities beside the input's identifying columns.
Bad input raises ``ValueError`` naming the argument, what was expected and what was received.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.data.action_datasets import modality_of
from rnnkit.data.bucketing import BucketLoader, pad_sequences
from rnnkit.data.classification_data import (
    COLUMN_OPTIONS,
    ClassificationData,
    is_bundled,
    read_classification_data,
    sequence_data,
)
from rnnkit.data.classification_inputs import ClassificationPreprocessing
from rnnkit.data.folds import Fold, fold_parts
from rnnkit.data.frame_sampling import VideoClipLoader
from rnnkit.data.labels import LabelSet
from rnnkit.data.provenance import (
    Rows,
    identify_test_data,
    rows_selection,
    selected_rows,
    stored_source,
)
from rnnkit.data.sequence_files import SequenceSet
from rnnkit.data.skeleton import RotatingLoader, rotated_copies
from rnnkit.data.splits import stratified_sample, stratified_split, three_way_split
from rnnkit.eval.stat_baselines import library_baselines_enabled
from rnnkit.io.artifact import Artifact
from rnnkit.models.classification_baselines import (
    SHIPPABLE,
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
from rnnkit.models.dtw_baseline import BAND as DTW_BAND
from rnnkit.models.dtw_baseline import NearestNeighbourDTW, dtaidistance_modules, dtw_cells
from rnnkit.models.minirocket_baseline import MiniRocketRidge, minirocket_cells, sktime_rocket
from rnnkit.tasks.classify_config import (
    CLASSIFY_TRAINING_DEFAULTS,
    DATASET_TRAINING,
    ClassifyConfig,
    batch_size_for,
    budget_epochs,
    resolve,
)
from rnnkit.tasks.pipeline import (
    FALLBACK_KEY,
    TEST_DATA_KEY,
    Prepared,
    Say,
    Scores,
    Task,
    TaskResult,
    fallback_arrays,
    training_line,
)
from rnnkit.tasks.pipeline import run as run_task
from rnnkit.train import TrainConfig

ARTIFACT_KIND = "sequence-classifier"


@dataclass
class ClassifyResult(TaskResult):
    """What :func:`train` produced (see :class:`rnnkit.tasks.pipeline.TaskResult`), with the
    model's :class:`ClassificationReport` per part ('val', 'test') in ``reports``."""

    reports: dict[str, ClassificationReport] = field(default_factory=dict)
    #: the fitted baselines, by name
    baselines: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadedClassifier:
    """A classifier rebuilt from its artifact, ready to predict."""

    model: SequenceClassifier
    preprocessing: ClassificationPreprocessing
    config: ClassifyConfig
    metrics: dict[str, Any]
    #: Which data the test split is (:mod:`rnnkit.data.provenance`); None in older artifacts.
    test_data: dict[str, Any] | None = None
    #: The baseline shipped in the network's place (``fallback='baseline'``): its record and
    #: the fitted baseline; None when the network is shipped.
    fallback: dict[str, Any] | None = None
    baseline: Any = None

    def labels_of(self, inputs: list[Any]) -> tuple[np.ndarray, np.ndarray | None]:
        """Class ids (N,) and probabilities (N, C) of model inputs, from what is shipped: the
        network, or the baseline in its place (which gives labels only: probabilities None)."""
        if self.baseline is not None:
            return np.asarray(self.baseline.predict(inputs), dtype=np.int64), None
        probs = predict_proba(self.model, inputs)
        return probs.argmax(axis=1), probs


class ClassifyTask(Task):
    """One label per sequence (text, sensors, image sequences)."""

    name = "classify"
    artifact_kind = ARTIFACT_KIND
    description = "one label per sequence (text, sensors, image sequences)"
    config_class = ClassifyConfig
    result_class = ClassifyResult
    loaded_class = LoadedClassifier
    headline = ("accuracy", True)
    fallback_methods = tuple(SHIPPABLE)
    loss_at_sequence_end = True
    training_base = CLASSIFY_TRAINING_DEFAULTS
    dataset_training = DATASET_TRAINING
    examples = (
        "rnnkit train --task classify --data basic-motions",
        "rnnkit train --task classify --data reviews.csv --text-column review "
        "--label-column stars --tokenizer word",
    )

    def prepare(
        self, config: ClassifyConfig, training: TrainConfig, say: Say, *, fold: Fold | None = None
    ) -> Prepared:
        data = read_classification_data(config.data, columns_of(config), **reading_of(config))
        c = resolve(config, data.kind)
        test = None
        if c.test_data is not None:
            test = read_classification_data(c.test_data, columns_of(c), **reading_of(c))
        parts = fold_parts(data, split, c, training.seed, test, fold, stratify=True)
        if c.batch_size is None:
            c.batch_size = batch_size_for(len(parts["train"]))
        check_video_options(c, data)
        pre = ClassificationPreprocessing.fit(
            parts["train"],
            columns=columns_of(c),
            tokenizer=c.tokenizer,
            lowercase=c.lowercase,
            min_freq=c.min_freq,
            max_vocab=c.max_vocab,
            max_length=c.max_length,
            truncation=c.truncation,
            normalization=c.normalization,
            frames=c.frames,
            frame_stride=c.frame_stride,
        )
        if rotating(c):  # the normaliser sees the rotated poses the network trains on
            pre.normalizer.fit(rotated_copies(parts["train"].sequences, c.rotation, training.seed))
        inputs = {k: pre.inputs(p, where=f"{k} data") for k, p in parts.items()}
        targets = {k: pre.labels.encode(p.labels, argument=f"{k} labels") for k, p in parts.items()}
        counts = ", ".join(f"{len(parts[k])} {k}" for k in parts)
        if pre.kind == "text":
            truncated = pre.text.count_truncated(parts["train"].texts)
            say(
                f"data: {counts.replace(', ', ' / ')} texts; vocabulary "
                f"{len(pre.text.vocabulary)} tokens (min_freq {c.min_freq}); {truncated} "
                f"training texts cut at {c.max_length} tokens"
            )
        else:
            say(
                f"data: {counts.replace(', ', ' / ')} sequences, steps of shape {pre.step_shape}"
            )
        balanced = c.sampling == "balanced" or (
            c.sampling == "auto" and pre.kind == "sequences" and imbalance(targets["train"]) >= 1.5
        )
        train_batches = training_loader(
            c, pre, parts["train"], inputs["train"], targets["train"], training.seed, balanced
        )
        val_batches = None
        if len(parts["val"]):
            val_batches = BucketLoader(inputs["val"], targets["val"], batch_size=256, shuffle=False)
        defaults = self.training_defaults(config)
        facts = adapt_training(training, defaults, c, len(train_batches), len(parts["val"]))
        facts["sampling"] = "class-balanced" if balanced else "shuffled"
        facts["conv"] = bool(c.conv_branch) and pre.kind == "sequences" and len(pre.step_shape) == 1
        facts["batch_size"] = c.batch_size
        for line in facts.get("notes", []):
            say(line)
        state = {"data": parts, "inputs": inputs, "targets": targets, "fit": facts}
        if c.test_data is not None:
            identity = identify_test_data(c.test_data)
        else:  # the same seeded split, replayed on row numbers: which rows are the test
            test_rows = split(Rows.of(data), c, training.seed, None)["test"].rows
            identity = identify_test_data(c.data, rows_selection(test_rows))
        return Prepared(c, train_batches, val_batches, pre, state, identity)

    def build_model(self, prepared: Prepared) -> SequenceClassifier:
        return build_model(prepared.config, prepared.preprocessing, prepared.parts["data"]["train"])

    def score(self, model: SequenceClassifier, prepared: Prepared, seed: int) -> Scores:
        c, pre = prepared.config, prepared.preprocessing
        parts, inputs, targets = (prepared.parts[k] for k in ("data", "inputs", "targets"))
        facts: dict[str, Any] = {
            "kind": pre.kind,
            "classes": len(pre.labels),
            "labels": pre.labels.names,
            **{k: len(p) for k, p in parts.items()},
        }
        if pre.kind == "text":
            facts["vocabulary"] = len(pre.text.vocabulary)
            facts["truncated"] = pre.text.count_truncated(parts["train"].texts)
        facts.update(prepared.parts.get("fit", {}))
        reports: dict[str, ClassificationReport] = {}
        metrics: dict[str, Any] = {"data": facts}
        for part in ("val", "test"):
            if len(parts[part]):
                probs = predict_proba(model, inputs[part])
                reports[part] = classification_report(
                    targets[part], probs.argmax(axis=1), pre.labels.names
                )
                metrics[part] = {"model": reports[part].to_dict(), "baselines": {}}
        fitted: dict[str, Any] = {}
        if c.baselines:
            dtw, record = dtw_baseline(c, pre, inputs)
            if record:  # nothing to say for text, or with dtw_baseline='off'
                metrics["dtw_baseline"] = record
            rocket, record = minirocket_baseline(c, pre, inputs)
            if record:
                metrics["minirocket_baseline"] = record
            library = [b for b in (dtw, rocket) if b is not None]
            for name, (by_part, model_of) in baselines(pre, parts, inputs, library).items():
                fitted[name] = model_of
                for part, report in by_part.items():
                    metrics[part]["baselines"][name] = {
                        "accuracy": report.accuracy,
                        "macro_f1": report.macro_f1,
                    }
        summary = {
            part: {k: metrics[part]["model"][k] for k in ("accuracy", "macro_f1")}
            for part in ("val", "test")
            if part in metrics
        }
        return Scores(metrics, summary, {"reports": reports, "baselines": fitted})

    def fallback_tensors(self, scores: Scores, method: str) -> dict[str, np.ndarray]:
        return scores.details["baselines"][method].state()

    def plots(self, scores: Scores, prepared: Prepared, run_dir: Path) -> list[Path]:
        reports = scores.details["reports"]
        if "test" not in reports:
            return []
        title = f"{prepared.config.data}: test accuracy {reports['test'].accuracy:.3f}"
        path = run_dir / "confusion_matrix.png"
        return [plot_confusion_matrix(reports["test"], path, title=title)]

    def table(self, part_metrics: dict[str, Any]) -> str:
        return metrics_table(part_metrics)

    def summary(self, result: TaskResult) -> str:
        m, c = result.metrics, result.config
        d = m["data"]
        report = result.reports["test"]
        arch = (
            f"{'bidirectional ' if c.bidirectional else ''}{c.cell.upper()} "
            f"{c.num_layers}×{c.hidden_size}, {c.pooling} pooling"
            + (" beside a temporal CNN (LSTM-FCN)" if result.metrics["data"].get("conv") else "")
        )
        validation_note = f" Validation: {d['validation']}." if d.get("validation") else ""
        text_facts = (
            f"; vocabulary {d['vocabulary']} tokens, {d['truncated']} training texts cut at "
            f"{c.max_length} tokens"
            if d["kind"] == "text"
            else ""
        )
        return "\n".join(
            [
                f"Classifying {c.data!r} ({d['kind']}, {d['classes']} classes): {arch}.",
                "",
                f"Data: {d['train']} train, {d['val']} validation, {d['test']} test sequences"
                f"{text_facts}.{validation_note}",
                f"Training: {training_line(m['training'])}.",
                "",
                "Test:",
                "",
                result.table("test"),
                *(["", m["dtw_baseline"]["note"]] if "dtw_baseline" in m else []),
                *(["", m["minirocket_baseline"]["note"]] if "minirocket_baseline" in m else []),
                "",
                "```",
                report.format_table(),
                "",
                report.format_confusion(),
                "```",
            ]
        )

    def restore(self, artifact: Artifact) -> LoadedClassifier:
        model = self.rebuild_model(SequenceClassifier, artifact)
        fallback = artifact.preprocessing.get(FALLBACK_KEY)
        baseline = None
        if fallback is not None:
            baseline = SHIPPABLE[fallback["method"]].from_state(fallback_arrays(artifact.tensors))
        return LoadedClassifier(
            model,
            ClassificationPreprocessing.from_json(artifact.preprocessing),
            ClassifyConfig.from_dict(artifact.config["task"]),
            artifact.metrics,
            artifact.preprocessing.get(TEST_DATA_KEY),
            fallback,
            baseline,
        )

    def evaluate(self, loaded: LoadedClassifier, data: Any = None) -> dict[str, Any]:
        part = read_for(loaded, data, labelled=True)
        if part.labels is None:
            raise ValueError("data must have a label column to evaluate a classifier")
        pre = loaded.preprocessing
        y = pre.labels.encode(part.labels, argument="labels")
        predicted, _ = loaded.labels_of(pre.inputs(part))
        shipped = "model" if loaded.fallback is None else loaded.fallback["method"]
        report = classification_report(y, predicted, pre.labels.names).to_dict()
        return {**report, "shipped": shipped}

    def predict(self, loaded: LoadedClassifier, data: Any) -> pd.DataFrame:
        part = read_for(loaded, data, labelled=False)
        pre = loaded.preprocessing
        predicted, probs = loaded.labels_of(pre.inputs(part))
        out = part.frame.copy()
        out["predicted_label"] = pre.labels.decode(predicted)
        for j, name in enumerate(pre.labels.names):
            if probs is not None:  # a shipped baseline gives labels only
                out[f"prob_{name}"] = probs[:, j]
        return out


TASK = ClassifyTask()


def imbalance(targets: np.ndarray) -> float:
    """Largest class count over smallest (1.0: balanced) among the classes present."""
    counts = np.bincount(np.asarray(targets, dtype=np.int64))
    counts = counts[counts > 0]
    return float(counts.max() / counts.min())


def adapt_training(
    training: TrainConfig,
    defaults: dict[str, Any],
    c: ClassifyConfig,
    batches_per_epoch: int,
    n_val: int,
) -> dict[str, Any]:
    """Fit the training options that were left at the task's defaults to the data, in place.

    * no validation sequences: the best epoch is chosen on the training loss (and early
      stopping is off), with the reason in the returned notes — never silently;
    * ``c.selection`` 'accuracy' ('auto' with an update budget: numeric data): the best epoch
      and early stopping watch validation accuracy, ties going to the lower loss (the model's
      ``selection`` metric);
    * ``c.min_updates`` > 0 (numeric data): epochs and patience come from the update budget
      (:func:`budget_epochs`).

    Options a user set (anything that differs from ``defaults``) are kept as given.

    Returns:
        facts for ``metrics.json`` (validation, selection, updates per epoch, budget) and
        ``notes``: lines to print.
    """
    at_default = {k: getattr(training, k) == v for k, v in defaults.items()}
    monitor_default = at_default.get("monitor", training.monitor == "val_loss") and (
        training.monitor_mode == defaults.get("monitor_mode", "min")
    )
    notes: list[str] = []
    facts: dict[str, Any] = {"updates_per_epoch": batches_per_epoch}
    if n_val == 0:
        reason = (
            "val_fraction is 0"
            if not c.val_fraction
            else "every class has a single training sequence (none can be spared)"
        )
        notes.append(
            f"warning: no validation data ({reason}); the best epoch is chosen on the training "
            f"loss and early stopping is off"
        )
        facts["validation"] = f"none: {reason}; selection on the training loss"
        training.monitor, training.monitor_mode = "train_loss", "min"
        training.early_stopping = training.plateau_patience = None
    elif monitor_default and (
        c.selection == "accuracy" or (c.selection == "auto" and c.min_updates)
    ):
        training.monitor, training.monitor_mode = "val_selection", "max"
    if c.min_updates and at_default.get("epochs", False):
        patience_default = at_default.get("early_stopping", False)
        epochs, patience = budget_epochs(
            c.min_updates,
            batches_per_epoch,
            training.epochs,
            training.early_stopping if patience_default else None,
        )
        training.epochs = epochs
        if patience_default:
            training.early_stopping = patience
        facts["budget"] = (
            f"at least {c.min_updates} updates: {epochs} epochs of {batches_per_epoch} "
            f"batches, early stopping after {training.early_stopping} epochs"
        )
        notes.append(f"training budget: {facts['budget']}")
    facts["selection"] = f"{training.monitor} ({training.monitor_mode})"
    facts["notes"] = notes
    return facts


#: The options that sample and augment videos, with their "off" values.
VIDEO_OPTIONS = {"frames": None, "frame_stride": 1, "flip": False, "crop": 0}


def video_options_used(c: ClassifyConfig) -> list[str]:
    """The frame-sampling and video-augmentation options ``c`` turns on."""
    return [k for k, off in VIDEO_OPTIONS.items() if getattr(c, k) != off]


def check_video_options(c: ClassifyConfig, data: ClassificationData) -> None:
    """Refuse frame sampling or video augmentation on data that are not videos (frames)."""
    used = video_options_used(c)
    shape = () if data.kind == "text" else tuple(data.sequences[0].shape[1:])
    if used and len(shape) < 2:
        got = "text" if data.kind == "text" else f"numeric steps of shape {shape}"
        raise ValueError(
            f"{', '.join(used)} apply to video or depth input (frames of shape (H, W) or "
            f"(H, W, C)), got {got}; leave them at "
            f"{', '.join(f'{k}={VIDEO_OPTIONS[k]!r}' for k in used)}"
        )


def rotating(c: ClassifyConfig) -> bool:
    """Whether training rotates skeletons (``c.rotation`` > 0 on pose data)."""
    return bool(c.rotation) and modality_of(c.data, c.format) == "skeleton"


def training_loader(
    c: ClassifyConfig,
    pre: ClassificationPreprocessing,
    train: ClassificationData,
    inputs: list[Any],
    targets: np.ndarray,
    seed: int,
    balanced: bool,
) -> BucketLoader:
    """The training batches: bucketed by length; skeletons with ``c.rotation`` > 0 are rotated
    about the vertical axis before normalisation, a new angle per sequence and epoch; videos
    with frame sampling or augmentation get their frames, flip and crop drawn every epoch."""
    options = {"batch_size": c.batch_size, "seed": seed, "class_balanced": balanced}
    if video_options_used(c):  # frames, flip and crop drawn anew every epoch
        return VideoClipLoader(
            inputs,
            targets,
            raw=train.sequences,
            transform=pre.normalizer.transform,
            frames=c.frames,
            stride=c.frame_stride,
            flip=c.flip,
            crop=c.crop,
            **options,
        )
    if rotating(c):
        return RotatingLoader(
            train.sequences,
            targets,
            transform=pre.normalizer.transform,
            max_angle=np.deg2rad(c.rotation),
            **options,
        )
    return BucketLoader(inputs, targets, **options)


def columns_of(c: ClassifyConfig) -> dict[str, Any]:
    """The options that say how ``c``'s files are read."""
    return {k: getattr(c, k) for k in COLUMN_OPTIONS}


def split(
    data: ClassificationData, c: ClassifyConfig, seed: int, test: ClassificationData | None
) -> dict[str, ClassificationData]:
    """Train / validation / test parts, stratified by class (see :class:`ClassifyConfig`)."""
    if data.labels is None:
        raise ValueError("data must have labels to train a classifier")
    argument = f"label column {c.label_column!r}"
    if test is None and data.split is None:
        LabelSet.fit(data.labels, argument=argument)
    parts = three_way_split(
        data,
        rng=np.random.default_rng(seed),
        holdout=lambda d, fraction, rng: stratified_split(d.labels, fraction, rng),
        # At least one validation sequence of every class that has two or more.
        val_holdout=lambda d, fraction, rng: stratified_split(d.labels, fraction, rng, min_held=1),
        sample=lambda d, k, rng: stratified_sample(d.labels, k, rng),
        test_fraction=c.test_fraction,
        val_fraction=c.val_fraction,
        max_train=c.max_train,
        test=test,
    )
    pool = np.concatenate([parts["train"].labels, parts["val"].labels])
    LabelSet.fit(pool, argument=f"{argument} of the training data")
    return parts


def build_model(
    c: ClassifyConfig, pre: ClassificationPreprocessing, train: ClassificationData
) -> SequenceClassifier:
    """The classifier a resolved config asks for, sized for ``pre``'s inputs."""
    weights = None
    if c.class_weights == "balanced":
        counts = np.bincount(pre.labels.encode(train.labels), minlength=len(pre.labels))
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
            "frame_encoder": c.frame_encoder,
        }
    if c.frame_encoder != "cnn" and kind_args["input_kind"] != "frames":
        raise ValueError(
            f"frame_encoder={c.frame_encoder!r} applies to video or depth input (frames), got "
            f"{'text' if pre.kind == 'text' else 'numeric sequences'}; leave frame_encoder "
            f"as 'cnn'"
        )
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
        conv_branch=bool(c.conv_branch) and kind_args["input_kind"] == "features",
    )


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


def metrics_table(part: dict[str, Any]) -> str:
    """Markdown table: the model and each baseline with accuracy and macro-F1."""
    rows = [("rnnkit model", part["model"]), *part.get("baselines", {}).items()]
    lines = ["| model | accuracy | macro-F1 |", "|---|---:|---:|"]
    lines += [f"| {name} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} |" for name, r in rows]
    return "\n".join(lines)


def baselines(
    pre: ClassificationPreprocessing,
    parts: dict[str, ClassificationData],
    inputs: dict[str, list[Any]],
    library: list[Any] | None = None,
) -> dict[str, dict[str, ClassificationReport]]:
    """Each baseline's reports on 'val' and 'test', fit on the training split, with the fitted
    baseline: name → (reports by part, baseline); ``library``: the library baselines of this
    run too, unfitted (1-NN DTW, :func:`dtw_baseline`; MiniRocket, :func:`minirocket_baseline`)."""
    y = {k: pre.labels.encode(parts[k].labels) for k in parts}
    names = pre.labels.names
    if pre.kind == "text":
        models = [BagOfWordsLogistic(len(pre.text.vocabulary), len(names))]
    else:
        models = [NearestNeighbour(), ChannelStatsLogistic(len(names))]
        models += library or []
    out = {}
    for b in models:
        valid = (inputs["val"], y["val"]) if len(parts["val"]) else None
        b.fit(inputs["train"], y["train"], valid)
        out[b.name] = (
            {
                k: classification_report(y[k], b.predict(inputs[k]), names)
                for k in ("val", "test")
                if len(parts[k])
            },
            b,
        )
    return out


def dtw_baseline(
    c: ClassifyConfig, pre: ClassificationPreprocessing, inputs: dict[str, list[Any]]
) -> tuple[NearestNeighbourDTW | None, dict[str, Any]]:
    """The 1-NN DTW baseline to fit (None: not this run) and what the report says about it
    (``{}`` when nothing needs saying: text, or turned off). It runs on numeric sequences
    whose steps are vectors, when dtaidistance loads and the DTW tables of every (training,
    validation or test) pair hold at most ``dtw_max_cells`` cells."""
    if pre.kind == "text" or c.dtw_baseline == "off" or not library_baselines_enabled():
        return None, {}
    lengths = {k: [len(s) for s in v] for k, v in inputs.items()}
    cells = dtw_cells(lengths["train"], lengths["val"] + lengths["test"])
    record: dict[str, Any] = {"scored": False, "cells": cells, "band": DTW_BAND}
    why = None
    if len(pre.step_shape) != 1:
        why = (f"its steps are arrays of shape {pre.step_shape} (frames), and DTW compares "
               "steps as vectors")
    elif cells > c.dtw_max_cells:
        why = (f"{cells:.3g} DTW cells (Σ training lengths × Σ validation and test lengths) "
               f"> dtw_max_cells={c.dtw_max_cells:.3g}")
    else:
        why = dtaidistance_modules()[1]
    if why is not None:
        return None, {**record, "note": f"1-NN DTW skipped: {why}."}
    model = NearestNeighbourDTW(DTW_BAND)
    return model, {
        **record,
        "scored": True,
        "note": (f"1-NN DTW: dynamic time warping in a {DTW_BAND:.0%} Sakoe-Chiba band "
                 f"(dtaidistance) on the normalised sequences, {cells:.3g} cells."),
    }


def minirocket_baseline(
    c: ClassifyConfig, pre: ClassificationPreprocessing, inputs: dict[str, list[Any]]
) -> tuple[MiniRocketRidge | None, dict[str, Any]]:
    """The MiniRocket baseline to fit (None: not this run) and what the report says about it
    (``{}`` when nothing needs saying: text, or turned off). It runs on numeric sequences whose
    steps are vectors, when sktime loads and its work (:func:`minirocket_cells`: the transform
    of every sequence and the ridge fit) is at most ``minirocket_max_cells``."""
    if pre.kind == "text" or c.minirocket_baseline == "off" or not library_baselines_enabled():
        return None, {}
    lengths = [len(s) for part in inputs.values() for s in part]
    channels = int(np.prod(pre.step_shape)) if pre.step_shape else 1
    cells = minirocket_cells(lengths, channels, len(inputs["train"]))
    record: dict[str, Any] = {"scored": False, "cells": cells}
    if len(pre.step_shape) != 1:
        why = (f"its steps are arrays of shape {pre.step_shape} (frames), and MiniRocket "
               "convolves steps that are vectors")
    elif cells > c.minirocket_max_cells:
        why = (f"{cells:.3g} cells (9,996 features × channels × Σ lengths, plus the ridge) "
               f"> minirocket_max_cells={c.minirocket_max_cells:.3g}")
    else:
        why = sktime_rocket()[1]
    if why is not None:
        return None, {**record, "note": f"MiniRocket skipped: {why}."}
    varying = len({len(s) for s in inputs["train"]}) > 1
    transformer = ("MiniRocketMultivariateVariable" if varying
                   else "MiniRocket" if channels == 1 else "MiniRocketMultivariate")
    return MiniRocketRidge(), {
        **record,
        "scored": True,
        "transformer": transformer,
        "note": (f"MiniRocket: 9,996 features from sktime's {transformer} (random_state 0) and "
                 f"a ridge classifier (RidgeClassifierCV, alphas 1e-3…1e3) on the normalised "
                 f"sequences, {cells:.3g} cells."),
    }


def reading_of(c: ClassifyConfig) -> dict[str, Any]:
    """How ``c``'s files are read: CSV dialect and what to do with unusable rows."""
    options = c.file_options()
    return {"on_bad_rows": c.on_bad_rows, **{k: options[k] for k in ("sep", "decimal", "encoding")}}


def read_for(loaded: LoadedClassifier, data: Any, *, labelled: bool) -> ClassificationData:
    """Read ``data`` with the column options the model was trained with."""
    c = copy.deepcopy(loaded.config)
    columns = {**columns_of(c), **loaded.preprocessing.columns}
    reading = reading_of(c)
    if isinstance(data, (list, tuple)) and all(isinstance(t, str) for t in data):
        data = pd.DataFrame({columns["text_column"]: list(data)})
    elif isinstance(data, SequenceSet):
        return sequence_data(data)
    elif isinstance(data, ClassificationData):
        return data
    if data is None:
        # The model's own test data: exactly the recorded test rows of the unchanged source.
        full = read_classification_data(stored_source(loaded.test_data), columns, **reading)
        rows = selected_rows(loaded.test_data, len(full))
        return full if rows is None else full.subset(rows)
    if isinstance(data, (str, os.PathLike)) and is_bundled(str(data)) and not Path(data).exists():
        full = read_classification_data(str(data), columns, **reading)
        return full.subset(np.flatnonzero(full.split == "test")) if full.split is not None else full
    return read_classification_data(data, columns, labelled=labelled, **reading)


# --------------------------------------------------------------------------------------------
# The one-call API (what ``rnnkit train/evaluate/predict --task classify`` run)
# --------------------------------------------------------------------------------------------


def training_defaults(dataset: str | ClassifyConfig | None = None) -> dict[str, Any]:
    """:class:`TrainConfig` values for this task: :data:`CLASSIFY_TRAINING_DEFAULTS`, then the
    bundled ``dataset``'s own (a command line lays config-file values and flags over these)."""
    return TASK.training_defaults(dataset)


def default_training(dataset: str | ClassifyConfig | None = None, **overrides: Any) -> TrainConfig:
    """:class:`TrainConfig` from :func:`training_defaults` for ``dataset``, then ``overrides``."""
    return TASK.default_training(dataset, **overrides)


def train(
    config: ClassifyConfig,
    run_dir: str | os.PathLike[str],
    *,
    training: TrainConfig | None = None,
    quiet: bool = False,
) -> ClassifyResult:
    """Train, score and save a sequence classifier; see the module docstring for what is
    written (training options default to :func:`default_training` for ``config.data``)."""
    return run_task(TASK, config, run_dir, training=training, quiet=quiet)


def load_classifier(path: str | os.PathLike[str] | Artifact) -> LoadedClassifier:
    """Rebuild a classifier saved by :func:`train` (never executes code from the file).

    Raises:
        ValueError: the artifact holds another kind of model.
    """
    return TASK.load(path)


def evaluate(
    artifact: str | os.PathLike[str] | LoadedClassifier, data: Any = None
) -> dict[str, Any]:
    """Score a saved classifier on labelled ``data``.

    Args:
        artifact: an artifact path (or a :class:`LoadedClassifier`).
        data: a file, a text DataFrame, a bundled dataset name (its test split), or None
            (exactly the test split recorded at training, refused if its file moved or
            changed).

    Returns:
        metrics: accuracy, macro_f1, per_class precision/recall/F1/support, confusion_matrix.

    Raises:
        ValueError: missing labels, or labels the model was not trained on.
    """
    return TASK.evaluate(TASK.loaded(artifact, LoadedClassifier), data)


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
    return TASK.predict(TASK.loaded(artifact, LoadedClassifier), data)
