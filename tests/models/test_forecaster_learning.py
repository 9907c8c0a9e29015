"""Learning checks with loose bounds: calibrated intervals on a Gaussian AR(1), a noisy sine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.forecast_inputs import ForecastPreprocessor
from rnnkit.data.timeseries import load_series_table
from rnnkit.data.windows import time_split
from rnnkit.eval.backtest import backtest
from rnnkit.models.forecaster import Forecaster, interval_quantiles
from rnnkit.tasks.forecast import default_training, fit


def train_and_backtest(frame, *, T, h, season, decoder="direct", epochs=20, hidden=16, **kw):
    table = load_series_table(frame, time_column="t", targets=["y"])
    split = time_split(table.frame["t"].to_numpy(), 0.1, 0.25)
    pre = ForecastPreprocessor(
        targets=["y"],
        covariates=[],
        calendar=[],
        input_length=T,
        horizon=h,
        normalization=kw.pop("normalization", "series"),
        transform="none",
        frequency=table.frequency,
        time_column="t",
        series_column=None,
    ).fit(table, split)
    model = Forecaster(
        1, h, hidden_size=hidden, decoder=decoder, quantiles=interval_quantiles(0.8), **kw
    )
    training = default_training(epochs=epochs, early_stopping=5, quiet=True, plots=False)
    fit(model, pre.windows(table, split, "train"), pre.windows(table, split, "val"), training)
    return backtest(model, pre, table, split, part="test", season=season)


@pytest.mark.slow
def test_interval_coverage_is_near_nominal_on_a_gaussian_ar1():
    rng = np.random.default_rng(0)
    n, phi = 1600, 0.8
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = phi * y[t - 1] + rng.normal()
    result = train_and_backtest(
        pd.DataFrame({"t": np.arange(n), "y": y}), T=8, h=1, season=1, epochs=8
    )
    m = result.metrics["model"]
    # The true one-step law is N(0.8 y_t, 1): MAE → E|ε| = 0.80, the 80% interval 2·1.28 wide.
    assert len(result.forecasts.windows) == 400
    assert abs(m["coverage"] - 0.8) < 0.06, m
    assert 2.0 < m["interval_width"] < 3.2, m
    assert m["mae"] < 0.9, m


@pytest.mark.slow
@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_learns_a_noisy_sine(decoder):
    rng = np.random.default_rng(1)
    t = np.arange(1000)
    y = np.sin(2 * np.pi * t / 25) + 0.1 * rng.normal(size=t.size)
    result = train_and_backtest(
        pd.DataFrame({"t": t, "y": y}), T=50, h=5, season=25, decoder=decoder, epochs=10
    )
    m = result.metrics
    # Noise alone costs MAE ≈ 0.08; the naive forecast about 0.5 over five steps.
    assert m["model"]["mae"] < 0.2, m["model"]
    assert m["model"]["mae"] < 0.5 * m["naive"]["mae"], m
    assert m["model"]["mase"] < 1.5, m["model"]
