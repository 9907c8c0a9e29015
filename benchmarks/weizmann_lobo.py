"""Weizmann (4 actions, real RGB video) by leave-one-subject-block-out, the way a user runs it.

The protocol of the data directory's ``weizmann4`` (36 videos, 4 actions, 9 subject blocks):
9 folds, each testing on one subject block and training on the other eight. Every fold is
written out as a user's folders of frame images (``train/<action>/<video>/0001.png``) and
trained with the task's **default configuration** for a video folder::

    rnnkit train --task classify --data train/ --test-data test/ --format video

(through :func:`rnnkit.train`, the same code path). Prints one row per fold (test accuracy,
training time, frames per second in training) and the mean; ``--out FILE.md`` also writes
the table.

    RNNKIT_DATA=/path/to/shared/data python benchmarks/weizmann_lobo.py --seeds 0 --max-time 5m
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ACTIONS = {0: "bend", 1: "jack", 2: "wave1", 3: "wave2"}


def _videos(data_dir: Path) -> list[tuple[str, int, int, np.ndarray]]:
    """(video id, label, subject block, frames (T, 32, 32, 3) uint8) of all 36 videos."""
    import pandas as pd

    folder = data_dir / "weizmann4"
    index = pd.read_csv(folder / "index.csv").set_index("video")
    out = []
    for part in ("frames32_part1.npz", "frames32_part2.npz"):
        with np.load(folder / part, allow_pickle=False) as z:
            frames, offsets, ids = z["frames"], z["offsets"], z["video"].astype(str)
            for i, vid in enumerate(ids):
                row = index.loc[vid]
                out.append((vid, int(row["label"]), int(row["subject_block"]),
                            frames[offsets[i]:offsets[i + 1]]))
    return out


def _write_folder(root: Path, videos: list[tuple[str, int, int, np.ndarray]]) -> None:
    from PIL import Image

    for vid, label, _, frames in videos:
        clip = root / ACTIONS[label] / vid
        clip.mkdir(parents=True)
        for t, frame in enumerate(frames):
            Image.fromarray(frame).save(clip / f"{t + 1:04d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0", help="comma-separated seeds [0]")
    parser.add_argument("--max-time", default=None, help="per-fold time budget, e.g. 5m")
    parser.add_argument("--frame-encoder", default=None, choices=["cnn", "convlstm", "convgru"],
                        help="the per-frame encoder [the default configuration's]")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="another training option, e.g. --set frames=16 --set flip=true "
                             "(VALUE read as JSON where it parses, else as text)")
    parser.add_argument("--out", help="also write the table to this Markdown file")
    args = parser.parse_args()
    import rnnkit
    from rnnkit.data.frame_sampling import frame_indices

    data_dir = Path(os.environ.get("RNNKIT_DATA", "../shared/data"))
    videos = _videos(data_dir)
    blocks = sorted({v[2] for v in videos})
    seeds = [int(s) for s in args.seeds.split(",")]
    extra = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--set must be KEY=VALUE, got {item!r}")
        try:
            extra[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            extra[key.replace("-", "_")] = value
    rows, load = [], os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for block in blocks:
            fold = Path(tmp) / f"block{block}"
            _write_folder(fold / "train", [v for v in videos if v[2] != block])
            _write_folder(fold / "test", [v for v in videos if v[2] == block])
            # Frames the model is fed per epoch (all, or the sampled ones with --set frames=N).
            train_frames = sum(len(frame_indices(len(v[3]), extra.get("frames"),
                                                 extra.get("frame_stride", 1)))
                               for v in videos if v[2] != block)
            for seed in seeds:
                options = {"seed": seed, "quiet": True, "plots": False, **extra}
                if args.max_time:
                    options["max_time"] = args.max_time
                if args.frame_encoder:
                    options["frame_encoder"] = args.frame_encoder
                started = time.perf_counter()
                outcome = rnnkit.train("classify", data=str(fold / "train"),
                                       test_data=str(fold / "test"), format="video",
                                       runs_root=str(fold / "runs"), name=f"s{seed}", **options)
                seconds = time.perf_counter() - started
                m = outcome.result.metrics
                # Inference as a user runs it: read the test folder's frame images, then the
                # model; frames per second over the whole call.
                test_frames = sum(len(v[3]) for v in videos if v[2] == block)
                started = time.perf_counter()
                rnnkit.predict(outcome.artifact_path, str(fold / "test"))
                infer_seconds = time.perf_counter() - started
                t = m["training"]
                epochs = t.get("epochs", 0)
                rows.append({
                    "block": block, "seed": seed, "test": len([v for v in videos if v[2] == block]),
                    "accuracy": m["test"]["model"]["accuracy"],
                    "one_nn": m["test"]["baselines"]["1-nearest-neighbour"]["accuracy"],
                    "epochs": epochs, "seconds": seconds,
                    "train_fps": train_frames * epochs / max(t.get("seconds", seconds), 1e-9),
                    "infer_fps": test_frames / max(infer_seconds, 1e-9),
                })
                print(json.dumps(rows[-1]), flush=True)
    mean = statistics.mean(r["accuracy"] for r in rows)
    correct = sum(r["accuracy"] * r["test"] for r in rows) / len(seeds)
    nn_mean = statistics.mean(r["one_nn"] for r in rows)
    lines = ["| subject block | seed | test videos | accuracy | 1-NN | epochs | run s | "
             "train frames/s (fed) | predict video frames/s |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['block']} | {r['seed']} | {r['test']} | {r['accuracy']:.3f} | "
              f"{r['one_nn']:.3f} | {r['epochs']} | {r['seconds']:.0f} | {r['train_fps']:.0f} | "
              f"{r['infer_fps']:.0f} |"
              for r in rows]
    lines.append(f"| mean over folds | | | **{mean:.3f}** ({correct:.0f} of 36 videos) | "
                 f"{nn_mean:.3f} | | | | |")
    text = ("\n".join(lines) + f"\n\nload at the start: {load[0]:.1f} {load[1]:.1f} "
            f"{load[2]:.1f}; seeds {seeds}; frame encoder {args.frame_encoder or 'default'}; "
            f"other options {extra or 'none'}\n")
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
