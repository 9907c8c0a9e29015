"""Action recognition from a smart watch: BasicMotions (UEA archive), 4 activities.

Each recording is 100 steps (10 s) of a 3-axis accelerometer and a 3-axis gyroscope; the
classes are standing, walking, running and playing badminton. The archive's own split has 40
training and 40 test recordings. Trains the default configuration (GRU, max pooling over time,
per-channel normalisation fit on the training recordings) and prints the test table beside a
1-nearest-neighbour and a per-channel-statistics baseline, the per-class report and the
confusion matrix. Usage::

    python examples/classify_motions.py
    python examples/classify_motions.py --seeds 0 1 2     # spread over training seeds
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rnnkit.tasks import classify


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--out", type=Path, default=Path("runs"))
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args()

    accuracies = []
    for seed in args.seeds:
        run_dir = args.out / f"basic-motions-seed{seed}"
        run_dir.mkdir(parents=True, exist_ok=True)
        result = classify.train(
            classify.ClassifyConfig(data="basic-motions"),
            run_dir,
            training=classify.default_training("basic-motions", seed=seed),
            quiet=args.quiet,
        )
        accuracies.append(result.metrics["test"]["model"]["accuracy"])
        print(f"\nseed {seed}:\n")
        print(result.table("test"))
        print()
        print(result.reports["test"].format_table())
        print()
        print(result.reports["test"].format_confusion())
    if len(accuracies) > 1:
        print(
            f"\ntest accuracy over {len(accuracies)} seeds: mean {np.mean(accuracies):.4f}, "
            f"min {np.min(accuracies):.4f}, max {np.max(accuracies):.4f}"
        )


if __name__ == "__main__":
    main()
