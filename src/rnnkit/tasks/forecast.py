"""Forecasting: the :class:`ForecastTask` of the task pipeline, and its one-call API.

``train(config, run_dir)`` reads the data (a CSV/Parquet file or a bundled dataset), checks it,
splits it by time (train / validation / test), fits the scalers on the training period only,
trains a :class:`~rnnkit.models.forecaster.Forecaster` through the task runner
(:mod:`rnnkit.tasks.pipeline`: early stopping on the validation loss, best weights kept),
backtests it with rolling origins on the validation and test periods beside the naive,
seasonal-naive and drift baselines, and writes into ``run_dir``:

* ``model.safetensors`` — the artifact (``kind='forecaster'``: model and task config, weights,
  and the preprocessing state: scalers, column names, calendar features, split points);
* ``metrics.json`` — validation and test metrics of the model and the baselines, the data report;
* ``forecast_test.png`` — forecast vs actual with prediction intervals on the test period;
* ``reliability_test.png`` — nominal vs observed coverage of the intervals on the test period
  (not for a 'point' model);
* what the trainer writes (history, learning curves, best/last checkpoints).

``evaluate(artifact, data)`` backtests a saved model on new data (or its own test period);
``predict(artifact, data)`` forecasts the horizon after the last row of each series, with
intervals (``future=`` gives future-known covariates for the horizon, ``quantiles=`` other
levels, ``new_series='history'`` forecasts series absent from training). Bad input raises
``ValueError`` with one paragraph naming the argument, what was expected and what was received.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from rnnkit.data.calendar import resolve_calendar
from rnnkit.data.folds import Fold, rolling_origin
from rnnkit.data.forecast_inputs import (
    ForecastPreprocessor,
    WindowSet,
    check_enough_rows,
    fit_input_length,
    longest_train_rows,
    read_series,
    window_loaders,
)
from rnnkit.data.frequency import season_length_for
from rnnkit.data.provenance import identify_test_data, stored_source
from rnnkit.data.scaling import choose_transform
from rnnkit.data.static_inputs import read_static
from rnnkit.data.timeseries import (
    QualityReport,
    SeriesTable,
)
from rnnkit.data.windows import TimeSplit, time_split
from rnnkit.eval.baselines import BASELINES
from rnnkit.eval.conformal import ConformalCalibration, check_calibration_windows
from rnnkit.eval.stat_baselines import (
    StatBaselineResult,
    library_baselines_enabled,
    record_lines,
    stat_baseline_metrics,
)
from rnnkit.io.artifact import Artifact
from rnnkit.models.forecast_inference import forecast_windows
from rnnkit.models.forecaster import (
    Forecaster,
    interval_quantiles,
)
from rnnkit.tasks.forecast_config import ForecastConfig, resolve, split_names
from rnnkit.tasks.pipeline import (
    FALLBACK_KEY,
    TEST_DATA_KEY,
    Fitted,
    Prepared,
    Say,
    Scores,
    Task,
    TaskResult,
    fit_model,
    training_line,
)
from rnnkit.tasks.pipeline import run as run_task
from rnnkit.train import TrainConfig

ARTIFACT_KIND = "forecaster"

#: Training options that suit forecasting (a :class:`TrainConfig` built by
#: :func:`default_training`): small windows train fast, so many epochs with early stopping.
#: Model selection and early stopping watch the validation MAE of the point forecast (in scaled
#: units): the Gaussian likelihood rises as soon as the spread is over-confident, long before
#: the point forecast stops improving, so it stopped training too early on small series.
#: ``ForecastConfig.min_updates`` raises epochs and patience on small data (see ``prepare``).
FORECAST_TRAINING_DEFAULTS: dict[str, Any] = {
    "epochs": 60,
    "lr": 3e-3,
    "clip_norm": 1.0,
    "early_stopping": 10,
    "monitor": "val_mae_scaled",
}

#: Automatic batch size: this share of the training windows, within these bounds.
BATCH_FRACTION, MIN_BATCH, MAX_BATCH = 1 / 16, 8, 64


@dataclass
class ForecastResult(TaskResult):
    """What :func:`train` produced (see :class:`rnnkit.tasks.pipeline.TaskResult`), with the
    data checks in ``report`` (frequency, gaps, missing values)."""

    report: QualityReport | None = None


@dataclass
class LoadedForecaster:
    """A forecaster rebuilt from an artifact, with its preprocessing."""

    model: Forecaster
    preprocessor: ForecastPreprocessor
    preprocessing: dict[str, Any]
    config: ForecastConfig
    #: Which data the test period is (:mod:`rnnkit.data.provenance`); None in older artifacts.
    test_data: dict[str, Any] | None = None
    #: The baseline shipped in the network's place (``fallback='baseline'``), else None.
    fallback: dict[str, Any] | None = None

    @property
    def split(self) -> TimeSplit:
        return TimeSplit.from_dict(self.preprocessing["split"], self.preprocessor.frequency)

    @property
    def calibration(self) -> ConformalCalibration | None:
        """The conformal calibration of the interval (``calibrate='conformal'``), or None."""
        d = self.preprocessing.get("conformal")
        return None if d is None else ConformalCalibration.from_dict(d)

    @property
    def mase_scale(self) -> np.ndarray:
        s = np.asarray(self.preprocessing["mase_scale"], dtype=np.float64)
        return np.where(s > 0, s, np.nan)


class ForecastTask(Task):
    """Forecast future values of time series (CSV/Parquet)."""

    name = "forecast"
    artifact_kind = ARTIFACT_KIND
    description = "forecast future values of time series (CSV/Parquet)"
    config_class = ForecastConfig
    result_class = ForecastResult
    loaded_class = LoadedForecaster
    headline = ("mase", False)
    fallback_methods = BASELINES
    training_base = FORECAST_TRAINING_DEFAULTS
    examples = (
        "rnnkit train --task forecast --data seattle-weather",
        "rnnkit train --task forecast --data sunspots --cell gru --hidden-size 32 --epochs 30",
        "rnnkit train --task forecast --data sales.csv --time-column date --targets units "
        "--series-column store --horizon 7",
    )

    def prepare(
        self, config: ForecastConfig, training: TrainConfig, say: Say, *, fold: Fold | None = None
    ) -> Prepared:
        c = resolve(config)
        table = read_series(
            c.data,
            time_column=c.time_column,
            targets=c.targets,
            series_column=c.series_column,
            covariates=[*c.covariates, *c.future_covariates],
            missing=c.missing,
            gaps=c.gaps,
            **c.file_options(),
        )
        for line in table.report.lines():
            say(f"data: {line}")
        times = table.frame[table.time_column].to_numpy()
        pooled = time_split(times, c.val_fraction, c.test_fraction, min_steps=c.horizon)
        if fold is not None:  # rolling origin: the fold's block is its 'test' period
            table, pooled = rolling_origin(table, pooled.test_start, fold, c.val_fraction)
        split, training_only = _panel_split(table, pooled)
        choices = _choose_preprocessing(c, table, split)
        if training_only:
            choices["training_only_series"] = {
                "value": training_only,
                "why": f"fewer than {split.min_train_rows} rows before the validation period: "
                "used for training only, not scored",
            }
        if config.input_length is None:  # the default length, fitted to short series
            c.input_length, why = fit_input_length(
                c.input_length, c.horizon, longest_train_rows(table, split)
            )
            if why is not None:
                choices["input_length"] = {"value": c.input_length, "why": why}
        for line in _choice_lines(choices):
            say(line)
        calendar = resolve_calendar(
            split_names(c.calendar) if c.calendar not in ("auto", "none") else c.calendar,
            table.frequency,
        )
        pre = ForecastPreprocessor(
            targets=c.targets,
            covariates=c.covariates,
            calendar=calendar,
            input_length=c.input_length,
            horizon=c.horizon,
            normalization=c.normalization,
            transform=c.transform,
            frequency=table.frequency,
            time_column=table.time_column,
            series_column=table.series_column,
            season_length=c.season_length,
            deseasonalize=c.deseasonalize,
            future_covariates=c.future_covariates,
            holidays=c.holidays,
        ).fit(table, split)
        if c.static_covariates:
            pre = pre.with_static(
                read_static(
                    c.data,
                    series_column=table.series_column,
                    columns=c.static_covariates,
                    **c.file_options(),
                )
            )
        if pre.seasonal_note and c.deseasonalize == "auto" and c.season_length >= 2:
            choices["deseasonalize"] = {"value": "none", "why": pre.seasonal_note}
            say(f"no seasonal adjustment: {pre.seasonal_note}")
        if pre.seasonal is not None:
            adjusted = int(pre.seasonal.seasonal.sum())
            choices["deseasonalize"] = {
                "value": c.deseasonalize,
                "adjusted_series": adjusted,
                "series": len(pre.seasonal.seasonal),
            }
            say(
                f"seasonal adjustment: {adjusted} of {len(pre.seasonal.seasonal)} series pass the "
                f"seasonality test at period {c.season_length} and are deseasonalised"
            )
        windows = {
            "train": pre.windows(table, split, "train", stride=c.stride),
            "val": pre.windows(table, split, "val"),
            "test": pre.windows(table, split, "test", stride=c.backtest_stride),
        }
        counts = {k: len(w) for k, w in windows.items()}
        check_enough_rows(
            table,
            split,
            counts,
            input_length=c.input_length,
            horizon=c.horizon,
            val_fraction=c.val_fraction,
            test_fraction=c.test_fraction,
        )
        say(f"windows: {counts['train']} train, {counts['val']} validation, {counts['test']} test")
        if c.calibrate == "conformal":  # refused before training rather than after it
            check_calibration_windows(counts["val"], c.interval, c.horizon)
        if c.batch_size is None:
            c.batch_size = auto_batch_size(counts["train"])
            choices["batch_size"] = {"value": c.batch_size, "source": "auto"}
        else:
            choices["batch_size"] = {"value": c.batch_size, "source": "config"}
        train_batches, val_batches = window_loaders(
            windows["train"], windows["val"], c.decoder, c.batch_size, training.seed
        )
        choices["budget"] = apply_update_budget(training, len(train_batches), c.min_updates)
        say(
            f"training: batch size {c.batch_size}, {len(train_batches)} updates per epoch, up to "
            f"{training.epochs} epochs (early stopping after {training.early_stopping} without "
            f"improvement of {training.monitor})"
        )
        parts = {"table": table, "split": split, "counts": counts, "choices": choices}
        identity = identify_test_data(c.data, split.to_dict(), prefer_dataset=True)
        return Prepared(c, train_batches, val_batches, pre, parts, identity)

    def build_model(self, prepared: Prepared) -> Forecaster:
        return build_model(prepared.config, prepared.preprocessing)

    def score(self, model: Forecaster, prepared: Prepared, seed: int) -> Scores:
        from rnnkit.eval.backtest import backtest, mase_scales

        c, pre = prepared.config, prepared.preprocessing
        table, split, counts = (prepared.parts[k] for k in ("table", "split", "counts"))
        calibration = online = None
        if c.calibrate == "conformal":
            from rnnkit.eval.conformal import calibrate_online

            # the backtest is scored with each origin's own Q̂ (targets observed by then);
            # the artifact keeps the one from every window, for forecasts after the data
            online, calibration = calibrate_online(
                model,
                pre.windows(table, split, "val"),
                pre.windows(table, split, "test", stride=c.backtest_stride),
                c.interval,
                seed=seed,
            )
            prepared.parts["conformal"] = calibration.to_dict()
        results = {}
        for part in ("val", "test", "test_uncalibrated"):
            name = part.split("_")[0]
            if counts[name] and (part != "test_uncalibrated" or calibration is not None):
                results[part] = backtest(
                    model,
                    pre,
                    table,
                    split,
                    part=name,
                    season=c.season_length,
                    stride=1 if name == "val" else c.backtest_stride,
                    seed=seed,
                    # validation is scored as trained: calibrating on it makes it in-sample
                    calibration=online if part == "test" else None,
                )
        test = results["test"]
        prepared.parts["forecasts"] = test.forecasts
        scales = mase_scales(table, split, pre, c.season_length)
        stat = _stat_baselines(c, pre, table, split, results, scales)
        prepared.parts["mase_scale"] = np.where(np.isfinite(scales), scales, -1.0).tolist()
        # A series whose training period repeats itself exactly (e.g. constant) has no MASE
        # scale: say which, rather than leave a silent NaN in the tables.
        undefined = [
            f"{sid or 'the series'} / {target}"
            for i, sid in enumerate(pre.series_ids)
            for j, target in enumerate(pre.targets)
            if not np.isfinite(scales[i, j])
        ]
        metrics = {
            "data": c.data,
            "targets": c.targets,
            "horizon": c.horizon,
            "input_length": c.input_length,
            "season_length": c.season_length,
            "interval": c.interval,
            "windows": counts,
            "preprocessing": prepared.parts["choices"],
            "val": results["val"].metrics if "val" in results else {},
            "test": test.metrics,
            "test_per_target": test.per_target,
            "split": split.to_dict(),
            "data_report": table.report.to_dict(),
        }
        if undefined:
            metrics["mase_undefined"] = undefined
        if stat is not None:  # AutoETS, AutoTheta, AutoARIMA beside the simple baselines
            for part, by_method in stat.metrics.items():
                metrics[part].update(by_method)
            for target, by_method in stat.per_target.items():
                metrics["test_per_target"][target].update(by_method)
            metrics["stat_baselines"] = stat.record
        if model.likelihood != "point":
            metrics["reliability"] = _reliability(model, pre, test, calibration, seed)
            prepared.parts["reliability"] = metrics["reliability"]
        if calibration is not None:
            before = results["test_uncalibrated"].metrics["model"]
            after = test.metrics["model"]
            metrics["conformal"] = {
                **calibration.to_dict(),
                "test_uncalibrated": {
                    k: before[k] for k in ("coverage", "coverage_by_step", "pinball",
                                           "interval_width")
                },
                "test_calibrated": {
                    k: after[k] for k in ("coverage", "coverage_by_step", "pinball",
                                          "interval_width")
                },
            }
        summary = {k: metrics[k] for k in ("val", "test", "windows")}
        return Scores(metrics, summary, {"report": table.report})

    def artifact_state(self, prepared: Prepared) -> dict[str, Any]:
        c = prepared.config
        return {
            **prepared.preprocessing.to_dict(),
            "missing": c.missing,
            "gaps": c.gaps,
            "season_length": c.season_length,
            "mase_scale": prepared.parts["mase_scale"],
            **({"conformal": prepared.parts["conformal"]} if "conformal" in prepared.parts else {}),
            "split": prepared.parts["split"].to_dict(),
        }

    def plots(self, scores: Scores, prepared: Prepared, run_dir: Path) -> list[Path]:
        from rnnkit.eval.plots import plot_forecasts

        c = prepared.config
        path = plot_forecasts(
            prepared.parts["forecasts"],
            run_dir / "forecast_test.png",
            targets=c.targets,
            title=f"{c.data} test backtest",
        )
        paths = [path]
        if "reliability" in prepared.parts:
            from rnnkit.eval.probabilistic import plot_reliability

            paths.append(
                plot_reliability(
                    prepared.parts["reliability"],
                    run_dir / "reliability_test.png",
                    title=f"{c.data} test backtest: interval reliability",
                )
            )
        return paths

    def scores_by_method(self, part_metrics: dict[str, Any]) -> dict[str, float]:
        """MASE of the model and of each baseline (the part maps method -> metrics); a
        baseline scored on only some of the model's windows (``partial``) is left out."""
        return {
            method: float(values["mase"])
            for method, values in part_metrics.items()
            if isinstance(values, dict) and isinstance(values.get("mase"), (int, float))
            and not values.get("partial")
        }

    def table(self, part_metrics: dict[str, Any]) -> str:
        from rnnkit.eval.backtest import metrics_table

        return metrics_table(part_metrics)

    def summary(self, result: TaskResult) -> str:
        m, c = result.metrics, result.config
        report = getattr(result, "report", None)
        lines = [
            f"Forecasting {', '.join(c.targets)} of {c.data!r}: horizon {c.horizon}, input "
            f"{c.input_length} steps, {c.cell.upper()} {c.num_layers}×{c.hidden_size}, "
            f"{c.decoder} decoder, {c.likelihood} likelihood.",
            "",
            "Data: " + "; ".join(report.lines() if report is not None else []) + ".",
            "",
            "Preprocessing: " + "; ".join(_choice_lines(m.get("preprocessing", {}))) + ".",
            "",
            f"Windows: {m['windows']['train']} train, {m['windows']['val']} validation, "
            f"{m['windows']['test']} test (rolling origins, stride {c.backtest_stride}). "
            f"Training: {training_line(m['training'])}.",
            "",
            f"Test backtest (MASE scaled by the in-sample seasonal naive, m = {c.season_length}; "
            f"interval {c.interval:.0%}):",
            "",
            result.table("test"),
        ]
        notes = record_lines(m.get("stat_baselines", {}))
        if notes:
            lines += ["", " ".join(notes)]
        if m.get("mase_undefined"):
            lines += [
                "",
                f"MASE is undefined (NaN) for {', '.join(m['mase_undefined'][:5])}: the "
                f"training period does not change from one season to the next (m = "
                f"{c.season_length}), so the seasonal naive's in-sample error that scales it is "
                "0. MAE, RMSE and sMAPE are still compared.",
            ]
        return "\n".join(lines)

    def closing_lines(self, result: TaskResult) -> list[str]:
        return []  # the command line prints the summary, which holds the table

    def upgrade(self, artifact: Artifact) -> Artifact:
        """Format 1 (rnnkit 0.1.0) kept the model config at the top and the task config in the
        preprocessing; today's layout is ``config = {'model': ..., 'task': ...}``."""
        preprocessing = dict(artifact.preprocessing)
        task = preprocessing.pop("task")
        return Artifact(
            artifact.kind,
            {"model": artifact.config, "task": task},
            artifact.tensors,
            preprocessing,
            artifact.metrics,
            artifact.rnnkit_version,
            artifact.format,
        )

    def restore(self, artifact: Artifact) -> LoadedForecaster:
        model = self.rebuild_model(Forecaster, artifact)
        pre = ForecastPreprocessor.from_dict(artifact.preprocessing)
        config = ForecastConfig.from_dict(artifact.config["task"])
        test_data = artifact.preprocessing.get(TEST_DATA_KEY)
        fallback = artifact.preprocessing.get(FALLBACK_KEY)
        return LoadedForecaster(model, pre, artifact.preprocessing, config, test_data, fallback)

    def evaluate(
        self,
        loaded: LoadedForecaster,
        data: Any = None,
        *,
        part: Literal["test", "all"] = "test",
        stride: int = 1,
        new_series: str | None = None,
    ) -> dict[str, Any]:
        from rnnkit.core.checks import check_choice
        from rnnkit.eval.backtest import backtest

        if part not in ("test", "all"):
            raise ValueError(f"part must be 'test' or 'all', got {part!r}")
        if new_series is not None:
            check_choice("new_series", new_series, ("refuse", "history"))
        # None: the recorded file or dataset (checked unchanged), split at the stored point.
        source = stored_source(loaded.test_data) if data is None else data
        table = _read_for(loaded, source)
        split = loaded.split
        if part == "all":
            first = _plain(table.frame[table.time_column].min())
            split = TimeSplit.from_dict(
                {"val_start": first, "test_start": first}, loaded.preprocessor.frequency
            )
        table, pre, unseen = _series_to_score(
            table, loaded.preprocessor, split, loaded.config.on_bad_rows,
            new_series or loaded.config.new_series, part,
        )
        pre = _with_static(loaded, pre, source)
        season = _season_of(loaded)
        scales = _scales_with_new(loaded, table, split, pre, season)
        result = backtest(
            loaded.model,
            pre,
            table,
            split,
            part="test",
            season=season,
            stride=stride,
            scales=scales,
            calibration=loaded.calibration,
        )
        metrics = {
            **result.metrics,
            "per_target": result.per_target,
            "windows": len(result.forecasts.windows),
            "season_length": season,
            # what predict uses: the network, or the baseline shipped in its place
            "shipped": "model" if loaded.fallback is None else loaded.fallback["method"],
        }
        if unseen:
            metrics["by_group"] = _by_group(result, scales, loaded, pre, unseen)
        return metrics

    def format_evaluation(self, metrics: dict[str, Any]) -> str:
        """The metrics as JSON, then (series absent from training scored) MASE by group."""
        text = super().format_evaluation(metrics)
        groups = metrics.get("by_group")
        if not groups:
            return text
        methods = ["model", *BASELINES]
        lines = ["", "MASE by group (seen: series in training; unseen: forecast from their own "
                 "history)",
                 "| group | series | windows | " + " | ".join(methods) + " |",
                 "|---" * (3 + len(methods)) + "|"]
        for name, g in groups.items():
            cells = [f"{g[m]['mase']:.3f}" if m in g else "" for m in methods]
            lines.append(f"| {name} | {len(g['series'])} | {g['windows']} | "
                         + " | ".join(cells) + " |")
        return text + "\n" + "\n".join(lines)

    def predict(
        self,
        loaded: LoadedForecaster,
        data: Any,
        *,
        seed: int = 0,
        future: Any = None,
        new_series: str | None = None,
        quantiles: Any = None,
    ) -> pd.DataFrame:
        from rnnkit.core.checks import check_choice
        from rnnkit.data.future_inputs import read_future

        if new_series is not None:
            check_choice("new_series", new_series, ("refuse", "history"))
        table, pre = _known_series(
            _read_for(loaded, data),
            loaded.preprocessor,
            loaded.config.on_bad_rows,
            new_series or loaded.config.new_series,
        )
        pre = _with_static(loaded, pre, data)
        known = None
        if future is not None and not pre.future_covariates:
            raise ValueError(
                "future gives future-known covariates, but this model was trained without "
                "future_covariates, so it would ignore them; got future="
                f"{future if isinstance(future, (str, os.PathLike)) else type(future).__name__}"
            )
        if pre.future_covariates:
            last = {
                str(sid): table.frame[table.time_column].iloc[rows].iloc[-1]
                for sid, rows in table.series_slices().items()
            }
            known = read_future(
                future,
                columns=pre.future_covariates,
                time_column=pre.time_column,
                series_column=pre.series_column,
                frequency=pre.frequency,
                last_times=last,
                horizon=pre.horizon,
                **loaded.config.file_options(),
            )
        windows = pre.future_windows(table, known)
        h = pre.horizon
        out: dict[str, Any] = {}
        if pre.series_column is not None:
            out[pre.series_column] = np.repeat([windows.series_ids[s] for s in windows.series], h)
        out[pre.time_column] = list(windows.times.reshape(-1))
        out["step"] = np.tile(np.arange(1, h + 1), len(windows))
        if loaded.fallback is not None:  # the shipped baseline forecasts; it has no intervals
            method = loaded.fallback["method"]
            if quantiles is not None:
                raise ValueError(
                    f"quantiles need the network's predictive distribution, but this model "
                    f"ships the {method} baseline in its place (fallback), which has none; got "
                    f"quantiles {quantiles!r}"
                )
            point = pre.future_baselines(table, _season_of(loaded))[method]  # (S, h, C)
            for j, target in enumerate(pre.targets):
                out[target] = point[:, :, j].reshape(-1)
            return pd.DataFrame(out)
        levels = _quantile_levels(quantiles)
        if levels is not None:
            levels = loaded.model.check_levels(levels)
        f = forecast_windows(
            loaded.model, pre, windows, seed=seed, levels=levels, calibration=loaded.calibration
        )
        for j, target in enumerate(pre.targets):
            out[target] = f.point[:, :, j].reshape(-1)
            if levels is not None:
                for k, q in enumerate(f.levels):
                    out[f"{target}_q{q:g}"] = f.quantiles[:, :, j, k].reshape(-1)
            elif f.interval_level is not None:
                out[f"{target}_lower"] = f.quantiles[:, :, j, 0].reshape(-1)
                out[f"{target}_upper"] = f.quantiles[:, :, j, -1].reshape(-1)
        if f.interval_level is not None and levels is None:
            out["interval"] = f.interval_level
        return pd.DataFrame(out)


TASK = ForecastTask()


def _quantile_levels(quantiles: Any) -> list[float] | None:
    """``predict``'s quantiles: None, a list of levels, or text '0.1,0.5,0.9' (the CLI's)."""
    if quantiles is None:
        return None
    if isinstance(quantiles, str):
        try:
            return [float(x) for x in split_names(quantiles)]
        except ValueError:
            raise ValueError(
                f"quantiles must be levels in (0, 1) joined by commas, e.g. '0.1,0.5,0.9', got "
                f"{quantiles!r}"
            ) from None
    if isinstance(quantiles, (int, float)):
        return [float(quantiles)]
    return [float(q) for q in quantiles]


def _reliability(
    model: Forecaster,
    pre: ForecastPreprocessor,
    test: Any,
    calibration: ConformalCalibration | None,
    seed: int,
) -> dict[str, Any]:
    """Nominal vs observed coverage of central intervals on the test windows (uncalibrated),
    with the calibrated interval's observed coverage when there is one."""
    from rnnkit.eval import forecast_metrics as fm

    if model.likelihood == "gaussian":
        levels = [round(0.05 * k, 10) for k in range(1, 20)]  # 0.05 … 0.95
    else:
        levels = list(model.quantiles)
    windows = test.forecasts.windows
    f = forecast_windows(model, pre, windows, seed=seed, levels=levels)
    out: dict[str, Any] = fm.reliability(windows.actual, f.quantiles, f.levels)
    if calibration is not None:
        out["calibrated"] = {
            "nominal": calibration.level,
            "observed": test.metrics["model"]["coverage"],
        }
    return out


def _stat_baselines(
    c: ForecastConfig,
    pre: ForecastPreprocessor,
    table: SeriesTable,
    split: TimeSplit,
    results: dict[str, Any],
    scales: np.ndarray,
) -> StatBaselineResult | None:
    """AutoETS, AutoTheta and AutoARIMA on the validation and test windows of ``results``
    (:mod:`rnnkit.eval.stat_baselines`); None when ``stat_baselines`` is 'off', or 'auto' with
    RNNKIT_LIBRARY_BASELINES=off."""
    if c.stat_baselines == "off" or not library_baselines_enabled():
        return None
    history, train_rows = [], []
    slices = table.series_slices()
    for sid in pre.series_ids:  # scaler order, as the windows' series index
        part = table.frame.iloc[slices[sid]]
        history.append(part[pre.targets].to_numpy(np.float64))
        train_rows.append(split.rows(part[table.time_column].to_numpy())[0])
    windows = {
        part: (w.series, w.origin, w.actual, results[part].forecasts.point)
        for part in ("val", "test")
        if part in results
        for w in [results[part].forecasts.windows]
    }
    return stat_baseline_metrics(
        history=history, train_rows=train_rows, series_ids=pre.series_ids, targets=pre.targets,
        windows=windows, scales=scales, season=c.season_length, horizon=c.horizon,
        max_fits=c.stat_baselines_max_fits,
    )


def _season_of(loaded: LoadedForecaster) -> int:
    """The season length the run scored with (seasonal naive, MASE)."""
    return int(loaded.preprocessing["season_length"])


def auto_batch_size(n_windows: int) -> int:
    """:data:`BATCH_FRACTION` of the training windows within [MIN_BATCH, MAX_BATCH]: 64 for
    1,000 windows and more, 8 for 128 and fewer, so small data gets ~16 updates per epoch."""
    return int(min(MAX_BATCH, max(MIN_BATCH, math.ceil(n_windows * BATCH_FRACTION))))


def apply_update_budget(training: TrainConfig, batches: int, min_updates: int) -> dict[str, Any]:
    """Raise ``training.epochs`` so that the run makes at least ``min_updates`` optimiser updates
    at ``batches`` updates per epoch, and early stopping's patience to a quarter of those epochs
    (so that a noisy validation set of a small series cannot end training after a few dozen
    updates).

    Only values left at the forecasting defaults (:data:`FORECAST_TRAINING_DEFAULTS`) are
    raised: epochs or a patience a user chose are kept, and so is anything already larger;
    ``min_updates`` 0 changes nothing. Returns what was decided, for ``metrics.json``.
    """
    epochs_needed = math.ceil(min_updates / max(batches, 1)) if min_updates else 0
    before = {"epochs": training.epochs, "early_stopping": training.early_stopping}
    if training.epochs == FORECAST_TRAINING_DEFAULTS["epochs"]:
        training.epochs = max(training.epochs, epochs_needed)
    if training.early_stopping == FORECAST_TRAINING_DEFAULTS["early_stopping"] and epochs_needed:
        training.early_stopping = max(training.early_stopping, math.ceil(epochs_needed / 4))
    changed = before != {"epochs": training.epochs, "early_stopping": training.early_stopping}
    return {
        "min_updates": min_updates,
        "updates_per_epoch": batches,
        "epochs": training.epochs,
        "early_stopping": training.early_stopping,
        "raised_from": before if changed else None,
    }


def _panel_split(table: SeriesTable, split: TimeSplit) -> tuple[TimeSplit, list[str]]:
    """The pooled time split, with the panel rule of :class:`TimeSplit`: in a panel of several
    series, a series too short for the split (fewer than 2 rows before the validation period,
    as right-aligned short series are) is used for training only rather than failing the run.
    Returns the split and those series' ids."""
    slices = table.series_slices()
    if len(slices) < 2:
        return split, []
    split = TimeSplit(split.val_start, split.test_start, min_train_rows=2)
    short = []
    for sid, rows in slices.items():
        times = table.frame[table.time_column].iloc[rows].to_numpy()
        plain = TimeSplit(split.val_start, split.test_start).rows(times)[0]
        if split.training_only(plain):
            short.append(str(sid))
    return split, short


def _choose_preprocessing(c: ForecastConfig, table: SeriesTable, split: TimeSplit) -> dict:
    """Fill the options that depend on the data (season length, automatic transform) from the
    training period, in place on the resolved ``c``; returns what was chosen and why."""
    train = {}
    for sid, rows in table.series_slices().items():
        part = table.frame.iloc[rows]
        a, _ = split.rows(part[table.time_column].to_numpy())
        train[sid] = part[c.targets].to_numpy(np.float64)[:a]
    shortest = min(len(v) for v in train.values())
    out: dict[str, Any] = {}
    if c.season_length is None:
        c.season_length, why = season_length_for(table.frequency, shortest)
        out["season_length"] = {"value": c.season_length, "source": "frequency", "why": why}
    else:
        out["season_length"] = {"value": c.season_length, "source": "config or dataset"}
    if c.transform == "auto":
        # Only the signs of later rows are read: a log fit on positive training rows would fail
        # on a zero in the test period.
        values = table.frame[c.targets].to_numpy(np.float64)
        decision = choose_transform(
            train, bool(np.all(values > 0)), c.season_length, bool(np.all(values >= 0))
        )
        c.transform = decision["transform"]
        out["transform"] = {"value": c.transform, "source": "auto", **decision}
        del out["transform"]["transform"]
    else:
        out["transform"] = {"value": c.transform, "source": "config or dataset"}
    out["normalization"] = {"value": c.normalization}
    return out


def _choice_lines(choices: dict[str, Any]) -> list[str]:
    lines = []
    if "season_length" in choices:
        s = choices["season_length"]
        lines.append(f"season length {s['value']}" + (f" ({s['why']})" if "why" in s else ""))
    if "transform" in choices:
        t = choices["transform"]
        lines.append(f"transform {t['value']}" + (f" ({t['reason']})" if "reason" in t else ""))
    if "normalization" in choices:
        lines.append(f"normalization {choices['normalization']['value']}")
    if "input_length" in choices:
        i = choices["input_length"]
        lines.append(f"input length {i['value']} ({i['why']})")
    if "training_only_series" in choices:
        ids = choices["training_only_series"]["value"]
        shown = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
        lines.append(
            f"{len(ids)} series for training only ({shown}): "
            f"{choices['training_only_series']['why']}"
        )
    return lines


def build_model(c: ForecastConfig, pre: ForecastPreprocessor) -> Forecaster:
    """The forecaster a resolved config asks for, sized for ``pre``'s inputs."""
    return Forecaster(
        pre.n_targets,
        pre.horizon,
        n_covariates=pre.n_covariates,
        n_known=pre.n_known,
        n_static=0 if pre.static is None else len(pre.static.numeric),
        static_categories=() if pre.static is None else pre.static.cardinalities,
        cell=c.cell,
        hidden_size=c.hidden_size,
        num_layers=c.num_layers,
        dropout=c.dropout,
        bidirectional=c.bidirectional,
        decoder=c.decoder,
        likelihood=c.likelihood,
        quantiles=interval_quantiles(c.interval),
        n_samples=c.n_samples,
    )


def fit(
    model: Forecaster,
    train_windows: WindowSet,
    val_windows: WindowSet | None,
    training: TrainConfig,
    batch_size: int = 64,
) -> Fitted:
    """Train ``model`` on windows through the runner's :func:`~rnnkit.tasks.pipeline.fit_model`
    and leave it holding the weights of its best epoch, in eval mode (``training`` is not
    changed)."""
    train_loader, val_loader = window_loaders(
        train_windows, val_windows, model.decoder, batch_size, training.seed
    )
    return fit_model(model, train_loader, val_loader, copy.deepcopy(training))


def _read_for(loaded: LoadedForecaster, data: Any) -> SeriesTable:
    pre, p = loaded.preprocessor, loaded.preprocessing
    return read_series(
        data,
        time_column=pre.time_column,
        targets=pre.targets,
        series_column=pre.series_column,
        covariates=[*pre.covariates, *pre.future_covariates],
        missing=p["missing"],
        gaps=p["gaps"],
        missing_advice=(
            f"the model applies its own missing={p['missing']!r} to new data: clean those "
            "values first, or retrain with --missing drop, ffill or interpolate"
        ),
        **loaded.config.file_options(),
    )


def _without(table: SeriesTable, series: list[str]) -> SeriesTable:
    keep = ~table.frame[table.series_column].isin(series)
    return dataclasses.replace(table, frame=table.frame.loc[keep].reset_index(drop=True))


def _with_static(loaded: LoadedForecaster, pre: ForecastPreprocessor, data: Any):
    """``pre`` with the static vectors of ``data``'s series, for a model with static
    covariates (an unseen category gets the unknown embedding, with a warning)."""
    if pre.static is None:
        return pre
    return pre.with_static(
        read_static(
            data,
            series_column=pre.series_column,
            columns=pre.static.columns,
            **loaded.config.file_options(),
        )
    )


def _new_series(
    table: SeriesTable, pre: ForecastPreprocessor, unseen: list[str], on_bad_rows: str
) -> tuple[SeriesTable, ForecastPreprocessor]:
    """``new_series='history'``: the series absent from training are forecast from their own
    history (:meth:`ForecastPreprocessor.adopt`); one with fewer than input_length rows is a
    bad row — refused, or skipped with a warning when ``on_bad_rows`` is 'skip'."""
    rows = {sid: r.stop - r.start for sid, r in table.series_slices().items()}
    short = [sid for sid in unseen if rows[sid] < max(pre.input_length, 2)]
    if short:
        _refuse_or_skip_short(short, rows, len(rows), pre.input_length, on_bad_rows,
                              "rows", "its scaler is fitted on its own history", "forecast")
        table = _without(table, short)
    return table, pre.adopt(table)


def _refuse_or_skip_short(
    short: list[str], rows: dict[str, int], total: int, input_length: int, on_bad_rows: str,
    where: str, why: str, verb: str,
) -> None:
    """New series with too little history (``rows`` per series, counted ``where``): refused,
    or skipped with a warning naming them when ``on_bad_rows`` is 'skip' and others are left
    (the caller then leaves them out of its table)."""
    shown = ", ".join(f"{s!r} ({rows[s]} rows)" for s in short[:5])
    shown += " ..." if len(short) > 5 else ""
    what = (
        f"{len(short)} series the model was not trained on with fewer than input_length="
        f"{input_length} {where}, the fewest a new series needs ({why})"
    )
    if on_bad_rows != "skip" or len(short) == total:
        raise ValueError(
            f"data has {what}: {shown}; give those series more history, or pass "
            f"on_bad_rows='skip' (--on-bad-rows skip) to {verb} the others"
        )
    warnings.warn(f"skipped {what}: {shown}", stacklevel=5)


def _known_series(
    table: SeriesTable,
    pre: ForecastPreprocessor,
    on_bad_rows: str,
    new_series: str = "refuse",
) -> tuple[SeriesTable, ForecastPreprocessor]:
    """``table`` and the preprocessor to forecast it with. A series the model was not trained
    on is, with ``new_series='history'``, forecast from its own history (see
    :func:`_new_series`); with 'refuse' it is left out when ``on_bad_rows`` is 'skip' (a
    warning names it) and refused, naming the option, with 'error'."""
    if table.series_column is None:
        return table, pre
    known = set(pre.series_ids)
    unseen = [s for s in table.series_ids if s not in known]
    if not unseen:
        return table, pre
    if new_series == "history":
        return _new_series(table, pre, unseen, on_bad_rows)
    shown = ", ".join(repr(s) for s in unseen[:5]) + (" ..." if len(unseen) > 5 else "")
    if len(unseen) == len(table.series_ids):
        raise ValueError(
            "data must hold series the model was trained on "
            f"({', '.join(map(repr, sorted(known)))}), "
            f"got only others ({shown})"
        )
    if on_bad_rows != "skip":
        raise ValueError(
            f"data has {len(unseen)} series the model was not trained on ({shown}), which it "
            "cannot forecast (it has no scale for them); remove them, pass "
            "on_bad_rows='skip' (--on-bad-rows skip) to forecast the others, or "
            "new_series='history' (--new-series history) to forecast them from their own history"
        )
    warnings.warn(
        f"skipped {len(unseen)} series the model was not trained on: {shown}", stacklevel=3
    )
    return _without(table, unseen), pre


def _series_to_score(
    table: SeriesTable,
    pre: ForecastPreprocessor,
    split: TimeSplit,
    on_bad_rows: str,
    new_series: str,
    part: str,
) -> tuple[SeriesTable, ForecastPreprocessor, list[str]]:
    """``table``, the preprocessor to backtest it with, and the series absent from training
    that are scored. With ``new_series='history'`` such a series is forecast from its own
    history: its scalers are fitted on its rows before ``split``'s validation period (never on
    the period scored), so it needs at least input_length of them — fewer is a bad row
    (refused, or skipped with a warning under ``on_bad_rows='skip'``). With 'refuse' the
    series are refused or skipped as :func:`_known_series` does."""
    if table.series_column is None:
        return table, pre, []
    known = set(pre.series_ids)
    unseen = [s for s in table.series_ids if s not in known]
    if not unseen or new_series != "history":
        table, pre = _known_series(table, pre, on_bad_rows, "refuse")
        return table, pre, []
    if part == "all":
        raise ValueError(
            f"new_series='history' fits a new series' scalers on its rows before the period "
            f"scored, but part='all' scores every window, leaving none; use part='test', got "
            f"{len(unseen)} series the model was not trained on"
        )
    need = max(pre.input_length, 2)
    history = {}
    for sid, rows in table.series_slices().items():
        if sid in unseen:
            times = table.frame[table.time_column].iloc[rows].to_numpy()
            history[sid] = split.rows(times)[0]
    short = [sid for sid in unseen if history[sid] < need]
    if short:
        _refuse_or_skip_short(short, history, len(table.series_ids), pre.input_length,
                              on_bad_rows, "rows before the validation period",
                              "its scalers are fitted on those rows", "score")
        table = _without(table, short)
        unseen = [s for s in unseen if s not in short]
    return table, pre.adopt(table, split), unseen


def _scales_with_new(
    loaded: LoadedForecaster,
    table: SeriesTable,
    split: TimeSplit,
    pre: ForecastPreprocessor,
    season: int,
) -> np.ndarray:
    """MASE scales (S, C) in ``pre``'s series order: the training run's for its series, and for
    a series forecast from its own history the seasonal-naive MAE of its rows before the
    validation period (:func:`rnnkit.eval.backtest.mase_scales`)."""
    trained = loaded.mase_scale
    if len(pre.series_ids) == len(trained):
        return trained
    from rnnkit.eval.backtest import mase_scales

    scales = mase_scales(table, split, pre, season)
    scales[: len(trained)] = trained  # adopt() puts the new series after the trained ones
    return scales


def _by_group(result: Any, scales: np.ndarray, loaded: LoadedForecaster,
              pre: ForecastPreprocessor, unseen: list[str]) -> dict[str, dict[str, Any]]:
    """The backtest's pooled metrics of the series in training ('seen') and of those forecast
    from their own history ('unseen'), each with its series and number of windows."""
    from rnnkit.eval.backtest import score

    forecasts = result.forecasts
    w = forecasts.windows
    n_trained = len(loaded.preprocessor.series_ids)
    scored = {pre.series_ids[i] for i in np.unique(w.series)}
    groups = {}
    for name, mask in (("seen", w.series < n_trained), ("unseen", w.series >= n_trained)):
        ids = [sid for sid in (pre.series_ids[:n_trained] if name == "seen" else unseen)
               if sid in scored]
        group: dict[str, Any] = {"series": ids, "windows": int(mask.sum())}
        if mask.any():
            part = dataclasses.replace(
                forecasts,
                point=forecasts.point[mask],
                quantiles=forecasts.quantiles[mask],
                windows=w.subset(mask),
            )
            baselines = {k: v[mask] for k, v in result.baselines.items()}
            pooled, _ = score(part, baselines, scales, pre.targets)
            group.update(pooled)
        groups[name] = group
    return groups


def _plain(t: Any) -> Any:
    return pd.Timestamp(t).isoformat() if isinstance(t, (pd.Timestamp, np.datetime64)) else t


# --------------------------------------------------------------------------------------------
# The one-call API (what ``rnnkit train/evaluate/predict --task forecast`` run)
# --------------------------------------------------------------------------------------------


def training_defaults(config: ForecastConfig | None = None) -> dict[str, Any]:
    """Training options that suit ``config`` (see :meth:`ForecastTask.training_defaults`)."""
    return TASK.training_defaults(config)


def default_training(config: ForecastConfig | None = None, **overrides: Any) -> TrainConfig:
    """:class:`TrainConfig` with :func:`training_defaults` for ``config``, then ``overrides``."""
    return TASK.default_training(config, **overrides)


def train(
    config: ForecastConfig,
    run_dir: str | os.PathLike[str],
    *,
    training: TrainConfig | None = None,
    quiet: bool = False,
) -> ForecastResult:
    """Train, backtest and save a forecaster; see the module docstring for what is written."""
    return run_task(TASK, config, run_dir, training=training, quiet=quiet)


def load_forecaster(path: str | os.PathLike[str] | Artifact) -> LoadedForecaster:
    """Rebuild a saved forecaster; it predicts exactly as the one that was saved.

    Raises:
        rnnkit.io.ArtifactError: missing, corrupted, tampered or too new a file.
        ValueError: an artifact of another kind.
    """
    return TASK.load(path)


def evaluate(
    artifact: str | os.PathLike[str] | LoadedForecaster,
    data: str | os.PathLike[str] | pd.DataFrame | None = None,
    *,
    part: Literal["test", "all"] = "test",
    stride: int = 1,
    new_series: Literal["refuse", "history"] | None = None,
) -> dict[str, Any]:
    """Rolling-origin backtest of a saved forecaster beside the baselines.

    Args:
        artifact: a ``model.safetensors`` written by :func:`train` (or a loaded forecaster).
        data: a file, a bundled dataset name, or a DataFrame with the training columns; None:
            the data the model was trained on (its recorded file, refused if it moved or
            changed).
        part: 'test' scores the windows whose targets fall in the training run's test period
            or later (all of them for data that follows the training data); 'all' scores every
            window of ``data``.
        stride: steps between backtest origins.
        new_series: what happens to a series of ``data`` the model was not trained on
            ('refuse' or 'history'; None: the model's ``new_series``). 'history' forecasts it
            from its own history (scalers and MASE scale fitted on its rows before the
            validation period, at least input_length of them) and scores it apart.

    Returns:
        ``{'model': {...}, 'naive': {...}, 'seasonal_naive': {...}, 'drift': {...},
        'per_target': {...}, 'windows': n, 'season_length': m}``; MASE uses the training
        run's scales. When series absent from training are scored, also ``'by_group'``:
        ``{'seen': {...}, 'unseen': {...}}``, each with its ``series``, ``windows`` and the
        pooled metrics of every method over its windows.
    """
    loaded = TASK.loaded(artifact, LoadedForecaster)
    return TASK.evaluate(loaded, data, part=part, stride=stride, new_series=new_series)


def predict(
    artifact: str | os.PathLike[str] | LoadedForecaster,
    data: str | os.PathLike[str] | pd.DataFrame,
    *,
    seed: int = 0,
    future: str | os.PathLike[str] | pd.DataFrame | None = None,
    new_series: Literal["refuse", "history"] | None = None,
    quantiles: Sequence[float] | str | None = None,
) -> pd.DataFrame:
    """Forecast the ``horizon`` steps after the last row of every series in ``data``.

    The last ``input_length`` rows of each series are the model's input (earlier rows are not
    needed). A model with future-known covariates also needs ``future``: a table (file or
    DataFrame) with the time column, the series column and those covariates for the h steps
    after each series' last row (:func:`rnnkit.data.future_inputs.read_future`).
    ``new_series`` ('refuse' or 'history'; None: the model's ``new_series``) says what
    happens to a series the model was not trained on (see :class:`ForecastConfig`).
    ``quantiles`` (e.g. [0.1, 0.5, 0.9]) replaces the interval columns with one column
    ``<target>_q<level>`` per level (a Gaussian model gives any level, a quantile model the
    levels it was trained on); a conformal calibration moves the levels of its interval.

    Returns one row per series and step: the series column (if any), the time column
    (future timestamps on the data's frequency), ``step`` (1 … h), and per target
    ``<target>`` (the median forecast), ``<target>_lower`` and ``<target>_upper`` (the interval
    bounds; absent for a 'point' model), plus ``interval`` (their nominal coverage).
    """
    return TASK.predict(
        TASK.loaded(artifact, LoadedForecaster), data, seed=seed, future=future,
        new_series=new_series, quantiles=quantiles,
    )
