"""The reliability figure of a forecaster's intervals (PNG): nominal against observed coverage.

Each point is one central interval [q_α/2, q_1−α/2] of the backtest's forecasts: x its nominal
coverage 1 − α, y the share of actual values inside it (:func:`rnnkit.eval.forecast_metrics.
reliability`). Points on the diagonal are calibrated; below it the intervals are too narrow
(over-confident), above it too wide. A conformally calibrated interval is drawn as its own
marker at its level. matplotlib is imported only when the figure is drawn.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rnnkit.core import plotting


def plot_reliability(
    reliability: dict[str, Any], path: str | os.PathLike[str], *, title: str = ""
) -> Path:
    """Write the figure for ``reliability`` (``{'nominal': [...], 'observed': [...]}`` and
    optionally ``'calibrated': {'nominal': x, 'observed': y}``) to ``path``; returns the path.

    Raises:
        rnnkit.errors.PlotDependencyError: matplotlib is not installed.
    """
    fig, axes = plotting.new_figure(1, 1, size=(5.2, 5.0), purpose="reliability plots")
    ax = axes[0, 0]
    ax.plot([0, 1], [0, 1], color="grey", lw=1.0, ls=":", label="calibrated")
    ax.plot(
        reliability["nominal"], reliability["observed"], marker="o", color="tab:blue",
        label="model intervals",
    )
    if "calibrated" in reliability:
        c = reliability["calibrated"]
        ax.plot([c["nominal"]], [c["observed"]], marker="*", ms=14, ls="", color="tab:red",
                label=f"conformal {c['nominal']:.0%} interval")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("observed coverage")
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return plotting.save_figure(fig, path)
