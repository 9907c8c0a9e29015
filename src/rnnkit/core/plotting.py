"""Figures for files, with one behaviour when matplotlib is missing.

Figures are drawn on matplotlib's Agg canvas directly, without pyplot: plotting never opens a
window, never needs a display, never changes the caller's global backend (no
``matplotlib.use``) and leaves nothing in pyplot's figure registry to close. matplotlib is
imported only when a figure is made; when it is not installed, :class:`PlotDependencyError` says
how to install it.
"""

from __future__ import annotations

import importlib.util
import io
import os
from pathlib import Path
from typing import Any

from rnnkit.core import files
from rnnkit.errors import PlotDependencyError

__all__ = ["PlotDependencyError", "new_figure", "require_matplotlib", "save_figure"]

INSTALL = 'pip install "rnnkit[plot]"'


def require_matplotlib(purpose: str = "plots", fix: str = "") -> None:
    """Raise :class:`PlotDependencyError` when matplotlib is not installed.

    Args:
        purpose: what needs it, the start of the message ('learning-curve plots').
        fix: an alternative to installing, appended in parentheses ('or set plots=False').
    """
    if importlib.util.find_spec("matplotlib") is None:
        raise _missing(purpose, fix)


def _missing(purpose: str, fix: str) -> PlotDependencyError:
    alternative = f" ({fix})" if fix else ""
    return PlotDependencyError(
        f"{purpose} need matplotlib, which is not installed: {INSTALL}{alternative}"
    )


def new_figure(rows: int = 1, cols: int = 1, *, size: tuple[float, float] = (6.4, 4.8),
               layout: str | None = "constrained", purpose: str = "plots",
               fix: str = "") -> tuple[Any, Any]:
    """A figure on its own Agg canvas and its axes as a ``rows × cols`` array.

    Args:
        rows, cols: the grid of axes (the array is always two-dimensional).
        size: width and height in inches.
        layout: matplotlib's layout engine ('constrained', 'tight' or None).
        purpose, fix: for the message when matplotlib is missing (see
            :func:`require_matplotlib`).

    Raises:
        PlotDependencyError: matplotlib is not installed.
    """
    require_matplotlib(purpose, fix)
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:  # found but broken (e.g. a missing compiled part)
        raise _missing(purpose, fix) from err
    fig = Figure(figsize=size, layout=layout)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols, squeeze=False)


def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: float = 100) -> Path:
    """Render ``fig`` as PNG and write it to ``path`` atomically; returns the path."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return files.atomic_write_bytes(path, buffer.getvalue())
