"""Coverage of the default forecaster's 80 % interval before and after conformal calibration,
on the public suite's series (``rnnkit benchmark --suite ...``'s data, same configuration as the
suite runner plus ``calibrate='conformal'``).

Two measurements per dataset:

* **holdout**: the h values after each series' training part (the suite's holdout), forecast
  once from the end of the training part, with the calibrated and the uncalibrated interval
  (the same network; the uncalibrated interval is the model's own);
* **backtest**: the rolling-origin test period inside the training part (every origin), from
  the run's ``metrics.json`` (``conformal.test_uncalibrated`` / ``test_calibrated``).

Coverage is pooled over every (series, step) value; the calibration windows are the run's
validation windows, which also chose its best epoch. Split conformal needs enough of them (at
80 %: n >= 4, and few windows give a coarse Q̂), so for a single series the validation period
is raised from the default 15 % to at least h + 11 rows (12 windows) where the default holds
fewer; a panel keeps the default (its series' windows add up); the test period stays 15 %.

Usage:
    python benchmarks/forecast_coverage.py --suite forecast-classic --max-time 30s
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from rnnkit.suite.datasets import series_frame, suite_entries
from rnnkit.tasks import forecast
from rnnkit.tasks.forecast_config import ForecastConfig


def _holdout_coverage(dataset, predicted) -> tuple[int, int]:
    inside = total = 0
    for s in dataset.series:
        rows = predicted
        if len(dataset.series) > 1:
            rows = predicted[predicted["series"].astype(str) == s.id]
        rows = rows.sort_values("step")
        lo, hi = rows["value_lower"].to_numpy(), rows["value_upper"].to_numpy()
        inside += int(np.sum((s.holdout >= lo) & (s.holdout <= hi)))
        total += len(s.holdout)
    return inside, total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", default="forecast-classic")
    p.add_argument("--max-time", default="30s")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="JSON file for the per-dataset numbers")
    p.add_argument("--only", default="", help="dataset names joined by commas")
    args = p.parse_args()
    rows = []
    pooled = {"holdout_before": [0, 0], "holdout_after": [0, 0],
              "backtest_before": [0.0, 0], "backtest_after": [0.0, 0]}
    with tempfile.TemporaryDirectory() as tmp:
        for entry in suite_entries(args.suite):
            for dataset in entry.load():
                if args.only and dataset.name not in args.only.split(","):
                    continue
                start = time.time()
                frame = series_frame(dataset, "train")
                csv = Path(tmp) / f"{dataset.name}.csv"
                frame.to_csv(csv, index=False)
                multi = len(dataset.series) > 1
                rows_per = max(len(x.train) for x in dataset.series)
                val_fraction = 0.15
                if not multi:
                    val_fraction = max(0.15, (dataset.horizon + 11) / rows_per)
                config = ForecastConfig(
                    data=str(csv), time_column="time", targets=["value"],
                    series_column="series" if multi else None, horizon=dataset.horizon,
                    season_length=None if dataset.start is not None else dataset.season,
                    calibrate="conformal", val_fraction=min(val_fraction, 0.5),
                )
                training = forecast.default_training(
                    config, seed=args.seed, max_time=args.max_time, plots=False, quiet=True
                )
                run_dir = Path(tmp) / f"run-{dataset.name}"
                run_dir.mkdir()
                try:
                    run = forecast.train(config, run_dir, training=training, quiet=True)
                except ValueError as err:
                    rows.append({"dataset": dataset.name, "error": str(err)[:200]})
                    print(dataset.name, "error:", str(err)[:200], flush=True)
                    continue
                loaded = forecast.load_forecaster(run.artifact_path)
                plain = dataclasses.replace(loaded, preprocessing={
                    k: v for k, v in loaded.preprocessing.items() if k != "conformal"})
                after = _holdout_coverage(dataset, forecast.predict(loaded, frame,
                                                                    seed=args.seed))
                before = _holdout_coverage(dataset, forecast.predict(plain, frame,
                                                                     seed=args.seed))
                conf = run.metrics["conformal"]
                n_test = run.metrics["windows"]["test"] * dataset.horizon * len(dataset.series)
                row = {
                    "dataset": dataset.name,
                    "series": len(dataset.series),
                    "horizon": dataset.horizon,
                    "holdout_before": before[0] / before[1],
                    "holdout_after": after[0] / after[1],
                    "holdout_values": after[1],
                    "backtest_before": conf["test_uncalibrated"]["coverage"],
                    "backtest_after": conf["test_calibrated"]["coverage"],
                    "backtest_windows": run.metrics["windows"]["test"],
                    "calibration_windows": conf["windows"],
                    "seconds": round(time.time() - start, 1),
                }
                rows.append(row)
                for k, (a, b) in (("holdout_before", before), ("holdout_after", after)):
                    pooled[k][0] += a
                    pooled[k][1] += b
                for k in ("backtest_before", "backtest_after"):
                    pooled[k][0] += row[k] * n_test
                    pooled[k][1] += n_test
                print(json.dumps(row), flush=True)
    summary = {k: v[0] / v[1] for k, v in pooled.items() if v[1]}
    print("pooled:", json.dumps(summary), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "pooled": summary}, indent=1))


if __name__ == "__main__":
    main()
