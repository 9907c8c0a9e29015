"""Probabilistic forecast quality: per-step pinball and coverage, reliability, conformal
calibration, and quantile levels of the forecaster."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import rnnkit
from rnnkit.cli import main
from rnnkit.eval import forecast_metrics as fm
from rnnkit.eval.conformal import (
    ConformalCalibration,
    conformal_widths,
    online_widths,
    sortable_times,
    window_scores,
)
from rnnkit.models.forecaster import Forecaster
from rnnkit.tasks import forecast


def test_pinball_and_coverage_per_horizon_step() -> None:
    actual = np.array([[[1.0], [2.0]], [[3.0], [4.0]]])  # (B=2, h=2, C=1)
    q = np.stack([actual - 1, actual + 0.5], axis=-1)  # levels 0.1, 0.9 bracketing every value
    q[1, 1, 0] = [5.0, 6.0]  # the second window's step 2 lies below its interval
    assert fm.coverage_by_step(actual, q[..., 0], q[..., 1]) == [1.0, 0.5]
    # step 1: errors +1 (q=0.1 → 0.1) and −0.5 (q=0.9 → 0.05) in both windows: mean 0.075
    # step 2: window 1 as step 1; window 2 errors −1 and −2: 0.9 and 0.2 → (0.15 + 1.1) / 4
    np.testing.assert_allclose(fm.pinball_by_step(actual, q, [0.1, 0.9]), [0.075, 0.3125])


def test_reliability_of_the_true_distribution_lies_on_the_diagonal() -> None:
    rng = np.random.default_rng(0)
    actual = rng.normal(size=(4000, 2, 1))
    levels = [0.05, 0.25, 0.5, 0.75, 0.95]
    q = np.broadcast_to(norm.ppf(levels), (*actual.shape, 5))
    rel = fm.reliability(actual, q, levels)
    assert rel["nominal"] == [0.5, 0.9]
    np.testing.assert_allclose(rel["observed"], [0.5, 0.9], atol=0.02)
    too_narrow = fm.reliability(actual, q * 0.5, levels)
    assert all(o < n - 0.1 for o, n in zip(too_narrow["observed"], [0.5, 0.9], strict=True))


def test_conformal_width_is_the_rank_statistic_of_the_scores() -> None:
    # n = 9 windows, level 0.8: Q̂ is the ⌈10 · 0.8⌉ = 8th smallest score
    actual = np.arange(9.0).reshape(9, 1, 1)
    lower, upper = np.zeros_like(actual), np.full_like(actual, 4.0)
    scores = np.maximum(lower - actual, actual - upper)[:, 0, 0]
    assert sorted(scores)[7] == 3.0
    assert conformal_widths(actual, lower, upper, 0.8).tolist() == [[3.0]]
    with pytest.raises(ValueError, match=r"at least 9 validation windows, got 5"):
        conformal_widths(actual[:5], lower[:5], upper[:5], 0.9)
    cal = ConformalCalibration(0.8, 0.1, 0.9, np.array([[3.0]]), 9)
    q = np.array([[[[0.0, 2.0, 4.0]]]])  # (1, 1, 1, 3) at 0.1, 0.5, 0.9
    np.testing.assert_array_equal(cal.apply(q, [0.1, 0.5, 0.9]), [[[[-3.0, 2.0, 7.0]]]])
    np.testing.assert_array_equal(cal.apply(q, [0.25, 0.5, 0.75]), q)  # other levels kept
    assert ConformalCalibration.from_dict(cal.to_dict()).widen.tolist() == [[3.0]]


def test_forecaster_quantile_levels() -> None:
    import torch

    x = torch.randn(3, 12, 1)
    g = Forecaster(1, 2, hidden_size=4).eval()
    out = g.predict(x, levels=[0.05, 0.5, 0.95])
    params = g.forecast(x)
    want = params[..., :1] + params[..., 1:2] * torch.tensor(norm.ppf([0.05, 0.5, 0.95]),
                                                               dtype=torch.float32)
    torch.testing.assert_close(out["quantiles"], want)
    q = Forecaster(1, 2, hidden_size=4, likelihood="quantile").eval()
    assert q.predict(x, levels=[0.1, 0.9])["quantiles"].shape == (3, 2, 1, 2)
    with pytest.raises(ValueError, match=r"levels it was trained on \(\[0.1, 0.5, 0.9\]\), "
                                         r"got \[0.25\]"):
        q.predict(x, levels=[0.25, 0.5])
    with pytest.raises(ValueError, match=r"distinct increasing levels in \(0, 1\), got \[0.9, "
                                         r"0.1\]"):
        g.predict(x, levels=[0.9, 0.1])


@pytest.fixture(scope="module")
def calibrated_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("conformal")
    rng = np.random.default_rng(5)
    n = 400
    t = np.arange(n)
    y = 10 + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1.0, n)  # stationary: exchangeable
    pd.DataFrame({"day": pd.date_range("2022-01-01", periods=n), "y": y}).to_csv(
        root / "s.csv", index=False)
    config = forecast.ForecastConfig(data=str(root / "s.csv"), time_column="day", targets=["y"],
                                     horizon=3, input_length=14, hidden_size=4,
                                     calibrate="conformal", val_fraction=0.3,
                                     test_fraction=0.3, transform="none")
    run = root / "run"
    run.mkdir()
    result = forecast.train(config, run, training=forecast.default_training(epochs=2),
                            quiet=True)
    return root, run, result


def test_conformal_calibration_is_reported_against_the_uncalibrated_interval(
    calibrated_run,
) -> None:
    root, run, result = calibrated_run
    m = result.metrics
    conf = m["conformal"]
    # online: the validation windows, then each backtest window once its targets are observed
    assert conf["level"] == 0.8 and conf["rule"] == "aci"
    assert conf["windows"] == m["windows"]["val"] + m["windows"]["test"]
    assert np.asarray(conf["widen"]).shape == (3, 1)
    before, after = conf["test_uncalibrated"], conf["test_calibrated"]
    assert len(before["coverage_by_step"]) == 3 and len(m["test"]["model"]["pinball_by_step"]) == 3
    # the calibrated interval is the uncalibrated one moved out by Q̂ (here in z units)
    widen = np.asarray(conf["widen"])[:, 0]
    assert np.sign(after["interval_width"] - before["interval_width"]) == np.sign(widen.mean())
    # a stationary series: on the test period the calibrated interval covers about 80 %
    assert abs(after["coverage"] - 0.8) <= 0.06
    assert abs(after["coverage"] - 0.8) < abs(before["coverage"] - 0.8) or (
        abs(before["coverage"] - 0.8) <= 0.06)
    assert m["test"]["model"]["coverage"] == after["coverage"]
    rel = m["reliability"]
    assert rel["nominal"][0] == pytest.approx(0.1) and rel["nominal"][-1] == pytest.approx(0.9)
    assert rel["calibrated"] == {"nominal": 0.8, "observed": after["coverage"]}
    assert (run / "reliability_test.png").stat().st_size > 1000
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["conformal"]["test_calibrated"]["coverage"] == after["coverage"]
    # the stored Q̂ is a rank statistic of every window's score, at ACI's level after every
    # outcome; a saved model evaluates with it (in-sample on the recorded test period, unlike
    # the online figure above)
    loaded = forecast.load_forecaster(result.artifact_path)
    table = forecast._read_for(loaded, str(root / "s.csv"))
    windows = [loaded.preprocessor.windows(table, loaded.split, p) for p in ("val", "test")]
    scores = [window_scores(loaded.model, w, 0.8)[0] for w in windows]
    _, final = online_widths(np.concatenate(scores),
                             sortable_times(np.concatenate([w.times for w in windows])),
                             0.8, start=len(scores[0]), rule="aci")
    assert np.allclose(loaded.calibration.widen, final)
    every = np.concatenate(scores)
    assert all(np.isclose(every[:, k, 0], final[k, 0]).any() for k in range(3))
    again = rnnkit.evaluate(run)
    # inside ⇔ E ≤ Q̂; a score equal to Q̂ (Q̂ is one of them) may round either way in data units
    strict, loose = (float(np.mean(op(scores[1], loaded.calibration.widen)))
                     for op in (np.less, np.less_equal))
    assert strict - 1e-12 <= again["model"]["coverage"] <= loose + 1e-12 and loose - strict < 0.01


def test_predict_writes_the_quantiles_asked_for(calibrated_run) -> None:
    root, run, _ = calibrated_run
    plain = rnnkit.predict(run, root / "s.csv")
    out = rnnkit.predict(run, root / "s.csv", quantiles=[0.1, 0.5, 0.9])
    assert list(out.columns) == ["day", "step", "y", "y_q0.1", "y_q0.5", "y_q0.9"]
    # the calibrated interval's levels are the interval columns
    np.testing.assert_allclose(out["y_q0.1"], plain["y_lower"])
    np.testing.assert_allclose(out["y_q0.9"], plain["y_upper"])
    np.testing.assert_allclose(out["y_q0.5"], out["y"])  # the Gaussian's median is μ
    assert (out["y_q0.1"] <= out["y_q0.5"]).all() and (out["y_q0.5"] <= out["y_q0.9"]).all()
    assert main(["predict", str(run), str(root / "s.csv"), "--quantiles", "0.05,0.95", "-o",
                 str(root / "q.csv")]) == 0
    assert list(pd.read_csv(root / "q.csv").columns) == ["day", "step", "y", "y_q0.05",
                                                         "y_q0.95"]
    with pytest.raises(ValueError, match=r"future gives future-known covariates, but this "
                                         r"model was trained without future_covariates"):
        rnnkit.predict(run, root / "s.csv", future=root / "s.csv")
    with pytest.raises(ValueError, match=r"quantiles must be levels in \(0, 1\) joined by "
                                         r"commas, e.g. '0.1,0.5,0.9', got '0.1;0.9'"):
        rnnkit.predict(run, root / "s.csv", quantiles="0.1;0.9")
    with pytest.raises(ValueError, match=r"distinct increasing levels in \(0, 1\), got \[0.5, "
                                         r"1.5\]"):
        rnnkit.predict(run, root / "s.csv", quantiles=[0.5, 1.5])


def test_too_few_calibration_windows_are_refused_before_training(tmp_path) -> None:
    y = 10 + np.sin(np.arange(60))
    pd.DataFrame({"day": pd.date_range("2022-01-01", periods=60), "y": y}).to_csv(
        tmp_path / "short.csv", index=False)
    config = forecast.ForecastConfig(data=str(tmp_path / "short.csv"), time_column="day",
                                     targets=["y"], horizon=7, input_length=14,
                                     calibrate="conformal")
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(ValueError, match=r"calibrate='conformal' at interval 0.8 needs at least 4 "
                                         r"validation windows .*got 3: the validation period "
                                         r"must hold 10 rows .*raise val_fraction"):
        forecast.train(config, run, training=forecast.default_training(epochs=1), quiet=True)
    assert not (run / "model.safetensors").exists()
