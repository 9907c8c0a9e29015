"""The record of a run: one row per epoch, one entry per optimiser update.

Epoch rows hold ``epoch``, ``step`` (updates so far), ``train_loss``, ``train_<metric>``,
``val_loss``, ``val_<metric>``, ``lr``, ``grad_norm`` (mean norm before clipping),
``clipped_share`` (share of the epoch's updates that were clipped) and ``seconds``. Step entries
hold ``step``, ``epoch``, ``loss``, ``grad_norm`` (before clipping), ``clipped`` and ``lr``.

:func:`write_history` writes ``history.json`` (config, epochs, steps), ``history.csv`` (epochs)
and ``steps.csv`` (updates), each atomically.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from rnnkit.core import files

STEP_FIELDS = ("step", "epoch", "loss", "grad_norm", "clipped", "lr")


class History:
    """Epoch rows and per-update entries of a run (kept in memory and in checkpoints)."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, Any]] = []
        self.steps: dict[str, list[Any]] = {name: [] for name in STEP_FIELDS}

    def add_step(self, *, step: int, epoch: int, loss: float, grad_norm: float, clipped: bool,
                 lr: float) -> None:
        """Record one optimiser update."""
        for name, value in zip(STEP_FIELDS, (step, epoch, loss, grad_norm, clipped, lr),
                               strict=True):
            self.steps[name].append(value)

    def add_epoch(self, row: dict[str, Any]) -> None:
        """Record one epoch's summary row."""
        self.epochs.append(dict(row))

    def column(self, name: str) -> list[Any]:
        """One epoch column (None where an epoch lacks it)."""
        return [row.get(name) for row in self.epochs]

    @property
    def num_steps(self) -> int:
        return len(self.steps["step"])

    @property
    def clipped_share(self) -> float:
        """Share of all updates so far whose gradient was clipped (0 when there were none)."""
        n = self.num_steps
        return sum(self.steps["clipped"]) / n if n else 0.0

    def last(self, name: str, default: Any = None) -> Any:
        """The latest epoch's value of ``name``."""
        return self.epochs[-1].get(name, default) if self.epochs else default

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": [dict(r) for r in self.epochs],
                "steps": {k: list(v) for k, v in self.steps.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epochs = [dict(r) for r in state["epochs"]]
        self.steps = {k: list(state["steps"][k]) for k in STEP_FIELDS}


def _clean(value: Any) -> Any:
    """JSON has no nan/inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _csv(rows: list[dict[str, Any]]) -> bytes:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode()


def write_history(history: History, out_dir: str | Path, config: dict[str, Any]) -> None:
    """Write ``history.json``, ``history.csv`` and ``steps.csv`` into ``out_dir``."""
    folder = Path(out_dir)
    document = {
        "config": config,
        "epochs": [{k: _clean(v) for k, v in row.items()} for row in history.epochs],
        "steps": {k: [_clean(v) for v in vs] for k, vs in history.steps.items()},
        "clipped_share": history.clipped_share,
    }
    files.atomic_write_bytes(folder / "history.json",
                       json.dumps(document, indent=1, allow_nan=False).encode())
    files.atomic_write_bytes(folder / "history.csv", _csv(history.epochs))
    step_rows = [dict(zip(STEP_FIELDS, values, strict=True))
                 for values in zip(*(history.steps[k] for k in STEP_FIELDS), strict=True)]
    files.atomic_write_bytes(folder / "steps.csv", _csv(step_rows))
