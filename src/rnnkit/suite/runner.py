"""Run rnnkit's DEFAULT configuration, unchanged, over a suite's datasets with several seeds.

Only data options are set — the time and target columns, the series column, the horizon and,
for competition series written with integer steps (no dates to infer it from), their known
season length for forecasting; the train and test files for classification — through the
public one-call API (:func:`rnnkit.tasks.forecast.train` /
:func:`rnnkit.tasks.classify.train`) with the task's default training options. The training
options the suite sets do not change what is learned: ``seed``, ``max_time`` (a per-run time
budget), ``plots=False`` and ``quiet``. So the suite measures whatever the defaults are when
it runs.

Forecasting follows the competitions: the model trains on each series less its last h values
(the task splits that further for validation and its own backtest), then
:func:`rnnkit.tasks.forecast.predict` forecasts the h values after the training data, scored
against the holdout (:mod:`rnnkit.suite.scoring`). Classification trains on the archive's train
file and scores its test file (the task reports the accuracy and its own baselines).
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.core.files import atomic_write_text
from rnnkit.data.registry import DatasetUnavailableError
from rnnkit.errors import RNNKitError
from rnnkit.suite import table as tables
from rnnkit.suite.baselines import classify_baselines, forecast_baselines
from rnnkit.suite.datasets import (
    ClassifyDataset,
    ForecastDataset,
    series_frame,
    suite_entries,
)
from rnnkit.suite.published import published_classification
from rnnkit.suite.scoring import FORECAST_METRICS, holdout_scores, mean_scores
from rnnkit.suite.table import DatasetResult

Progress = Callable[[str], None]
#: What a default run may raise on data it cannot handle: recorded as the model failing there.
RUN_ERRORS = (ValueError, RNNKitError, RuntimeError)


@dataclass
class SuiteReport:
    """A suite's results, rendered by :mod:`rnnkit.suite.table`."""

    suite: str
    results: list[DatasetResult]
    meta: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def render(self, *, markdown: bool = False) -> str:
        head = [
            f"Suite {self.suite}: rnnkit's default configuration, {self.meta['seeds']} seed(s) "
            f"({', '.join(map(str, self.meta['seed_values']))}), at most {self.meta['max_time']} "
            f"per run{_ensemble_words(self.meta.get('ensemble', 1))}; {self.meta['date']}, "
            f"load {self.meta['load']}."
        ]
        body = tables.render(self.results, markdown=markdown)
        rules = (tables.__doc__ or "").split("Rules (printed under the table):", 1)[-1].strip()
        tail = ["Rules:", rules]
        if self.sources:
            tail += ["", "Sources:"] + [f"- {k}: {v}" for k, v in self.sources.items()]
        if self.notes:
            tail += ["", "Notes:"] + [f"- {n}" for n in self.notes]
        return "\n\n".join(["\n".join(head), body, "\n".join(tail)]) + "\n"

    def to_json(self) -> str:
        return tables.to_json(
            self.results, {**self.meta, "notes": self.notes, "sources": self.sources}
        )


def _ensemble_words(members: int) -> str:
    """How the header names an ensemble run (nothing for single models)."""
    return f" (each run an ensemble of {members} members)" if members > 1 else ""


def _load() -> str:
    try:
        return "{:.2f} {:.2f} {:.2f} (1/5/15 min)".format(*os.getloadavg())
    except OSError:  # pragma: no cover - platforms without getloadavg
        return "unknown"


def _prepare_out(out_dir: str | os.PathLike[str]) -> Path:
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(
            f"out_dir must be a new or empty folder (the suite never writes over earlier "
            f"results), got {str(out)!r}, which exists and is not empty"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def check_seeds(seeds: int) -> list[int]:
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be an integer ≥ 1, got {seeds!r}")
    return list(range(seeds))


def run_suite(
    suite: str,
    out_dir: str | os.PathLike[str],
    *,
    seeds: int = 3,
    datasets: list[str] | None = None,
    max_time: str = "5m",
    progress: Progress | None = None,
    ensemble: int = 1,
) -> SuiteReport:
    """Run ``suite`` and write ``results.md`` and ``results.json`` into ``out_dir`` (a new or
    empty folder; each run's own files go under ``runs/<dataset>/seed<k>``).

    Args:
        suite: a name from :data:`rnnkit.suite.datasets.SUITES`.
        seeds: runs per dataset, with seeds 0 … seeds − 1.
        datasets: only these datasets of the suite (None: all).
        max_time: time budget of each training run (e.g. '90s', '5m'): TrainConfig.max_time.
        ensemble: members per run (TrainConfig.ensemble; 1: a single model), each with
            max_time; the seed of a run is its first member's.
        progress: called with one line when each dataset starts and ends (None: silent).

    Raises:
        ValueError: an unknown suite or dataset, seeds < 1, a bad max_time, a used out_dir.
    """
    from rnnkit.train import TrainConfig

    say = progress or (lambda _line: None)
    entries = suite_entries(suite, datasets)
    seed_values = check_seeds(seeds)
    TrainConfig(max_time=max_time, ensemble=ensemble)  # bad values fail here, before any work
    out = _prepare_out(out_dir)
    started = _dt.datetime.now(_dt.timezone.utc)
    meta = {
        "suite": suite,
        "command": "rnnkit " + shlex.join(sys.argv[1:]) if sys.argv[1:] else None,
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "seeds": len(seed_values),
        "seed_values": seed_values,
        "max_time": max_time,
        "ensemble": ensemble,
        "load": _load(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
    }
    report = SuiteReport(suite, [], meta)
    for i, entry in enumerate(entries, 1):
        try:
            loaded = entry.load()
        except DatasetUnavailableError as err:
            report.notes.append(f"{entry.name} skipped: {err}")
            say(f"[{i}/{len(entries)}] {entry.name}: skipped ({err})")
            continue
        for dataset in loaded:
            say(f"[{i}/{len(entries)}] {dataset.name}: {dataset.description}")
            t0 = time.perf_counter()
            if isinstance(dataset, ForecastDataset):
                result = run_forecast(dataset, out, seed_values, max_time, ensemble)
            else:
                result = run_classify(
                    dataset, out, seed_values, max_time, report.sources, ensemble
                )
            result.seconds = time.perf_counter() - t0
            report.results.append(result)
            if result.error:
                report.notes.append(
                    f"{dataset.name}: the default configuration failed: {result.error}"
                )
            report.notes += [f"{dataset.name}: {n}" for n in result.notes]
            say(f"[{i}/{len(entries)}] {dataset.name}: {_line(result)}")
    meta["load_after"] = _load()
    meta["seconds"] = round((_dt.datetime.now(_dt.timezone.utc) - started).total_seconds(), 1)
    atomic_write_text(out / "results.md", report.render(markdown=True))
    atomic_write_text(out / "results.json", report.to_json())
    return report


def _line(r: DatasetResult) -> str:
    label = tables.METRIC_LABELS[r.primary]
    if r.error:
        model = f"model failed ({r.error})"
    else:
        std = r.model_std()
        model = f"model {label} {r.model_value():.3f}" + (f" ± {std:.3f}" if std else "")
    others = [(c, r.value(c)) for c in r.baselines if r.value(c) is not None]
    if others:
        pick = min if tables.LOWER_IS_BETTER[r.primary] else max
        name, value = pick(others, key=lambda x: x[1])
        model += f", best baseline {name} {value:.3f}"
    return f"{model} ({len(r.model)} seed(s), {r.seconds:.0f} s)"


def _run_dir(out: Path, name: str, seed: int) -> Path:
    path = out / "runs" / name / f"seed{seed}"
    path.mkdir(parents=True)
    return path


# ---- forecasting ------------------------------------------------------------------------------


def run_forecast(
    dataset: ForecastDataset, out: Path, seeds: list[int], max_time: str, ensemble: int = 1
) -> DatasetResult:
    """The default forecaster, per seed, on the training parts; scored on the holdouts."""
    from rnnkit.tasks import forecast
    from rnnkit.tasks.forecast_config import ForecastConfig

    result = DatasetResult(
        dataset.name,
        "forecast",
        list(FORECAST_METRICS),
        description=dataset.description,
        source=dataset.source,
    )
    frame = series_frame(dataset, "train")
    data_dir = out / "data"
    data_dir.mkdir(exist_ok=True)
    csv = data_dir / f"{dataset.name}.csv"
    atomic_write_text(csv, frame.to_csv(index=False))
    multi = len(dataset.series) > 1
    config = ForecastConfig(
        data=str(csv),
        time_column="time",
        targets=["value"],
        series_column="series" if multi else None,
        horizon=dataset.horizon,
        # Series written with integer steps carry no frequency to infer the season from; a
        # user with such data knows its period as they know its horizon, and says it.
        season_length=None if dataset.start is not None else dataset.season,
        # The suite fits its own statsforecast baselines on the holdout split (below): the
        # run's backtest rows would cost their fits again per seed and are not reported here.
        stat_baselines="off",
    )
    errors = []
    for seed in seeds:
        training = forecast.default_training(
            config, seed=seed, max_time=max_time, plots=False, quiet=True, ensemble=ensemble
        )
        try:
            run = forecast.train(
                config, _run_dir(out, dataset.name, seed), training=training, quiet=True
            )
            predicted = forecast.predict(run.artifact_path, frame, seed=seed)
            result.model.append(_score_forecasts(dataset, predicted))
        except RUN_ERRORS as err:
            errors.append(f"seed {seed}: {type(err).__name__}: {err}")
    if errors and not result.model:
        result.error = errors[0]
    result.notes += [f"model failed on {e}" for e in errors if result.model]
    forecasts, notes = forecast_baselines(
        [(s.train, dataset.horizon) for s in dataset.series], dataset.season
    )
    result.notes += notes
    for name, per in forecasts.items():
        scores = [
            holdout_scores(s.train, s.holdout, f, dataset.season)
            for s, f in zip(dataset.series, per, strict=True)
            if f is not None
        ]
        if len(scores) == len(dataset.series):  # a baseline that missed a series has no score
            result.baselines[name] = mean_scores(scores)
    return result


def _score_forecasts(dataset: ForecastDataset, predicted) -> dict[str, float]:
    """Mean holdout scores of ``predicted`` (the task's forecast table) over the series."""
    per_series = []
    for s in dataset.series:
        rows = predicted
        if len(dataset.series) > 1:
            # ids compared as text: a CSV reader may have parsed ids such as '101' as numbers
            rows = predicted[predicted["series"].astype(str) == s.id]
        f = rows.sort_values("step")["value"].to_numpy(dtype=np.float64)
        per_series.append(holdout_scores(s.train, s.holdout, f, dataset.season))
    return mean_scores(per_series)


# ---- classification ---------------------------------------------------------------------------


def run_classify(
    dataset: ClassifyDataset, out: Path, seeds: list[int], max_time: str, sources: dict,
    ensemble: int = 1,
) -> DatasetResult:
    """The default classifier, per seed, on the train file; scored on the test file."""
    from rnnkit.data.sequence_files import read_ts
    from rnnkit.tasks import classify
    from rnnkit.tasks.classify_config import ClassifyConfig

    result = DatasetResult(
        dataset.name,
        "classify",
        ["accuracy"],
        description=dataset.description,
        source=dataset.source,
    )
    # 1-NN DTW and MiniRocket are the suite's own (on the whole train file, below).
    config = ClassifyConfig(
        data=dataset.train_path, test_data=dataset.test_path, dtw_baseline="off",
        minirocket_baseline="off",
    )
    own: dict[str, list[float]] = {}
    errors = []
    for seed in seeds:
        training = classify.default_training(
            config, seed=seed, max_time=max_time, plots=False, quiet=True, ensemble=ensemble
        )
        try:
            run = classify.train(
                config, _run_dir(out, dataset.name, seed), training=training, quiet=True
            )
        except RUN_ERRORS as err:
            errors.append(f"seed {seed}: {type(err).__name__}: {err}")
            continue
        test = run.metrics["test"]
        result.model.append({"accuracy": float(test["model"]["accuracy"])})
        for name, scores in (test.get("baselines") or {}).items():
            own.setdefault(name, []).append(float(scores["accuracy"]))
    if errors and not result.model:
        result.error = errors[0]
    result.notes += [f"model failed on {e}" for e in errors if result.model]
    # rnnkit's own baselines come with each run; their validation split (and so a tuned L2)
    # follows the seed, so their score is the mean over seeds.
    for name, values in own.items():
        result.baselines[name] = {"accuracy": float(np.mean(values))}
    train, test = read_ts(dataset.train_path), read_ts(dataset.test_path)
    scores, notes = classify_baselines(
        (train.sequences, train.labels), (test.sequences, test.labels)
    )
    result.notes += notes
    for name, value in scores.items():
        result.baselines[name] = {"accuracy": value}
    published, published_sources = published_classification([dataset.ucr_name])
    for column, values in published.items():
        if dataset.ucr_name in values:
            result.published[column] = {"accuracy": values[dataset.ucr_name]}
    if "note" in published_sources:
        result.notes.append(published_sources.pop("note"))
    sources.update(published_sources)
    return result
