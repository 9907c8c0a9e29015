"""What the outputs of ``rnnkit evaluate`` and ``rnnkit predict`` must never write over."""

from __future__ import annotations

import os
from pathlib import Path

#: Files only a run directory holds beside its model.safetensors (see rnnkit.runs).
RUN_MARKERS = ("config.toml", "metrics.json", "summary.md")


def run_files(model: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """``(description, path)`` pairs to protect for a RUN_OR_ARTIFACT argument.

    A run directory protects every file in it. An artifact file protects itself and, when it lies
    in a run directory (one of :data:`RUN_MARKERS` beside it), that folder too; an artifact kept
    in an ordinary folder leaves that folder's other files alone.
    """
    path = Path(model)
    if path.is_dir():
        return [("a file of the run directory", path)]
    pairs = [("the model artifact", path)]
    if any((path.parent / marker).is_file() for marker in RUN_MARKERS):
        pairs.append(("a file of the run directory", path.parent))
    return pairs
