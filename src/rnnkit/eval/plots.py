"""Forecast-vs-actual figures (PNG) with prediction intervals.

One panel per (series, target), up to ``max_panels``: the actual values over the backtest period
as a line, and the model's forecasts from non-overlapping origins (every h steps, so the paths
tile the period) as dashed paths inside their shaded interval. The figure comes from
:func:`rnnkit.core.plotting.new_figure` (Agg canvas, no pyplot, no global backend change), and
matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rnnkit.core import plotting
from rnnkit.eval.backtest import Forecasts


def plot_forecasts(
    forecasts: Forecasts,
    path: str | os.PathLike[str],
    *,
    targets: list[str],
    title: str = "",
    max_panels: int = 4,
) -> Path:
    """Write the figure to ``path`` (PNG); returns the path.

    Raises:
        rnnkit.errors.PlotDependencyError: matplotlib is not installed (``pip install
            "rnnkit[plot]"``); it is also a ``ValueError``, as this function raised before.
    """
    w = forecasts.windows
    h = w.actual.shape[1]
    panels = [(s, c) for s in np.unique(w.series) for c in range(len(targets))][:max_panels]
    fig, axes = plotting.new_figure(len(panels), 1, size=(10, 2.8 * len(panels)), layout=None,
                                    purpose="forecast plots")
    for ax, (s, c) in zip(axes[:, 0], panels, strict=True):
        rows = np.flatnonzero(w.series == s)
        rows = rows[np.argsort(w.origin[rows])]
        # The actual series: first step of every window, then the last window's tail.
        times = list(w.times[rows, 0]) + list(w.times[rows[-1], 1:])
        actual = list(w.actual[rows, 0, c]) + list(w.actual[rows[-1], 1:, c])
        ax.plot(times, actual, color="black", lw=1.0, label="actual")
        # Non-overlapping forecast paths, aligned so that the last one ends on the last row.
        for k, r in enumerate(rows[::-1][::h][::-1]):
            t = list(w.times[r])
            label = "forecast" if k == 0 else None
            ax.plot(t, forecasts.point[r, :, c], color="tab:blue", lw=1.2, ls="--", label=label)
            if forecasts.interval_level is not None:
                ax.fill_between(
                    t,
                    forecasts.quantiles[r, :, c, 0],
                    forecasts.quantiles[r, :, c, -1],
                    color="tab:blue",
                    alpha=0.2,
                    lw=0,
                    label=f"{forecasts.interval_level:.0%} interval" if k == 0 else None,
                )
        sid = w.series_ids[s] if w.series_ids else ""
        ax.set_title(" · ".join(x for x in (title, sid, targets[c]) if x), fontsize=10)
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return plotting.save_figure(fig, path, dpi=100)
