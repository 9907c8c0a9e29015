"""minGRU/minLSTM beside LSTM/GRU on bundled data: short runs with the task defaults, only the cell
(and the seed) changed.

Forecasting: ``sunspots`` (monthly sunspot numbers, the task's default horizon and metrics).
Classification: ``digits`` (8×8 images read as 8 rows of 8 pixels, scikit-learn's copy) and
``basic-motions`` (UEA, 6 channels × 100 steps). Prints one JSON line per run, then a Markdown
table of the mean over the seeds with the training seconds (a busy machine makes them noisy).

    PYTHONPATH=src python benchmarks/minimal_cells_accuracy.py --seeds 0 1 --epochs 10 \\
        --datasets sunspots digits
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from rnnkit.tasks import classify as C
from rnnkit.tasks import forecast as FC

CELLS = ("lstm", "gru", "mingru", "minlstm")


def _forecast(cell: str, seed: int, epochs: int) -> dict:
    config = FC.ForecastConfig(data="sunspots", cell=cell)
    with tempfile.TemporaryDirectory() as run:
        start = time.perf_counter()
        result = FC.train(config, run, training=FC.default_training(epochs=epochs, seed=seed,
                                                                    plots=False), quiet=True)
        seconds = time.perf_counter() - start
    model = result.metrics["test"]["model"]
    return {"data": "sunspots", "metric": "MASE", "value": model["mase"], "seconds": seconds}


def _classify(data: str, cell: str, seed: int, epochs: int) -> dict:
    config = C.ClassifyConfig(data=data, cell=cell)
    with tempfile.TemporaryDirectory() as run:
        start = time.perf_counter()
        result = C.train(config, run, training=C.default_training(epochs=epochs, seed=seed,
                                                                  plots=False), quiet=True)
        seconds = time.perf_counter() - start
    model = result.metrics["test"]["model"]
    return {"data": data, "metric": "accuracy", "value": model["accuracy"], "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--cells", nargs="+", default=list(CELLS))
    parser.add_argument("--datasets", nargs="+", default=["sunspots", "digits", "basic-motions"],
                        help="from sunspots (forecasting), digits, basic-motions")
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        for cell in args.cells:
            for data in args.datasets:
                if data == "sunspots":
                    result = _forecast(cell, seed, args.epochs)
                else:
                    result = _classify(data, cell, seed, args.epochs)
                row = {"cell": cell, "seed": seed, **result}
                print(json.dumps(row), flush=True)
                rows.append(row)
    datasets = list(dict.fromkeys(r["data"] for r in rows))
    print("\n| cell | " + " | ".join(f"{d} ({next(r['metric'] for r in rows if r['data'] == d)})"
                                      f" | s" for d in datasets) + " |")
    print("|---|" + "---|---|" * len(datasets))
    for cell in args.cells:
        cells = []
        for d in datasets:
            sel = [r for r in rows if r["cell"] == cell and r["data"] == d]
            cells.append(f"{statistics.mean(r['value'] for r in sel):.3f}")
            cells.append(f"{statistics.mean(r['seconds'] for r in sel):.0f}")
        print(f"| {cell} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
