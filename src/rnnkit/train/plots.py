"""Learning-curve plots as PNG files (matplotlib, imported only when a plot is drawn).

Figures come from :func:`rnnkit.core.plotting.new_figure`: drawn on matplotlib's Agg canvas
without pyplot, so plotting never opens a window, never needs a display and never changes the
global backend of the caller; a missing matplotlib raises :class:`PlotDependencyError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rnnkit.core import plotting
from rnnkit.errors import PlotDependencyError
from rnnkit.train.history import History

__all__ = ["PlotDependencyError", "plot_comparison", "plot_history", "require_matplotlib"]

_PURPOSE = "learning-curve plots"
_FIX = "or set TrainConfig(plots=False)"


def require_matplotlib() -> None:
    """Raise :class:`PlotDependencyError` (with the fix) when matplotlib is missing."""
    plotting.require_matplotlib(_PURPOSE, _FIX)


def _figure(rows: int, cols: int, size: tuple[float, float]) -> tuple[Any, Any]:
    return plotting.new_figure(rows, cols, size=size, purpose=_PURPOSE, fix=_FIX)


def _save(fig: Any, path: str | Path) -> Path:
    return plotting.save_figure(fig, path, dpi=110)


def _finite(xs: Sequence[Any], ys: Sequence[Any]) -> tuple[list[Any], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True)
             if isinstance(y, (int, float)) and math.isfinite(y)]
    return [p[0] for p in pairs], [float(p[1]) for p in pairs]


def _metric_names(history: History) -> list[str]:
    names: list[str] = []
    for row in history.epochs:
        for key in row:
            if key.startswith(("val_", "train_")) and not key.endswith("_loss"):
                name = key.split("_", 1)[1]
                if name not in names:
                    names.append(name)
    return names


def plot_history(history: History, path: str | Path, *, clip_norm: float | None = None) -> Path:
    """One run's learning curves: loss (per update and per epoch), metrics per epoch, and the
    gradient norm before clipping (log scale, with the clipping threshold)."""
    metrics = _metric_names(history)
    fig, axes = _figure(1, 3 if metrics else 2, (5.0 * (3 if metrics else 2), 3.8))
    ax = axes[0][0]
    steps = history.steps["step"]
    x, y = _finite(steps, history.steps["loss"])
    ax.plot(x, y, color="0.75", linewidth=0.8, label="train (per update)")
    ends = history.column("step")
    for name, style in (("train_loss", "-o"), ("val_loss", "-s")):
        ex, ey = _finite(ends, history.column(name))
        if ey:
            ax.plot(ex, ey, style, markersize=3, label=f"{name} (epoch)")
    ax.set(xlabel="update", ylabel="loss", yscale="log" if y and min(y) > 0 else "linear",
           title="loss")
    ax.legend(fontsize=8)
    if metrics:
        ax = axes[0][1]
        for name in metrics:
            for prefix, style in (("train", "--"), ("val", "-")):
                ex, ey = _finite(ends, history.column(f"{prefix}_{name}"))
                if ey:
                    ax.plot(ex, ey, style, marker=".", label=f"{prefix}_{name}")
        ax.set(xlabel="update", title="metrics")
        ax.legend(fontsize=8)
    ax = axes[0][-1]
    x, y = _finite(steps, history.steps["grad_norm"])
    ax.plot(x, y, linewidth=0.8, label="‖g‖ before clipping")
    if clip_norm is not None:
        ax.axhline(clip_norm, color="tab:red", linestyle="--", label=f"clip_norm {clip_norm:g}")
    ax.set(xlabel="update", title=f"gradient norm (clipped {100 * history.clipped_share:.0f}%)",
           yscale="log" if y and min(y) > 0 else "linear")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_comparison(runs: Mapping[str, History], path: str | Path, *,
                    metric: str = "val_loss", title: str | None = None,
                    reference: tuple[float, str] | None = None) -> Path:
    """Several runs' learning curves in one figure: per-update training loss (left) and the
    per-epoch ``metric`` (right), against the update count.

    Args:
        runs: label → history.
        metric: the epoch column to compare, e.g. 'val_mse'.
        reference: an optional horizontal line (value, label), e.g. (0.667, 'predict 0').
    """
    fig, axes = _figure(1, 2, (11.0, 4.0))
    left, right = axes[0]
    for label, history in runs.items():
        x, y = _finite(history.steps["step"], history.steps["loss"])
        (line,) = left.plot(x, y, linewidth=0.7, alpha=0.8, label=label)
        ex, ey = _finite(history.column("step"), history.column(metric))
        right.plot(ex, ey, "-o", markersize=3, color=line.get_color(), label=label)
    for ax in (left, right):
        if reference is not None:
            ax.axhline(reference[0], color="0.4", linestyle=":", label=reference[1])
        ax.set(xlabel="update", yscale="log")
        ax.legend(fontsize=8)
    left.set(ylabel="training loss (per update)", title="training loss")
    right.set(ylabel=metric, title=title or metric)
    return _save(fig, path)
