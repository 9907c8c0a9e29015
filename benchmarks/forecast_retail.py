"""Future-known covariates on a generated retail panel: the same forecaster with and without
the horizon's prices, promotions and holidays, beside the statistical baselines; and a store the
model never saw, forecast from its own history.

Data: :func:`rnnkit.data.retail.retail_panel` (``n_stores`` stores, daily, US public holidays
from the ``holidays`` package), deterministic by seed. The last store is held back from
training. Both configurations are rnnkit's defaults plus ``horizon=7`` and ``input_length=28``;
the covariate run adds ``future_covariates=['price', 'promo']`` and ``holidays='US'``. Scores
are the rolling-origin test backtest (every origin) of the seen stores, MASE scaled by each
store's in-sample seasonal naive (m = 7); the held-back store is backtested over the same test
period with its scaler fitted on its own rows before the validation period
(:meth:`ForecastPreprocessor.adopt`).

Usage:
    python benchmarks/forecast_retail.py --seeds 0,1,2 --max-time 90s --plots docs/img
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from rnnkit.data.retail import retail_panel
from rnnkit.eval.backtest import backtest
from rnnkit.tasks import forecast
from rnnkit.tasks.forecast_config import ForecastConfig

CONFIGS = {
    "without covariates": {},
    "with future covariates + holidays": {
        "future_covariates": ["price", "promo"], "holidays": "US"},
}


def run_one(name: str, extra: dict, csv: Path, held: Path, seed: int, max_time: str,
            root: Path, plots: Path | None) -> dict:
    config = ForecastConfig(data=str(csv), time_column="date", targets=["sales"],
                            series_column="store", horizon=7, input_length=28, **extra)
    run_dir = root / f"{name.replace(' ', '_').replace('+', '')}-{seed}"
    run_dir.mkdir()
    training = forecast.default_training(config, seed=seed, max_time=max_time, plots=False,
                                         quiet=True)
    start = time.time()
    result = forecast.train(config, run_dir, training=training, quiet=True)
    loaded = forecast.load_forecaster(result.artifact_path)
    table = forecast._read_for(loaded, str(held))
    pre = loaded.preprocessor.adopt(table, loaded.split)
    unseen = backtest(loaded.model, pre, table, loaded.split, part="test", season=7, seed=seed)
    test = result.metrics["test"]
    row = {
        "config": name, "seed": seed, "seconds": round(time.time() - start, 1),
        "epochs": result.metrics["training"].get("epochs"),
        "model": test["model"]["mase"], "coverage": test["model"].get("coverage"),
        "naive": test["naive"]["mase"], "seasonal_naive": test["seasonal_naive"]["mase"],
        "drift": test["drift"]["mase"],
        "held_back_model": unseen.metrics["model"]["mase"],
        "held_back_seasonal_naive": unseen.metrics["seasonal_naive"]["mase"],
    }
    if plots is not None and seed == 0:
        from rnnkit.eval.plots import plot_forecasts

        bt = backtest(loaded.model, loaded.preprocessor, forecast._read_for(loaded, str(csv)),
                      loaded.split, part="test", season=7)
        tag = "covariates" if extra else "plain"
        plot_forecasts(bt.forecasts, plots / f"retail_{tag}.png", targets=["sales"],
                       title=f"retail panel, test period: {name}", max_panels=2)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--max-time", default="90s")
    p.add_argument("--stores", type=int, default=7)
    p.add_argument("--days", type=int, default=500)
    p.add_argument("--plots", default=None, help="folder for the forecast figures (seed 0)")
    p.add_argument("--out", default=None, help="JSON file for the rows")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    frame = retail_panel(args.stores, args.days, seed=0, country="US").drop(columns=["region"])
    last = f"s{args.stores - 1}"
    plots = Path(args.plots) if args.plots else None
    if plots is not None:
        plots.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        csv, held = root / "train.csv", root / "held.csv"
        frame[frame["store"] != last].to_csv(csv, index=False)
        frame[frame["store"] == last].to_csv(held, index=False)
        for seed in seeds:
            for name, extra in CONFIGS.items():
                rows.append(run_one(name, extra, csv, held, seed, args.max_time, root, plots))
                print(json.dumps(rows[-1]), flush=True)
    print()
    print("| configuration | model MASE (seen stores) | held-back store MASE | seasonal naive "
          "| naive | drift | 80% coverage |")
    print("|---|---|---|---|---|---|---|")
    for name in CONFIGS:
        mine = [r for r in rows if r["config"] == name]

        def cell(key: str, rs: list = mine) -> str:
            v = np.array([r[key] for r in rs], dtype=float)
            return f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else f"{v[0]:.3f}"

        print(f"| {name} | {cell('model')} | {cell('held_back_model')} | "
              f"{cell('seasonal_naive')} | {cell('naive')} | {cell('drift')} | "
              f"{cell('coverage')} |")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
