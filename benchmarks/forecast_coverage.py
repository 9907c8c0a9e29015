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
validation windows (which also chose its best epoch) and, for the online rules, the backtest
windows whose targets were observed at each origin (:mod:`rnnkit.eval.conformal`). Every rule
of :data:`~rnnkit.eval.conformal.RULES` is scored on the same network (columns
``<part>_<rule>``): the test backtest with each origin's own Q̂, the holdout with the final
Q̂; the run's own rule (``calibrate='conformal'``) is checked against its ``metrics.json``.
Split conformal needs enough validation windows (at 80 %: n >= 4, and few windows give a
coarse Q̂), so for a single series the validation period is raised from the default 15 % to at
least h + 11 rows (12 windows) where the default holds fewer; a panel keeps the default (its
series' windows add up); the test period stays 15 %.

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

from rnnkit.data.registry import DatasetUnavailableError
from rnnkit.eval.backtest import backtest
from rnnkit.eval.conformal import ACI_GAMMA, ADOPTED_RULE, RULES, calibrate_online
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


def n_test_values(run, dataset) -> int:
    """The (window, step) values of the test backtest (its coverage's weight when pooled)."""
    return run.metrics["windows"]["test"] * dataset.horizon


def rule_specs(gammas: str) -> dict[str, tuple[str, float]]:
    """Column name → (rule, ACI step): every rule of :mod:`rnnkit.eval.conformal` at the
    shipped step, plus 'aci@<γ>' for each step in ``gammas`` (commas; '' for none)."""
    specs = {rule: (rule, ACI_GAMMA) for rule in RULES}
    for g in filter(None, (t.strip() for t in gammas.split(","))):
        specs[f"aci@{float(g):g}"] = ("aci", float(g))
    return specs


def _rules(loaded, csv: Path, seed: int,
           specs: dict[str, tuple[str, float]]) -> dict[str, tuple[float, object]]:
    """column → (test backtest coverage with each origin's Q̂, final calibration)."""
    table = forecast._read_for(loaded, str(csv))
    pre, split, c = loaded.preprocessor, loaded.split, loaded.config
    val = pre.windows(table, split, "val")
    test = pre.windows(table, split, "test", stride=c.backtest_stride)
    out = {}
    for name, (rule, gamma) in specs.items():
        online, final = calibrate_online(loaded.model, val, test, c.interval, seed=seed,
                                         rule=rule, gamma=gamma)
        result = backtest(loaded.model, pre, table, split, part="test",
                          season=c.season_length, stride=c.backtest_stride, seed=seed,
                          scales=loaded.mase_scale, calibration=online)
        out[name] = (result.metrics["model"]["coverage"], final)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", default="forecast-classic")
    p.add_argument("--max-time", default="30s")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="JSON file for the per-dataset numbers")
    p.add_argument("--only", default="", help="dataset names joined by commas")
    p.add_argument("--gammas", default="",
                   help="more ACI step sizes to score as columns 'aci@<γ>' (commas)")
    args = p.parse_args()
    specs = rule_specs(args.gammas)
    rows = []
    pooled = {"holdout_before": [0, 0], "holdout_after": [0, 0],
              "backtest_before": [0.0, 0], "backtest_after": [0.0, 0]}
    for rule in specs:
        pooled[f"holdout_{rule}"] = [0, 0]
        pooled[f"backtest_{rule}"] = [0.0, 0]
    with tempfile.TemporaryDirectory() as tmp:
        for entry in suite_entries(args.suite):
            try:
                datasets = entry.load()
            except DatasetUnavailableError as err:  # say which, and go on with the rest
                rows.append({"dataset": entry.name, "unavailable": str(err)})
                print(entry.name, "unavailable:", err, flush=True)
                continue
            for dataset in datasets:
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
                extra: dict[str, float | bool] = {}
                plain = dataclasses.replace(loaded, preprocessing={
                    k: v for k, v in loaded.preprocessing.items() if k != "conformal"})
                after = _holdout_coverage(dataset, forecast.predict(loaded, frame,
                                                                    seed=args.seed))
                before = _holdout_coverage(dataset, forecast.predict(plain, frame,
                                                                     seed=args.seed))
                rules = _rules(loaded, csv, args.seed, specs)
                conf = run.metrics["conformal"]
                # the recomputed windows and scores must be the run's own
                extra["matches_run"] = bool(
                    abs(rules[ADOPTED_RULE][0] - conf["test_calibrated"]["coverage"]) < 1e-9)
                for rule, (cov, final) in rules.items():
                    with_rule = dataclasses.replace(loaded, preprocessing={
                        **loaded.preprocessing, "conformal": final.to_dict()})
                    a, b = _holdout_coverage(dataset, forecast.predict(with_rule, frame,
                                                                       seed=args.seed))
                    pooled[f"holdout_{rule}"][0] += a
                    pooled[f"holdout_{rule}"][1] += b
                    pooled[f"backtest_{rule}"][0] += cov * n_test_values(run, dataset)
                    pooled[f"backtest_{rule}"][1] += n_test_values(run, dataset)
                    extra[f"holdout_{rule}"] = a / b
                    extra[f"backtest_{rule}"] = cov
                n_test = n_test_values(run, dataset)
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
                    **extra,
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
