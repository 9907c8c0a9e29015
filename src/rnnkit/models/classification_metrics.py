"""Classification metrics: accuracy, macro-F1, per-class precision and recall, confusion matrix.

For C classes and the confusion matrix M (rows: true class, columns: predicted class):

.. math::
    \\text{precision}_c = \\frac{M_{cc}}{\\sum_k M_{kc}}, \\quad
    \\text{recall}_c = \\frac{M_{cc}}{\\sum_k M_{ck}}, \\quad
    F1_c = \\frac{2 \\, p_c r_c}{p_c + r_c}, \\quad
    \\text{macro-}F1 = \\frac{1}{C} \\sum_c F1_c, \\quad
    \\text{accuracy} = \\frac{\\sum_c M_{cc}}{\\sum M}

A ratio whose denominator is zero (a class never predicted, or absent from the data) counts as 0,
the convention of scikit-learn's ``zero_division=0``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.core import plotting


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


@dataclass
class ClassificationReport:
    """Metrics of one evaluation. ``confusion[i, j]`` counts true class i predicted as j."""

    labels: list[str | int]
    confusion: np.ndarray

    @property
    def support(self) -> np.ndarray:
        return self.confusion.sum(axis=1)

    @property
    def precision(self) -> np.ndarray:
        return _ratio(np.diag(self.confusion), self.confusion.sum(axis=0))

    @property
    def recall(self) -> np.ndarray:
        return _ratio(np.diag(self.confusion), self.confusion.sum(axis=1))

    @property
    def f1(self) -> np.ndarray:
        p, r = self.precision, self.recall
        return _ratio(2 * p * r, p + r)

    @property
    def accuracy(self) -> float:
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else 0.0

    @property
    def macro_f1(self) -> float:
        return float(self.f1.mean())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metrics (what ``metrics.json`` holds)."""
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "n": int(self.confusion.sum()),
            "per_class": {
                str(label): {
                    "precision": float(p),
                    "recall": float(r),
                    "f1": float(f),
                    "support": int(s),
                }
                for label, p, r, f, s in zip(
                    self.labels, self.precision, self.recall, self.f1, self.support, strict=True
                )
            },
            "labels": list(self.labels),
            "confusion_matrix": self.confusion.astype(int).tolist(),
        }

    def format_table(self) -> str:
        """Per-class precision / recall / F1 / support, then accuracy and macro-F1."""
        names = [str(label) for label in self.labels]
        width = max(9, *(len(n) for n in names))
        lines = [f"{'class':<{width}}  precision  recall     f1  support"]
        for n, p, r, f, s in zip(
            names, self.precision, self.recall, self.f1, self.support, strict=True
        ):
            lines.append(f"{n:<{width}}  {p:9.3f}  {r:6.3f}  {f:5.3f}  {s:7d}")
        lines.append(
            f"{'accuracy':<{width}}  {self.accuracy:9.3f}  (n={int(self.confusion.sum())})"
        )
        lines.append(f"{'macro-F1':<{width}}  {self.macro_f1:9.3f}")
        return "\n".join(lines)

    def format_confusion(self) -> str:
        """The confusion matrix as text: rows true class, columns predicted class."""
        names = [str(label) for label in self.labels]
        cell = max(5, *(len(n) for n in names), len(str(int(self.confusion.max(initial=0)))))
        head = " " * cell + "  " + " ".join(f"{n:>{cell}}" for n in names) + "   ← predicted"
        rows = [
            f"{n:>{cell}}  " + " ".join(f"{int(v):>{cell}d}" for v in row)
            for n, row in zip(names, self.confusion, strict=True)
        ]
        return "\n".join([head, *rows, "(rows: true class)"])


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    """(C, C) int64 counts; ``y_true``/``y_pred`` are class ids in [0, C)."""
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}"
        )
    for name, ids in (("y_true", y_true), ("y_pred", y_pred)):
        if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
            raise ValueError(
                f"{name} must hold class ids in [0, {num_classes}), got range "
                f"[{ids.min()}, {ids.max()}]"
            )
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def classification_report(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str | int]
) -> ClassificationReport:
    """Metrics of predictions ``y_pred`` against ``y_true`` (class ids indexing ``labels``)."""
    return ClassificationReport(list(labels), confusion_matrix(y_true, y_pred, len(labels)))


def plot_confusion_matrix(
    report: ClassificationReport, path: str | os.PathLike[str], *, title: str = ""
) -> Path:
    """Save the confusion matrix as a PNG heat map with counts; returns the path.

    Raises:
        rnnkit.errors.PlotDependencyError: matplotlib is not installed.
    """
    m = report.confusion
    c = len(report.labels)
    size = min(12.0, 2.5 + 0.6 * c)
    fig, axes = plotting.new_figure(size=(size, size), layout=None,
                                    purpose="confusion-matrix plots")
    ax = axes[0][0]
    # Colour by row share so that small classes are as readable as large ones.
    share = _ratio(m.astype(np.float64), m.sum(axis=1, keepdims=True).astype(np.float64))
    ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    names = [str(label) for label in report.labels]
    ax.set_xticks(range(c), names, rotation=45, ha="right")
    ax.set_yticks(range(c), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if c <= 30:
        for i in range(c):
            for j in range(c):
                ax.text(
                    j,
                    i,
                    str(int(m[i, j])),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black",
                )
    ax.set_title(title or f"accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}")
    fig.tight_layout()
    return plotting.save_figure(fig, path, dpi=100)


def bmes_spans(tags: Sequence[str]) -> list[tuple[int, int]]:
    """Word spans [start, end) read from BMES tags (leniently, as
    :func:`rnnkit.data.tagging.bmes_to_words` reads them)."""
    spans = []
    start = None
    for i, t in enumerate(tags):
        if t in ("b", "s") and start is not None:
            spans.append((start, i))
            start = None
        if start is None:
            start = i
        if t in ("e", "s"):
            spans.append((start, i + 1))
            start = None
    if start is not None:
        spans.append((start, len(tags)))
    return spans


def segmentation_scores(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Word-level precision, recall and F1 of a segmentation given as BMES tag sequences.

    A predicted word counts as correct when a gold word has exactly the same span (the
    standard word segmentation score of the SIGHAN bakeoffs):
    P = correct / predicted words, R = correct / gold words, F1 = 2PR / (P + R).
    """
    correct = n_gold = n_pred = 0
    for g, p in zip(gold, predicted, strict=True):
        gs, ps = set(bmes_spans(g)), set(bmes_spans(p))
        correct += len(gs & ps)
        n_gold += len(gs)
        n_pred += len(ps)
    precision = correct / n_pred if n_pred else 0.0
    recall = correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"word_precision": precision, "word_recall": recall, "word_f1": f1}
