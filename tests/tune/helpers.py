"""Small labelled data for the tuning tests: fast to train, with a signal to learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_sequences(path: Path, n: int = 48, t: int = 10, seed: int = 0,
                    groups: bool = False) -> Path:
    """An NPZ of n sequences (t, 2) in 2 classes: class c has mean (2c - 1) on channel 0."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, t, 2)).astype(np.float32)
    x[:, :, 0] += (2 * y - 1)[:, None] * 1.5
    np.savez(path, x=x, y=y.astype(np.int64))
    return path


def write_text_csv(path: Path, n: int = 40) -> Path:
    """A CSV of short texts in 2 classes with a 'speaker' column (4 speakers)."""
    words = {0: ["good", "fine", "great"], 1: ["bad", "poor", "awful"]}
    rows = ["text,label,speaker"]
    for i in range(n):
        label = i % 2
        text = " ".join(words[label][(i + k) % 3] for k in range(3))
        rows.append(f"{text} item{i},{'pos' if label == 0 else 'neg'},s{(i // 2) % 4}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path

FAST = {
    "epochs": "2",
    "conv_branch": "false",
    "baselines": "false",
    "batch_size": "8",
    "min_updates": "0",
    "test_fraction": "0.25",
}
