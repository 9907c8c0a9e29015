"""Images as sequences: handwritten digits read row by row, and short videos frame by frame.

* ``--dataset digits`` (8×8, 1,797 images) or ``mnist-5k`` (28×28, 5,000 images): each image
  is a sequence of its rows (T = H steps of F = W pixels) into an LSTM; printed beside a
  1-nearest-neighbour and a per-row-statistics baseline on the same split.
* ``--video``: "moving digits" — each 8×8 digit slides across a 16×16 canvas over 8 frames, to
  the left, right, up or down; the class is the direction. Every frame goes through a small CNN
  (:class:`rnnkit.models.frame_encoder.FrameEncoder`) before the recurrent layer; a single
  frame cannot tell the direction, only the sequence can. The videos are written to an NPZ
  file (arrays x (N, T, H, W), y) and trained through the same task API as any NPZ input.

Usage::

    python examples/classify_images.py --dataset digits
    python examples/classify_images.py --dataset mnist-5k
    python examples/classify_images.py --video
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rnnkit.data.registry import load_dataset
from rnnkit.tasks import classify

DIRECTIONS = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}


def moving_digits(
    frames: int = 8, canvas: int = 16, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Videos (N, T, canvas, canvas) of the sklearn digits sliding one pixel per frame, and the
    direction of each as its label."""
    digits = load_dataset("digits")
    rng = np.random.default_rng(seed)
    videos, labels = [], []
    for image in digits.sequences:
        name = rng.choice(list(DIRECTIONS))
        dy, dx = DIRECTIONS[name]
        # Start so that all frames stay on the canvas (8 px digit, 16 px canvas, 8 frames).
        y0 = 0 if dy > 0 else (canvas - 8 if dy < 0 else int(rng.integers(0, canvas - 7)))
        x0 = 0 if dx > 0 else (canvas - 8 if dx < 0 else int(rng.integers(0, canvas - 7)))
        clip = np.zeros((frames, canvas, canvas), np.float32)
        for t in range(frames):
            y, x = y0 + dy * t, x0 + dx * t
            clip[t, y : y + 8, x : x + 8] = image / 16.0
        videos.append(clip)
        labels.append(name)
    return np.stack(videos), np.array(labels)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=["digits", "mnist-5k"], default="digits")
    p.add_argument("--video", action="store_true", help="moving-digit videos through a frame CNN")
    p.add_argument("--out", type=Path, default=Path("runs"))
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args()

    if args.video:
        run_dir = args.out / "moving-digits"
        run_dir.mkdir(parents=True, exist_ok=True)
        x, y = moving_digits()
        data = run_dir / "moving_digits.npz"
        np.savez_compressed(data, x=x, y=y)
        config = classify.ClassifyConfig(data=str(data), normalization="global", hidden_size=32)
        training = classify.default_training(epochs=10)
    else:
        run_dir = args.out / args.dataset
        run_dir.mkdir(parents=True, exist_ok=True)
        config = classify.ClassifyConfig(data=args.dataset)
        training = classify.default_training(args.dataset)
    result = classify.train(config, run_dir, training=training, quiet=args.quiet)
    print(f"\n{config.data}: {result.metrics['data']}\n")
    print(result.table("test"))
    print()
    print(result.reports["test"].format_table())
    print()
    print(result.reports["test"].format_confusion())


if __name__ == "__main__":
    main()
