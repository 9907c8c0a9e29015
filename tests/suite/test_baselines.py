"""Baselines: rnnkit's seasonal naive by hand; missing optional packages skip with a note."""

import sys

import numpy as np
import pytest

from rnnkit.suite.baselines import (
    classify_baselines,
    forecast_baselines,
    optional,
    seasonal_naive,
)


def test_seasonal_naive_repeats_the_last_season():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    assert seasonal_naive(y, 5, 3).tolist() == [5.0, 6.0, 7.0, 5.0, 6.0]
    assert seasonal_naive(y, 2, 1).tolist() == [7.0, 7.0]
    assert seasonal_naive(y[:2], 2, 12).tolist() == [2.0, 2.0]  # shorter than m: m = 1


def test_missing_statsforecast_skips_its_baselines_with_a_note(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsforecast.models", None)  # import raises ImportError
    module, why = optional("statsforecast.models")
    assert module is None and "rnnkit[bench]" in why
    forecasts, notes = forecast_baselines([(np.arange(10.0), 3)], season=1)
    assert list(forecasts) == ["seasonal naive"]
    assert forecasts["seasonal naive"][0].tolist() == [9.0, 9.0, 9.0]
    assert notes == [f"AutoETS, AutoTheta, AutoARIMA skipped: {why}"]


def test_missing_aeon_dtaidistance_and_sktime_skip_their_baselines_with_a_note(monkeypatch):
    monkeypatch.setitem(sys.modules, "aeon.classification", None)
    monkeypatch.setitem(sys.modules, "dtaidistance.dtw", None)
    monkeypatch.setitem(sys.modules, "sktime.transformations.rocket", None)
    scores, notes = classify_baselines(([np.zeros((3, 1))], np.array(["a"])), ([], np.array([])))
    assert scores == {}
    assert len(notes) == 2
    assert notes[0].startswith("1-NN DTW skipped: aeon")
    assert "dtaidistance is not installed" in notes[0]
    assert notes[1].startswith("MiniRocket skipped: aeon")
    assert "sktime is not installed" in notes[1] and "rnnkit[minirocket]" in notes[1]


def test_without_aeon_1nn_dtw_comes_from_dtaidistance(monkeypatch):
    pytest.importorskip("dtaidistance")
    monkeypatch.setitem(sys.modules, "aeon.classification", None)
    monkeypatch.setitem(sys.modules, "sktime.transformations.rocket", None)
    t = np.arange(30.0)
    up, down = (t / 30)[:, None], (1 - t / 30)[:, None]
    train = ([up, down, up + 0.1, down - 0.1], np.array(["up", "down", "up", "down"]))
    test = ([up[::-1].copy(), up + 0.05, down[:20]], np.array(["up", "up", "down"]))
    scores, notes = classify_baselines(train, test)
    assert scores == {"1-NN DTW": pytest.approx(2 / 3)}  # a reversed rise is a fall
    assert "1-NN DTW from dtaidistance" in notes[0]
    assert notes[1].startswith("MiniRocket skipped: aeon")


def test_without_aeon_minirocket_comes_from_sktime(monkeypatch):
    """Sines of 1 or 3 cycles with random phase, of several lengths (the variable-length
    transformer): MiniRocket labels every test sequence right, and equals rnnkit's own
    MiniRocketRidge fit on the same data."""
    pytest.importorskip("sktime", reason="MiniRocket comes from sktime")
    from rnnkit.models.minirocket_baseline import MiniRocketRidge

    monkeypatch.setitem(sys.modules, "aeon.classification", None)
    monkeypatch.setitem(sys.modules, "dtaidistance.dtw", None)
    rng = np.random.default_rng(0)

    def sines(n):
        xs, ys = [], []
        for label, cycles in (("slow", 1), ("fast", 3)):
            for _ in range(n):
                t = np.arange(rng.integers(30, 50))[:, None]
                xs.append(np.sin(2 * np.pi * cycles * t / 30 + rng.uniform(0, 2 * np.pi)))
                ys.append(label)
        return xs, np.array(ys)

    train, test = sines(8), sines(5)
    scores, notes = classify_baselines(train, test)
    assert scores == {"MiniRocket": 1.0}
    assert notes[1] == ("MiniRocket from sktime's MiniRocketMultivariateVariable + "
                        "RidgeClassifierCV (aeon is not installed), random_state 0")
    ids = {"fast": 0, "slow": 1}  # the suite's label order: sorted names
    own = MiniRocketRidge().fit(train[0], np.array([ids[y] for y in train[1]]))
    np.testing.assert_array_equal(own.predict(test[0]), [ids[y] for y in test[1]])


def test_statsforecast_baselines_forecast_the_horizon():
    pytest.importorskip("statsforecast.models")
    t = np.arange(48.0)
    y = 10 + 0.5 * t + np.tile([0.0, 2.0, 4.0, 2.0], 12)
    forecasts, notes = forecast_baselines([(y, 4)], season=4)
    assert notes == []
    assert set(forecasts) == {"seasonal naive", "AutoETS", "AutoTheta", "AutoARIMA"}
    truth = 10 + 0.5 * np.arange(48, 52) + np.array([0.0, 2.0, 4.0, 2.0])
    naive_error = np.mean(np.abs(forecasts["seasonal naive"][0] - truth))
    assert naive_error == pytest.approx(2.0)  # one season of trend (4 × 0.5) behind
    for name in ("AutoETS", "AutoTheta", "AutoARIMA"):
        assert forecasts[name][0].shape == (4,)
        # a clean trend + season: every automatic model beats the seasonal naive
        assert np.mean(np.abs(forecasts[name][0] - truth)) < naive_error, name


def test_aeon_baselines_separate_two_obvious_classes():
    pytest.importorskip("aeon.classification")
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 30)

    def make(n):
        xs, ys = [], []
        for i in range(n):
            up = i % 2 == 0
            xs.append(((t if up else -t) + 0.05 * rng.normal(size=30))[:, None])
            ys.append("up" if up else "down")
        return xs, np.array(ys)

    scores, notes = classify_baselines(make(10), make(20))
    assert notes == []
    assert scores == {"1-NN DTW": 1.0, "MiniRocket": 1.0}
    # unequal lengths: MiniRocket is skipped with a note, 1-NN DTW still runs
    xs, ys = make(10)
    xs[0] = xs[0][:20]
    scores, notes = classify_baselines((xs, ys), make(6))
    assert "MiniRocket" not in scores and scores["1-NN DTW"] == 1.0
    assert notes == ["MiniRocket skipped: it needs sequences of one length"]
