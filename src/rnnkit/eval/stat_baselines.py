"""AutoETS, AutoTheta and AutoARIMA (statsforecast) on exactly the model's backtest windows.

The network's report compares it with naive, seasonal naive and drift (:mod:`.baselines`);
users also compare it with the automatic statistical models they know. This module scores
those on the *same* windows: same series, same forecast origins o, same horizon h, same
metrics (MASE scaled by the run's in-sample seasonal naive with the run's season m).

How each forecast is made, per series and target (one univariate model each):

* **fit** once on the series' training rows y_0 … y_{a−1} — the rows the network's weights were
  fit on, so neither model has seen the validation or test period;
* **forward** to every origin o: the fitted model (its order, parameters and smoothing weights
  unchanged) is run over y_0 … y_o and forecasts ŷ_{o+1} … ŷ_{o+h}. This is statsforecast's
  ``forward``, the same thing the network does (fixed weights, history up to the origin), and
  costs a filter pass instead of a refit per origin.

Cost is bounded: at most ``max_fits`` series are fitted (the first ones with windows, in the
data's order); the others are named in the record, and the baselines' scores then cover only
the fitted series, beside the model's score on those same windows (they are not in the
verdict, which compares like with like). AutoARIMA is skipped, with the reason, when m > 24:
its seasonal search is slow there. A series shorter than two seasons is fitted without
seasonality (m = 1), as in the benchmark suite.

Cost, measured here (statsforecast 2.1, whose models are compiled C++; the 1.x releases compiled
them with numba at first use, tens of seconds): importing ``statsforecast.models`` 1.6–2.4 s, then
per fit of a 120-point monthly series AutoETS 0.05 s, AutoTheta 0.01 s, AutoARIMA 0.5 s (to a
few seconds on a loaded machine). ``stat_baselines='auto'`` runs them when statsforecast
imports, else the record holds one note naming the extra to install; the environment variable
``RNNKIT_LIBRARY_BASELINES=off`` turns 'auto' off (the test suite sets it, so that only the tests
of these baselines pay for them).

Legend: S series, C targets, B windows, h horizon.
"""

from __future__ import annotations

import importlib
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnkit.eval import forecast_metrics as fm

#: The statsforecast models, in the order of the reports.
STAT_BASELINES = ("AutoETS", "AutoTheta", "AutoARIMA")
#: What to install when statsforecast is missing.
INSTALL = "pip install 'rnnkit[bench]'"
#: 'off' turns the 'auto' library baselines (statsforecast forecasts, 1-NN DTW, MiniRocket) off.
ENV = "RNNKIT_LIBRARY_BASELINES"
#: Above this season length AutoARIMA's seasonal search is too slow for every run.
ARIMA_MAX_SEASON = 24
#: Series named in the record when some are not fitted (the count is always given).
NAMED = 10

#: name -> factory(season) of a model with statsforecast's ``fit(y)`` / ``forward(y, h)``.
Makers = dict[str, Callable[[int], Any]]


def library_baselines_enabled() -> bool:
    """False when ``RNNKIT_LIBRARY_BASELINES=off`` (case-insensitive); 'auto' options then
    leave the library baselines out."""
    return os.environ.get(ENV, "").strip().lower() != "off"


def optional(package: str) -> tuple[Any, str | None]:
    """``(module, None)``, or ``(None, why)`` when ``package`` (an optional baseline library)
    cannot be imported; ``why`` names the extra to install."""
    try:
        with warnings.catch_warnings():  # a library's import-time warnings are not ours
            warnings.simplefilter("ignore")
            return importlib.import_module(package), None
    except ImportError as err:
        return None, f"{package} is not installed ({err}); {INSTALL}"


def statsforecast_makers() -> tuple[Makers | None, str | None]:
    """``(makers, None)``, or ``(None, why)`` when statsforecast cannot be imported."""
    models, why = optional("statsforecast.models")
    if models is None:
        return None, why
    return {
        "AutoETS": lambda m: models.AutoETS(season_length=m),
        "AutoTheta": lambda m: models.AutoTheta(season_length=m),
        "AutoARIMA": lambda m: models.AutoARIMA(season_length=m),
    }, None


@dataclass
class StatBaselineResult:
    """What :func:`stat_baseline_metrics` measured.

    Attributes:
        metrics: part ('val', 'test') → baseline → metric → value (targets pooled).
        per_target: target → baseline → metric → value (test part).
        record: for ``metrics.json`` — models scored and skipped (with reasons), season,
            fitted and unfitted series, failures, seconds, and, when not every series was
            fitted, the model's metrics on the fitted series' windows.
    """

    metrics: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    per_target: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)


def stat_baseline_metrics(
    *,
    history: Sequence[np.ndarray],
    train_rows: Sequence[int],
    series_ids: Sequence[str],
    targets: Sequence[str],
    windows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    scales: np.ndarray,
    season: int,
    horizon: int,
    max_fits: int,
    makers: Makers | None = None,
) -> StatBaselineResult:
    """Score the statsforecast models on the model's backtest windows.

    Args:
        history: per series (in ``series_ids`` order) its raw targets (N_s, C), every row.
        train_rows: per series a_s, its rows used for fitting (the training period).
        series_ids, targets: names, for the record and the per-target metrics.
        windows: part → (series (B,), origin (B,), actual (B, h, C), model forecast (B, h, C))
            of the model's backtest; origin is the row of the last observed step.
        scales: (S, C) MASE scales of the run.
        season: the run's season length m (seasonal naive, MASE, the models' season).
        horizon: h.
        max_fits: fit at most this many series (the first with windows).
        makers: the models (default: statsforecast's, :func:`statsforecast_makers`); tests pass
            their own.

    Raises:
        ValueError: ``max_fits`` is not a positive integer.
    """
    if isinstance(max_fits, bool) or not isinstance(max_fits, int) or max_fits < 1:
        raise ValueError(f"stat_baselines_max_fits must be an integer >= 1, got {max_fits!r}")
    started = time.perf_counter()
    out = StatBaselineResult()
    if makers is None:
        makers, why = statsforecast_makers()
        if makers is None:
            out.record = {"scored": [], "note": f"{', '.join(STAT_BASELINES)} skipped: {why}"}
            return out
    skipped: dict[str, str] = {}
    if "AutoARIMA" in makers and season > ARIMA_MAX_SEASON:
        skipped["AutoARIMA"] = (
            f"season length {season} > {ARIMA_MAX_SEASON}: AutoARIMA's seasonal search takes "
            "minutes per series there"
        )
    names = [n for n in makers if n not in skipped]

    with_windows = sorted({int(s) for w in windows.values() for s in w[0]})
    fitted_series, unfitted = with_windows[:max_fits], with_windows[max_fits:]
    fits: dict[str, dict[int, list[Any]]] = {n: {} for n in names}
    failures: list[str] = []
    for s in fitted_series:
        a = int(train_rows[s])
        y_train = np.asarray(history[s], dtype=np.float64)[:a]
        m = season if a > 2 * season else 1  # under two seasons: a non-seasonal fit
        for name in names:
            fits[name][s] = []
            for j, target in enumerate(targets):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        fits[name][s].append(makers[name](m).fit(y_train[:, j]))
                except Exception as err:  # a library's fit failing on one series is a result
                    failures.append(f"{name} fit on {_label(series_ids[s], target)}: "
                                    f"{type(err).__name__}: {err}")
                    fits[name][s].append(None)

    for part, (series, origin, actual, model_point) in windows.items():
        pick = np.isin(series, fitted_series)
        scale = scales[series][:, None, :]  # (B, 1, C)
        out.metrics[part] = {}
        for name in names:
            forecast = np.full(actual.shape, np.nan)
            for b in np.flatnonzero(pick):
                s = int(series[b])
                y = np.asarray(history[s], dtype=np.float64)[: int(origin[b]) + 1]
                for j, model in enumerate(fits[name][s]):
                    forecast[b, :, j] = _forward(model, y[:, j], horizon, name, series_ids[s],
                                                 targets[j], failures)
            ok = pick & np.isfinite(forecast).all(axis=(1, 2))
            if not ok.any():
                continue
            out.metrics[part][name] = fm.point_metrics(actual[ok], forecast[ok], scale[ok])
            if part == "test":
                for j, target in enumerate(targets):
                    out.per_target.setdefault(target, {})[name] = fm.point_metrics(
                        actual[ok][..., j : j + 1], forecast[ok][..., j : j + 1],
                        scale[ok][..., j : j + 1],
                    )
            if not ok.all():  # scored on fewer windows than the model: not like with like
                out.metrics[part][name]["windows"] = int(ok.sum())
                out.metrics[part][name]["partial"] = True
        partial = [n for n, v in out.metrics[part].items() if v.get("partial")]
        if partial:
            ok = pick  # the model on the fitted series' windows, to read beside them
            out.record.setdefault("model_on_fitted_series", {})[part] = fm.point_metrics(
                actual[ok], model_point[ok], scale[ok]
            )
    out.record.update({
        "scored": names,
        "skipped": skipped,
        "season_length": season,
        "series": len(with_windows),
        "fitted_series": len(fitted_series),
        "max_fits": max_fits,
        "unfitted_series": [series_ids[s] or "the series" for s in unfitted[:NAMED]],
        "failures": failures[:NAMED],
        "failure_count": len(failures),
        "shippable": False,
        "seconds": round(time.perf_counter() - started, 2),
    })
    return out


def _forward(
    model: Any, y: np.ndarray, horizon: int, name: str, sid: str, target: str,
    failures: list[str],
) -> np.ndarray:
    """``model``'s forecast (h,) after ``y``, or NaN (and a failure noted) when it has none."""
    if model is None:
        return np.full(horizon, np.nan)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(model.forward(y=y, h=horizon)["mean"], dtype=np.float64)
    except Exception as err:  # one origin failing is a result, not a crash
        failures.append(f"{name} forecast on {_label(sid, target)}: {type(err).__name__}: {err}")
        return np.full(horizon, np.nan)


def _label(sid: str, target: str) -> str:
    return f"{sid} / {target}" if sid else target


def record_lines(record: dict[str, Any]) -> list[str]:
    """What a report says about the statistical baselines beside their table rows."""
    if not record:
        return []
    if "note" in record:
        return [record["note"]]
    lines = []
    if record["scored"]:
        lines.append(
            f"{', '.join(record['scored'])} (statsforecast, season length "
            f"{record['season_length']}): fit on each series' training rows, then run forward "
            f"to every forecast origin ({record['seconds']:.1f} s). They cannot be shipped by "
            "fallback='baseline' (their fits are not saved in the artifact): the verdict counts "
            "them, and the fallback chooses among naive, seasonal naive and drift."
        )
    for name, why in record["skipped"].items():
        lines.append(f"{name} skipped: {why}.")
    if record["fitted_series"] < record["series"]:
        named = ", ".join(record["unfitted_series"])
        more = record["series"] - record["fitted_series"] - len(record["unfitted_series"])
        model = record.get("model_on_fitted_series", {}).get("test", {})
        lines.append(
            f"Only the first {record['fitted_series']} of {record['series']} series were fitted "
            f"(stat_baselines_max_fits={record['max_fits']}); not fitted: {named}"
            + (f" and {more} more" if more > 0 else "")
            + ". Their rows score those series only, so they are not in the verdict"
            + (f"; the model's test MASE on the same windows is {model['mase']:.3f}."
               if "mase" in model else ".")
        )
    if record["failure_count"]:
        lines.append(
            f"{record['failure_count']} fits or forecasts failed (their windows are left out of "
            f"that model's row): {'; '.join(record['failures'][:3])}"
        )
    return lines
