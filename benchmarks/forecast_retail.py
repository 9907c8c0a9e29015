"""Covariates on a generated retail panel: the same forecaster without covariates, with the
horizon's prices, promotions and holidays, and with those plus static store attributes, beside
the statistical baselines (naive, seasonal naive, drift, statsforecast's AutoETS and AutoARIMA);
and a store the models never saw, forecast from its own history.

Data: :func:`rnnkit.data.retail.retail_panel` (``n_stores`` stores, daily, US public holidays
from the ``holidays`` package), deterministic by seed. The last store is held back from
training. Every configuration is rnnkit's defaults plus ``horizon=7`` and ``input_length=28``;
the covariate runs add ``future_covariates=['price', 'promo']`` and ``holidays='US'``, the
static run also ``static_covariates=['store_size', 'region']``. Scores are the rolling-origin
test backtest (every origin) of ``rnnkit.evaluate(run, all stores, new_series='history')``:
``by_group`` 'seen' (the training stores) and 'unseen' (the held-back store, its scalers and
MASE scale fitted on its rows before the validation period), MASE scaled by each store's
in-sample seasonal naive (m = 7).

AutoETS and AutoARIMA (``season_length=7``) are fitted once per store on its rows before the
validation period (the rows the network's weights were fit on, and the held-back store's
scalers), then applied without refitting at every origin of the same windows (statsforecast's
``forward``: the fitted model's state updated on the store's values up to the origin) — the
protocol of :mod:`rnnkit.eval.stat_baselines`. They do not depend on the network's seed, so
they are computed once.

Usage:
    python benchmarks/forecast_retail.py --seeds 0,1,2 --max-time 90s --plots docs/img
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import rnnkit
from rnnkit.data.retail import retail_panel
from rnnkit.eval import forecast_metrics as fm
from rnnkit.eval.backtest import mase_scales
from rnnkit.tasks import forecast
from rnnkit.tasks.forecast_config import ForecastConfig

SEASON = 7
FUTURE = {"future_covariates": ["price", "promo"], "holidays": "US"}
CONFIGS = {
    "without covariates": {},
    "with future covariates + holidays": FUTURE,
    "with future + static covariates": {**FUTURE, "static_covariates": ["store_size", "region"]},
}
STATISTICAL = ("AutoETS", "AutoARIMA")


def run_one(name: str, extra: dict, csv: Path, every: Path, seed: int, max_time: str,
            root: Path, plots: Path | None) -> tuple[dict, Path]:
    config = ForecastConfig(data=str(csv), time_column="date", targets=["sales"],
                            series_column="store", horizon=7, input_length=28, **extra)
    run_dir = root / f"{name.replace(' ', '_').replace('+', '')}-{seed}"
    run_dir.mkdir()
    training = forecast.default_training(config, seed=seed, max_time=max_time, plots=False,
                                         quiet=True)
    start = time.time()
    result = forecast.train(config, run_dir, training=training, quiet=True)
    groups = rnnkit.evaluate(run_dir, every, new_series="history")["by_group"]
    seen, unseen = groups["seen"], groups["unseen"]
    row = {
        "config": name, "seed": seed, "seconds": round(time.time() - start, 1),
        "epochs": result.metrics["training"].get("epochs"),
        "model": seen["model"]["mase"], "coverage": seen["model"].get("coverage"),
        "naive": seen["naive"]["mase"], "seasonal_naive": seen["seasonal_naive"]["mase"],
        "drift": seen["drift"]["mase"],
        "held_back_model": unseen["model"]["mase"],
        "held_back_coverage": unseen["model"].get("coverage"),
        "held_back_naive": unseen["naive"]["mase"],
        "held_back_seasonal_naive": unseen["seasonal_naive"]["mase"],
        "held_back_drift": unseen["drift"]["mase"],
    }
    if plots is not None and seed == 0:
        from rnnkit.eval.backtest import backtest
        from rnnkit.eval.plots import plot_forecasts

        loaded = forecast.load_forecaster(result.artifact_path)
        bt = backtest(loaded.model, forecast._with_static(loaded, loaded.preprocessor, str(csv)),
                      forecast._read_for(loaded, str(csv)), loaded.split, part="test",
                      season=SEASON)
        tag = {"": "plain", "future": "covariates", "static": "static"}[
            "static" if "static_covariates" in extra else "future" if extra else ""]
        plot_forecasts(bt.forecasts, plots / f"retail_{tag}.png", targets=["sales"],
                       title=f"retail panel, test period: {name}", max_panels=2)
    return row, run_dir


def statistical(run_dir: Path, every: Path, held: str) -> dict[str, dict[str, float]]:
    """MASE of AutoETS and AutoARIMA on the run's test windows of every store (module
    docstring), for the seen stores pooled and the held-back one."""
    from statsforecast.models import AutoARIMA, AutoETS

    makers = {"AutoETS": lambda: AutoETS(season_length=SEASON),
              "AutoARIMA": lambda: AutoARIMA(season_length=SEASON)}
    loaded = forecast.load_forecaster(run_dir / "model.safetensors")
    table = forecast._read_for(loaded, str(every))
    split = loaded.split
    pre = loaded.preprocessor.adopt(table, split)
    windows = pre.windows(table, split, "test")
    scales = mase_scales(table, split, pre, SEASON)
    scales[: len(loaded.mase_scale)] = loaded.mase_scale  # as rnnkit.evaluate scores
    h = pre.horizon
    out: dict[str, dict[str, float]] = {}
    for name, make in makers.items():
        forecasts = np.full(windows.actual.shape, np.nan)
        for sid, rows in table.series_slices().items():
            part = table.frame.iloc[rows]
            y = part["sales"].to_numpy(np.float64)
            train_rows, _ = split.rows(part["date"].to_numpy())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = make().fit(y[:train_rows])
                for i in np.flatnonzero(windows.series == pre.series_ids.index(sid)):
                    origin = int(windows.origin[i])
                    forecasts[i, :, 0] = model.forward(y=y[: origin + 1], h=h)["mean"]
        scale = scales[windows.series][:, None, :]
        is_held = windows.series == pre.series_ids.index(held)
        out[name] = {
            "seen": fm.point_metrics(windows.actual[~is_held], forecasts[~is_held],
                                     scale[~is_held])["mase"],
            "held_back": fm.point_metrics(windows.actual[is_held], forecasts[is_held],
                                          scale[is_held])["mase"],
        }
    return out


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
    frame = retail_panel(args.stores, args.days, seed=0, country="US")
    last = f"s{args.stores - 1}"
    plots = Path(args.plots) if args.plots else None
    if plots is not None:
        plots.mkdir(parents=True, exist_ok=True)
    rows, stats = [], None
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        csv, every = root / "train.csv", root / "all.csv"
        frame[frame["store"] != last].to_csv(csv, index=False)
        frame.to_csv(every, index=False)
        for seed in seeds:
            for name, extra in CONFIGS.items():
                row, run_dir = run_one(name, extra, csv, every, seed, args.max_time, root, plots)
                rows.append(row)
                print(json.dumps(rows[-1]), flush=True)
                if stats is None:
                    stats = statistical(run_dir, every, last)
                    print(json.dumps(stats), flush=True)
    print()
    print("| configuration | MASE, seen stores | MASE, held-back store | 80% coverage (seen) "
          "| 80% coverage (held back) |")
    print("|---|---|---|---|---|")
    for name in CONFIGS:
        mine = [r for r in rows if r["config"] == name]

        def cell(key: str, rs: list = mine) -> str:
            v = np.array([r[key] for r in rs], dtype=float)
            return f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else f"{v[0]:.3f}"

        print(f"| {name} | {cell('model')} | {cell('held_back_model')} | {cell('coverage')} | "
              f"{cell('held_back_coverage')} |")
    for name in STATISTICAL:
        print(f"| {name} | {stats[name]['seen']:.3f} | {stats[name]['held_back']:.3f} | — | — |")
    r = rows[0]
    for key, label in (("seasonal_naive", "seasonal naive (m = 7)"), ("naive", "naive"),
                       ("drift", "drift")):
        print(f"| {label} | {r[key]:.3f} | {r['held_back_' + key]:.3f} | — | — |")
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "statistical": stats}, indent=1))


if __name__ == "__main__":
    main()
