"""Run directories: one folder per training run, holding everything that run produced.

::

    runs/forecast-seattle-weather-20261127-101500/
        config.toml        the resolved configuration (file + flags + dataset defaults)
        data.json          which data: source (absolute path + SHA-256, or dataset name) and
                           test selection; ``--resume`` checks it
        model.safetensors  the trained model artifact (rnnkit.load reads it)
        metrics.json       metrics on validation and test, beside the baselines'
        history.csv/.json  per-epoch losses and metrics (steps.csv: per update)
        *.png              learning curves and task plots
        best.safetensors   training checkpoints (best epoch, last update): resumable,
        last.safetensors   safetensors + JSON like every file rnnkit writes
        summary.md         what a person reads first (also printed at the end)

Every file is written through a temporary file and an atomic rename, so an interrupted run never
leaves a half-written file in place of a good one.
An interrupted run continues with ``rnnkit train --resume runs/NAME``
(:func:`rnnkit.api.train`); a run that fails on its options or data leaves no folder.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rnnkit.core.files import atomic_write_bytes

#: The resumable checkpoint the trainer keeps in a run directory.
LAST_CHECKPOINT = "last.safetensors"


class RunInterrupted(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C, or SIGTERM through the command line); the run
    directory is kept and can be resumed from its last checkpoint.

    A ``KeyboardInterrupt``, so code that stops on Ctrl-C keeps doing so.

    Attributes:
        run_dir: the run directory.
        checkpoint: ``run_dir / 'last.safetensors'`` if it was written, else None.
        signum: the signal that interrupted the run (``signal.SIGINT`` or ``SIGTERM``).
    """

    def __init__(self, run_dir: Path, signum: int) -> None:
        checkpoint = run_dir / LAST_CHECKPOINT
        self.run_dir = run_dir
        self.checkpoint = checkpoint if checkpoint.is_file() else None
        self.signum = signum
        super().__init__(f"training in {run_dir} interrupted")


def check_new_run(root: str | Path, name: str | None) -> None:
    """Refuse a run ``name`` that is not a plain folder name or whose folder under ``root``
    already has files (checked before any data is read, and again on creation). Under
    torchrun only rank 0 checks the folder (it alone makes it).

    Raises:
        ValueError: naming the run and what to do.
    """
    if name is None:
        return
    if not name or not re.fullmatch(r"[\w.\-]+", name) or name in (".", ".."):
        raise ValueError(
            f"run name must be a plain folder name (letters, digits, '.', '-', '_'), got {name!r}"
        )
    path = Path(root) / name
    from rnnkit.train.distributed import launched_rank

    if launched_rank() != 0:
        # Under torchrun only rank 0 makes (and so checks) the folder; another rank would see
        # the folder rank 0 has just made and refuse its own run.
        return
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ValueError(
            f"run directory {str(path)!r} already exists and is not empty; choose another "
            f"--name, remove it, or continue it with: rnnkit train --resume {path}"
        )


def make_run_dir(root: str | Path, name: str | None, prefix: str) -> Path:
    """Create and return a new run directory under ``root``.

    Args:
        root: the folder that holds runs (created if missing).
        name: the run's name; None generates ``<prefix>-<YYYYmmdd-HHMMSS>``.
        prefix: start of a generated name, e.g. 'forecast-seattle-weather'.

    Raises:
        ValueError: ``name`` is not a plain folder name, or names a run that already has files.
    """
    root = Path(root)
    check_new_run(root, name)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"runs folder {str(root)!r} cannot be created: {err}") from err
    if name is None:
        base = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
        name, n = base, 1
        while (root / name).exists():
            n += 1
            name = f"{base}-{n}"
    path = root / name
    check_new_run(root, name)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write text atomically (temp file + rename)."""
    atomic_write_bytes(path, text.encode("utf-8"))
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    """Write JSON atomically, indented and with sorted keys."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=jsonable) + "\n")


def jsonable(value: Any) -> Any:
    """``json.dumps``'s ``default``: numpy and torch values as numbers and lists, paths as text."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # numpy and torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def strict_json(value: Any) -> Any:
    """``value`` with NaN and infinities as null, recursively: JSON that every parser reads."""
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 4) -> str:
    """A Markdown table; floats are shown with ``digits`` significant digits."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.{digits}g}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_text(title: str, sections: Mapping[str, str]) -> str:
    """The Markdown of ``summary.md``: a title, then one ``## heading`` per section."""
    parts = [f"# {title}", ""]
    for heading, body in sections.items():
        parts += [f"## {heading}", "", body.rstrip(), ""]
    return "\n".join(parts)


def write_summary(run_dir: str | Path, title: str, sections: Mapping[str, str]) -> str:
    """Write ``summary.md`` (see :func:`summary_text`) and return its text."""
    text = summary_text(title, sections)
    write_text(Path(run_dir) / "summary.md", text)
    return text
