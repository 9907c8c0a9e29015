"""Baselines of the suite, each from rnnkit or a maintained library, on exactly the data the
model sees.

Forecasting (per series, fit on the training part, forecast the holdout's h steps):

* ``seasonal naive`` — rnnkit's own (:func:`rnnkit.eval.baselines.baseline_forecasts`), period m;
* ``AutoETS``, ``AutoTheta``, ``AutoARIMA`` — statsforecast's automatic models with
  ``season_length=m`` (``pip install 'rnnkit[bench]'``).

Classification (fit on the archive's train file, scored on its test file): rnnkit's
``1-nearest-neighbour`` and ``per-channel statistics`` baselines are scored by the
classification task itself (its metrics carry them); this module adds ``1-NN DTW`` (full
window) and ``MiniRocket`` from aeon (``pip install 'rnnkit[bench]'``). Without aeon (it pins an
older numba than rnnkit's kernels need, so it often cannot be installed beside rnnkit), ``1-NN
DTW`` (full window, as aeon's) comes from dtaidistance (:mod:`rnnkit.models.dtw_baseline`) and
``MiniRocket`` from sktime's transformers with the paper's ridge classifier
(:mod:`rnnkit.models.minirocket_baseline`: the same method as aeon's MiniRocketClassifier, other
random kernels; unequal lengths through MiniRocketMultivariateVariable, which aeon's path here
skips), each with a note.

A missing optional package skips its baselines with a note instead of failing the suite.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from rnnkit.eval.baselines import baseline_forecasts
from rnnkit.eval.stat_baselines import STAT_BASELINES, optional, statsforecast_makers

AEON_MODELS = ("1-NN DTW", "MiniRocket")


def seasonal_naive(train: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """rnnkit's seasonal naive forecast (h,) after ``train`` (n,); m = 1 when n < m."""
    m = season if len(train) >= season else 1
    y = np.asarray(train, dtype=np.float64)[:, None]
    out = baseline_forecasts(y, np.array([len(y) - 1]), horizon, m)
    return out["seasonal_naive"][0, :, 0]


def forecast_baselines(
    series: list[tuple[np.ndarray, int]], season: int
) -> tuple[dict[str, list[np.ndarray | None]], list[str]]:
    """Forecasts of every baseline for ``series`` = [(train (n,), horizon h)].

    Returns ``({baseline: [forecast (h,) or None per series]}, notes)``; None marks a fit that
    failed (the note says which and why; the baseline then has no score on the dataset).
    """
    out: dict[str, list[np.ndarray | None]] = {
        "seasonal naive": [seasonal_naive(y, h, season) for y, h in series]
    }
    notes: list[str] = []
    makers, why = statsforecast_makers()
    if makers is None:
        notes.append(f"{', '.join(STAT_BASELINES)} skipped: {why}")
        return out, notes
    for name in STAT_BASELINES:
        forecasts: list[np.ndarray | None] = []
        for i, (y, h) in enumerate(series):
            m = season if len(y) > 2 * season else 1  # under two seasons: a non-seasonal fit
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = makers[name](m).fit(np.asarray(y, dtype=float))
                    forecasts.append(np.asarray(model.predict(h)["mean"], dtype=np.float64))
            except Exception as err:  # a library's fit failing on one series is a result
                notes.append(f"{name} failed on series {i}: {type(err).__name__}: {err}")
                forecasts.append(None)
        out[name] = forecasts
    return out, notes


def _aeon_input(sequences: list[np.ndarray]) -> tuple[Any, bool]:
    """aeon's layout: (N, C, T) when all lengths agree, else a list of (C, T_i)."""
    arrays = [np.asarray(s, dtype=np.float64).reshape(len(s), -1).T for s in sequences]
    equal = len({a.shape[1] for a in arrays}) == 1
    return (np.stack(arrays) if equal else arrays), equal


def classify_baselines(
    train: tuple[list[np.ndarray], np.ndarray], test: tuple[list[np.ndarray], np.ndarray]
) -> tuple[dict[str, float], list[str]]:
    """Test accuracy of aeon's 1-NN DTW and MiniRocket: ``train``/``test`` are (sequences
    (T_i, C), labels (N,)). Returns ``({baseline: accuracy}, notes)``."""
    module, why = optional("aeon.classification")
    if module is None:
        return _without_aeon(train, test, why)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from aeon.classification.convolution_based import MiniRocketClassifier
        from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    x_train, equal_train = _aeon_input(train[0])
    x_test, equal_test = _aeon_input(test[0])
    y_train, y_test = np.asarray(train[1]).astype(str), np.asarray(test[1]).astype(str)
    makers: dict[str, Callable[[], Any]] = {
        "1-NN DTW": lambda: KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw"),
        "MiniRocket": lambda: MiniRocketClassifier(random_state=0),
    }
    scores: dict[str, float] = {}
    notes: list[str] = []
    for name, make in makers.items():
        if name == "MiniRocket" and not (equal_train and equal_test):
            notes.append("MiniRocket skipped: it needs sequences of one length")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                predicted = make().fit(x_train, y_train).predict(x_test)
            scores[name] = float(np.mean(np.asarray(predicted).astype(str) == y_test))
        except Exception as err:  # a library failing on one dataset is a result, not a crash
            notes.append(f"{name} failed: {type(err).__name__}: {err}")
    return scores, notes


def _without_aeon(
    train: tuple[list[np.ndarray], np.ndarray], test: tuple[list[np.ndarray], np.ndarray],
    aeon_missing: str | None,
) -> tuple[dict[str, float], list[str]]:
    """When aeon is missing: 1-NN DTW with a full warping window (aeon's default) from
    dtaidistance, and MiniRocket from sktime; each library missing too: a note says so."""
    from rnnkit.models.dtw_baseline import NearestNeighbourDTW, dtaidistance_modules
    from rnnkit.models.minirocket_baseline import MiniRocketRidge, sktime_rocket

    labels = np.unique(np.concatenate([np.asarray(train[1]).astype(str),
                                       np.asarray(test[1]).astype(str)]))
    y_train = np.searchsorted(labels, np.asarray(train[1]).astype(str))
    y_test = np.searchsorted(labels, np.asarray(test[1]).astype(str))
    scores: dict[str, float] = {}
    notes: list[str] = []
    modules, why = dtaidistance_modules()
    if modules is None:
        notes.append(f"1-NN DTW skipped: {aeon_missing}; and {why}")
    else:
        predicted = NearestNeighbourDTW(band=1.0).fit(train[0], y_train).predict(test[0])
        scores["1-NN DTW"] = float(np.mean(predicted == y_test))
        notes.append(
            "1-NN DTW from dtaidistance (aeon is not installed), full warping window as aeon's"
        )
    rocket, why = sktime_rocket()
    if rocket is None:
        notes.append(f"MiniRocket skipped: {aeon_missing}; and {why}")
        return scores, notes
    try:
        model = MiniRocketRidge().fit(train[0], y_train)
        scores["MiniRocket"] = float(np.mean(model.predict(test[0]) == y_test))
        notes.append(f"MiniRocket from sktime's {model.kind} + RidgeClassifierCV (aeon is not "
                     "installed), random_state 0")
    except Exception as err:  # a library failing on one dataset is a result, not a crash
        notes.append(f"MiniRocket failed: {type(err).__name__}: {err}")
    return scores, notes
