"""Forecast Seattle's daily temperatures a week ahead and compare with classical baselines.

    python examples/forecast_weather.py             # default configuration (about 2 minutes)
    python examples/forecast_weather.py --epochs 5  # a quick look

Data: daily weather in Seattle 2012–2015 from the ``vega_datasets`` package (install with ``pip
install --no-deps vega_datasets==0.9.0``). The model forecasts temp_max and temp_min for the next 7
days from the last 56 days of both temperatures, precipitation and wind, plus the day of the year
(a known-future calendar feature). The last 15% of the days are the test period: every day of it is
a forecast origin (rolling-origin backtest), scored beside the naive (tomorrow = today), seasonal
naive (same day last year) and drift forecasts of the same windows. MASE < 1 means better than the
seasonal naive forecast was in the training years.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rnnkit.tasks.forecast import ForecastConfig, default_training, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 60)")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: temporary)")
    parser.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"])
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="rnnkit-weather-"))
    out.mkdir(parents=True, exist_ok=True)
    training = default_training(**({"epochs": args.epochs} if args.epochs else {}), quiet=True)
    result = train(ForecastConfig(data="seattle-weather", cell=args.cell), out, training=training)

    print(result.summary())
    print()
    for target, table in result.metrics["test_per_target"].items():
        row = {name: f"{m['mase']:.3f}" for name, m in table.items()}
        print(f"MASE for {target}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    print(f"\nfiles in {out}: " + ", ".join(sorted(p.name for p in out.iterdir())))


if __name__ == "__main__":
    main()
