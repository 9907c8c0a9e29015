"""Forecasting as one call each: ``train``, ``evaluate``, ``predict``.

``train(config, run_dir)`` reads the data (a CSV/Parquet file or a bundled dataset), checks it,
splits it by time (train / validation / test), fits the scalers on the training period only,
trains a :class:`~rnnkit.models.forecaster.Forecaster` with :class:`rnnkit.train.Trainer`
(early stopping on the validation loss, best weights kept), backtests it with rolling origins on
the validation and test periods beside the naive, seasonal-naive and drift baselines, and writes
into ``run_dir``:

* ``model.safetensors`` — the artifact (``kind='forecaster'``: model constructor arguments,
  weights, and the preprocessing state: scalers, column names, calendar features, split points);
* ``metrics.json`` — validation and test metrics of the model and the baselines, the data report;
* ``forecast_test.png`` — forecast vs actual with prediction intervals on the test period;
* what the trainer writes (history, learning curves, best/last checkpoints).

``evaluate(artifact, data)`` backtests a saved model on new data (or its own test period);
``predict(artifact, data)`` forecasts the horizon after the last row of each series, with
intervals. Bad input raises ``ValueError`` with one paragraph naming the argument, what was
expected and what was received.
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from rnnkit.config import choice_problems, int_problems
from rnnkit.data.calendar import CALENDAR_FEATURES, resolve_calendar
from rnnkit.data.forecast_inputs import ForecastPreprocessor, WindowLoader, WindowSet
from rnnkit.data.registry import list_datasets, load_dataset
from rnnkit.data.scaling import NORMALIZATIONS, TRANSFORMS
from rnnkit.data.series_datasets import FORECAST_DEFAULTS
from rnnkit.data.timeseries import (
    GAP_POLICIES,
    MISSING_POLICIES,
    QualityReport,
    SeriesTable,
    load_series_table,
    suggest,
)
from rnnkit.data.windows import TimeSplit, time_split
from rnnkit.eval.backtest import (
    BacktestResult,
    backtest,
    forecast_windows,
    mase_scales,
    metrics_table,
)
from rnnkit.io.artifact import Artifact, atomic_write_bytes, load_artifact, save_artifact
from rnnkit.models.forecaster import (
    CELLS,
    DECODERS,
    LIKELIHOODS,
    Forecaster,
    interval_quantiles,
)
from rnnkit.train import TrainConfig, Trainer, seed_everything
from rnnkit.train.callbacks import BestWeights, default_callbacks

ARTIFACT_KIND = "forecaster"

#: Training options that suit forecasting (a :class:`TrainConfig` built by
#: :func:`default_training`): small windows train fast, so many epochs with early stopping.
FORECAST_TRAINING_DEFAULTS: dict[str, Any] = {
    "epochs": 60,
    "lr": 3e-3,
    "clip_norm": 1.0,
    "early_stopping": 10,
    "monitor": "val_loss",
}


def training_defaults(config: ForecastConfig | None = None) -> dict[str, Any]:
    """Training options that suit ``config`` (:data:`FORECAST_TRAINING_DEFAULTS`, and for the
    autoregressive decoder model selection by ``val_mae_scaled``: its validation loss scores
    mean-fed steps whose spreads are one-step spreads, so it rises as the fit improves)."""
    out = dict(FORECAST_TRAINING_DEFAULTS)
    if config is not None and config.decoder == "autoregressive":
        out["monitor"] = "val_mae_scaled"
    return out


def default_training(config: ForecastConfig | None = None, **overrides: Any) -> TrainConfig:
    """:class:`TrainConfig` with :func:`training_defaults` for ``config``, then ``overrides``."""
    return TrainConfig(**{**training_defaults(config), **overrides})


@dataclass
class ForecastConfig:
    """Options of a forecasting run (training options live in :class:`rnnkit.train.TrainConfig`).

    Options left at None (or 'auto') take the bundled dataset's defaults, else generic ones.

    data: a CSV/Parquet file, or a bundled dataset name (``rnnkit datasets``), e.g.
        'seattle-weather', 'stocks', 'sunspots', 'co2'.
    time_column: the time column (dates or numbers); required for a file.
    targets: the columns to forecast (one or more); required for a file.
    series_column: the column that tells series apart (several series trained as one global
        model); None for a single series.
    covariates: past covariates, numeric columns observed up to the forecast origin (direct
        decoder only); None: the dataset's, or none.
    calendar: known-future calendar features from the time column: 'auto', 'none', or names
        joined by commas from hour, dayofweek, dayofyear, month.
    missing: NaN/Inf in targets or covariates: 'error', 'drop', 'ffill' or 'interpolate'
        (None: the dataset's, or 'error').
    gaps: missing time steps: 'keep' (rows stay consecutive, gaps are reported) or 'fill'
        (insert them, linearly interpolated).
    input_length: observed steps per window, T (None: the dataset's, or max(24, 4·horizon)).
    horizon: steps forecast per window, h (None: the dataset's, or 1).
    season_length: period m of the seasonal-naive baseline and of MASE's scale (None: the
        dataset's, or 1).
    val_fraction, test_fraction: shares of the distinct timestamps, at the end of the data,
        for validation and test.
    stride: steps between training windows (None: the dataset's, or 1).
    normalization: 'window' (relative to each window's last value) or 'series' (per-series
        mean and standard deviation); None: the dataset's, or 'window'.
    transform: 'none' or 'log' (positive targets, multiplicative changes); None: the
        dataset's, or 'none'.
    decoder: 'direct' (whole horizon at once) or 'autoregressive' (one step at a time, fed
        back).
    likelihood: 'gaussian' (mean and spread), 'quantile' (pinball loss) or 'point' (squared
        error, no intervals).
    interval: coverage of the prediction interval, e.g. 0.8 for the 10%–90% quantiles.
    cell: recurrent cell, 'lstm', 'gru' or 'rnn'.
    hidden_size: hidden units per layer.
    num_layers: stacked recurrent layers.
    dropout: dropout between layers and before the head.
    bidirectional: two-direction encoder (direct decoder only).
    n_samples: Monte Carlo paths for autoregressive Gaussian intervals.
    batch_size: windows per training batch.
    backtest_stride: steps between backtest origins (1: every origin).
    """

    data: str = "seattle-weather"
    time_column: str | None = None
    targets: list[str] = field(default_factory=list)
    series_column: str | None = None
    covariates: list[str] | None = None
    calendar: str = "auto"
    missing: Literal["error", "drop", "ffill", "interpolate"] | None = None
    gaps: Literal["keep", "fill"] = "keep"
    input_length: int | None = None
    horizon: int | None = None
    season_length: int | None = None
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    stride: int | None = None
    normalization: Literal["window", "series"] | None = None
    transform: Literal["none", "log"] | None = None
    decoder: Literal["direct", "autoregressive"] = "direct"
    likelihood: Literal["gaussian", "quantile", "point"] = "gaussian"
    interval: float = 0.8
    cell: Literal["lstm", "gru", "rnn"] = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    bidirectional: bool = False
    n_samples: int = 200
    batch_size: int = 64
    backtest_stride: int = 1

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError(
                "ForecastConfig: " + (problems[0] if len(problems) == 1 else "; ".join(problems))
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ForecastConfig:
        known = {f.name for f in fields(cls)}
        unknown = [k for k in values if k not in known]
        if unknown:
            raise ValueError(
                "ForecastConfig: unknown option(s) "
                + ", ".join(f"{k!r}{suggest(k, sorted(known))}" for k in unknown)
            )
        return cls(**values)


def _problems(c: ForecastConfig) -> list[str]:
    out = choice_problems(
        c,
        (
            ("missing", (None, *MISSING_POLICIES)),
            ("gaps", GAP_POLICIES),
            ("normalization", (None, *NORMALIZATIONS)),
            ("transform", (None, *TRANSFORMS)),
            ("decoder", DECODERS),
            ("likelihood", LIKELIHOODS),
            ("cell", tuple(CELLS)),
        ),
    )
    out += int_problems(
        c,
        (
            ("input_length", 1, True),
            ("horizon", 1, True),
            ("season_length", 1, True),
            ("stride", 1, True),
            ("hidden_size", 1, False),
            ("num_layers", 1, False),
            ("n_samples", 0, False),
            ("batch_size", 1, False),
            ("backtest_stride", 1, False),
        ),
    )
    for name, lo, hi in (("val_fraction", 0.0, 1.0), ("test_fraction", 0.0, 1.0)):
        v = getattr(c, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v < hi:
            out.append(f"{name} must be a number in [{lo}, {hi}), got {v!r}")
    if isinstance(c.test_fraction, (int, float)) and c.test_fraction <= 0:
        out.append(
            f"test_fraction must be > 0 (the backtest needs a test period), got {c.test_fraction!r}"
        )
    if not isinstance(c.interval, (int, float)) or not 0.0 < c.interval < 1.0:
        out.append(f"interval must be a number in (0, 1), got {c.interval!r}")
    if not isinstance(c.dropout, (int, float)) or not 0.0 <= c.dropout < 1.0:
        out.append(f"dropout must be a number in [0, 1), got {c.dropout!r}")
    if not isinstance(c.targets, (list, tuple)) or not all(isinstance(t, str) for t in c.targets):
        out.append(f"targets must be a list of column names, got {c.targets!r}")
    if c.covariates is not None and not isinstance(c.covariates, (list, tuple)):
        out.append(f"covariates must be a list of column names or None, got {c.covariates!r}")
    if isinstance(c.calendar, str) and c.calendar not in ("auto", "none"):
        for name in _split_names(c.calendar):
            if name not in CALENDAR_FEATURES:
                out.append(
                    f"calendar must be 'auto', 'none' or names from {list(CALENDAR_FEATURES)}, "
                    f"got {name!r}{suggest(name, CALENDAR_FEATURES)}"
                )
    elif not isinstance(c.calendar, str):
        out.append(f"calendar must be a string ('auto', 'none' or names), got {c.calendar!r}")
    return out


def _split_names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


# --------------------------------------------------------------------------------------------
# Resolving defaults and reading data
# --------------------------------------------------------------------------------------------


def is_dataset_name(data: object) -> bool:
    """Whether ``data`` names a bundled forecasting dataset (rather than a file)."""
    return isinstance(data, str) and data in FORECAST_DEFAULTS


def resolve(config: ForecastConfig) -> ForecastConfig:
    """A copy with every None / 'auto' option filled from the dataset's or generic defaults.

    Raises:
        ValueError: a file without ``time_column`` or ``targets``, or a name that is neither a
            file nor a bundled dataset.
    """
    c = copy.deepcopy(config)
    data = str(c.data)
    if is_dataset_name(data):
        d = FORECAST_DEFAULTS[data]
    else:
        if not os.path.exists(data):
            names = [i.name for i in list_datasets("forecast")]
            hint = suggest(data, names)
            raise ValueError(
                f"data must be an existing CSV/Parquet file or a bundled forecasting dataset "
                f"({', '.join(names)}), got {data!r}{hint or ' (no such file)'}"
            )
        d = {}
        if c.time_column is None:
            raise ValueError(
                f"time_column must name the time column of {data!r} (dates or numbers), got None"
            )
        if not c.targets:
            raise ValueError(f"targets must name at least one column of {data!r}, got none")
    c.time_column = c.time_column or d["time_column"]
    c.targets = list(c.targets or d["targets"])
    c.series_column = c.series_column or d.get("series_column")
    if c.covariates is None:  # the dataset's covariates, less any column chosen as a target
        c.covariates = [x for x in d.get("covariates", []) if x not in c.targets]
    if c.calendar == "auto" and "calendar" in d:
        c.calendar = ",".join(d["calendar"]) or "none"
    c.missing = c.missing or d.get("missing", "error")
    c.horizon = c.horizon or d.get("horizon", 1)
    c.input_length = c.input_length or d.get("input_length", max(24, 4 * c.horizon))
    c.season_length = c.season_length or d.get("season_length", 1)
    c.stride = c.stride or d.get("stride", 1)
    c.normalization = c.normalization or d.get("normalization", "window")
    c.transform = c.transform or d.get("transform", "none")
    return c


def read_data(
    data: str | os.PathLike[str] | pd.DataFrame,
    *,
    time_column: str,
    targets: list[str],
    series_column: str | None,
    covariates: list[str],
    missing: str,
    gaps: str,
) -> SeriesTable:
    """A checked table from a bundled dataset name, a file, or a DataFrame."""
    source = load_dataset(data) if isinstance(data, str) and is_dataset_name(data) else data
    return load_series_table(
        source,
        time_column=time_column,
        targets=targets,
        series_column=series_column,
        covariates=covariates,
        missing=missing,
        gaps=gaps,
    )


def _check_enough_rows(
    table: SeriesTable, split: TimeSplit, c: ForecastConfig, counts: dict[str, int]
) -> None:
    """Refuse configurations that leave a split without windows, saying what is needed."""
    T, h = c.input_length, c.horizon
    longest = {"train": 0, "val": 0, "test": 0}
    for rows in table.series_slices().values():
        times = table.frame[table.time_column].iloc[rows].to_numpy()
        a, b = split.rows(times)
        longest["train"] = max(longest["train"], a)
        longest["val"] = max(longest["val"], b - a)
        longest["test"] = max(longest["test"], len(times) - b)
    need = {"train": T + h, "val": h, "test": h}
    for part in ("train", "val", "test"):
        if part == "val" and c.val_fraction == 0:
            continue
        if counts[part] == 0:
            raise ValueError(
                f"data has too few rows for the windows: input_length={T} and horizon={h} need "
                f"at least {need[part]} rows in the {part} period of a series (and {T} rows "
                f"before it), but the longest {part} period has {longest[part]} rows "
                f"({len(table.frame)} rows in all, val_fraction={c.val_fraction}, "
                f"test_fraction={c.test_fraction}); lower input_length or horizon, change the "
                f"fractions, or provide more rows"
            )


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


@dataclass
class ForecastResult:
    """What :func:`train` produced.

    Attributes:
        run_dir: the run directory.
        artifact_path: ``run_dir / 'model.safetensors'``.
        metrics: the content of ``metrics.json`` (``metrics['test']['model']['mase']``...).
        plots: PNG files written by the task (the trainer adds learning curves).
        report: data checks (frequency, gaps, missing values).
        config: the resolved configuration.
        training: the training configuration used.
    """

    run_dir: Path
    artifact_path: Path
    metrics: dict[str, Any]
    plots: list[Path]
    report: QualityReport
    config: ForecastConfig
    training: TrainConfig

    def table(self, part: str = "test") -> str:
        """Markdown table of ``part`` ('val' or 'test'): the model beside the baselines."""
        return metrics_table(self.metrics[part])

    def summary(self) -> str:
        """A short Markdown account: data, windows, training, test table."""
        m = self.metrics
        c = self.config
        lines = [
            f"Forecasting {', '.join(c.targets)} of {c.data!r}: horizon {c.horizon}, input "
            f"{c.input_length} steps, {c.cell.upper()} {c.num_layers}×{c.hidden_size}, "
            f"{c.decoder} decoder, {c.likelihood} likelihood.",
            "",
            "Data: " + "; ".join(self.report.lines()) + ".",
            "",
            f"Windows: {m['windows']['train']} train, {m['windows']['val']} validation, "
            f"{m['windows']['test']} test (rolling origins, stride {c.backtest_stride}). "
            f"Training: {m['training']['epochs']} epochs, best epoch {m['training']['best_epoch']}"
            f", {m['training']['seconds']:.0f} s.",
            "",
            f"Test backtest (MASE scaled by the in-sample seasonal naive, m = {c.season_length}; "
            f"interval {c.interval:.0%}):",
            "",
            self.table("test"),
        ]
        return "\n".join(lines)


def build_model(c: ForecastConfig, pre: ForecastPreprocessor) -> Forecaster:
    """The forecaster a resolved config asks for, sized for ``pre``'s inputs."""
    return Forecaster(
        pre.n_targets,
        pre.horizon,
        n_covariates=pre.n_covariates,
        n_known=pre.n_known,
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
) -> tuple[Trainer, BestWeights]:
    """Train ``model`` with :class:`rnnkit.train.Trainer` and leave it holding the weights of
    its best epoch (lowest ``training.monitor``), in eval mode.

    Autoregressive models are trained with teacher forcing (the loss covers every one-step
    prediction); validation always scores the free-running forecast of the horizon. Without
    validation windows the monitor falls back to the training loss.
    """
    teacher = model.decoder == "autoregressive"
    train_loader = WindowLoader(
        train_windows,
        teacher_forcing=teacher,
        batch_size=batch_size,
        shuffle=True,
        seed=training.seed,
    )
    val_loader = None
    if val_windows is not None and len(val_windows):
        val_loader = WindowLoader(val_windows, batch_size=512, shuffle=False)
    if val_loader is None and training.monitor.startswith("val_"):
        training = copy.deepcopy(training)
        training.monitor = "train_loss"
        if training.early_stopping is not None or training.plateau_patience is not None:
            training.early_stopping = training.plateau_patience = None
    best = BestWeights(training.monitor, training.monitor_mode)
    trainer = Trainer(model, training, callbacks=[*default_callbacks(training), best])
    trainer.fit(train_loader, val_loader)
    if best.weights is not None:
        model.load_state_dict(best.weights)
    model.eval()
    return trainer, best


def train(
    config: ForecastConfig,
    run_dir: str | os.PathLike[str],
    *,
    training: TrainConfig | None = None,
    quiet: bool = False,
) -> ForecastResult:
    """Train, backtest and save a forecaster; see the module docstring for what is written.

    Args:
        config: the forecasting options (None / 'auto' options are resolved first).
        run_dir: an existing folder for the run's files.
        training: trainer options (default :func:`default_training` for ``config``); its
            ``out_dir`` defaults to ``run_dir`` and ``quiet`` is or-ed with ``quiet``.
        quiet: no progress bar and no printed lines.

    Raises:
        ValueError: bad data or options (the message says which and why).
    """
    started = time.perf_counter()
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"run_dir must be an existing folder, got {str(run_dir)!r}")
    c = resolve(config)
    training = copy.deepcopy(training) if training is not None else default_training(config)
    training.quiet = training.quiet or quiet
    if training.out_dir is None:
        training.out_dir = str(run_dir)

    def say(text: str) -> None:
        if not training.quiet:
            print(text, flush=True)

    table = read_data(
        c.data,
        time_column=c.time_column,
        targets=c.targets,
        series_column=c.series_column,
        covariates=c.covariates,
        missing=c.missing,
        gaps=c.gaps,
    )
    for line in table.report.lines():
        say(f"data: {line}")
    split = time_split(table.frame[table.time_column].to_numpy(), c.val_fraction, c.test_fraction)
    calendar = resolve_calendar(
        _split_names(c.calendar) if c.calendar not in ("auto", "none") else c.calendar,
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
    ).fit(table, split)
    windows = {
        "train": pre.windows(table, split, "train", stride=c.stride),
        "val": pre.windows(table, split, "val"),
        "test": pre.windows(table, split, "test", stride=c.backtest_stride),
    }
    counts = {k: len(w) for k, w in windows.items()}
    _check_enough_rows(table, split, c, counts)
    say(f"windows: {counts['train']} train, {counts['val']} validation, {counts['test']} test")

    seed_everything(training.seed)
    model = build_model(c, pre)
    trainer, best = fit(model, windows["train"], windows["val"], training, c.batch_size)

    season = c.season_length
    results: dict[str, BacktestResult] = {}
    for part in ("val", "test"):
        if counts[part]:
            results[part] = backtest(
                model,
                pre,
                table,
                split,
                part=part,
                season=season,
                stride=1 if part == "val" else c.backtest_stride,
                seed=training.seed,
            )
    test = results["test"]
    scales = mase_scales(table, split, pre, season)
    metrics = {
        "data": c.data,
        "targets": c.targets,
        "horizon": c.horizon,
        "input_length": c.input_length,
        "season_length": season,
        "interval": c.interval,
        "windows": counts,
        "val": results["val"].metrics if "val" in results else {},
        "test": test.metrics,
        "test_per_target": test.per_target,
        "split": split.to_dict(),
        "data_report": table.report.to_dict(),
        "training": {
            "epochs": len(trainer.history.epochs),
            "best_epoch": best.epoch,
            "monitor": trainer.config.monitor,
            "best_value": best.best,
            "seconds": time.perf_counter() - started,
        },
    }
    artifact_path = save_forecaster(
        run_dir / "model.safetensors", model, pre, c, split, scales, metrics
    )
    atomic_write_bytes(
        run_dir / "metrics.json", (json.dumps(metrics, indent=2, default=_json) + "\n").encode()
    )
    plots = []
    try:
        from rnnkit.eval.plots import plot_forecasts

        plots.append(
            plot_forecasts(
                test.forecasts,
                run_dir / "forecast_test.png",
                targets=c.targets,
                title=f"{c.data} test backtest",
            )
        )
    except ValueError as err:  # matplotlib missing: the run is still complete without a plot
        say(f"plot skipped: {err}")
    return ForecastResult(run_dir, artifact_path, metrics, plots, table.report, c, training)


def _json(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


# --------------------------------------------------------------------------------------------
# Artifacts
# --------------------------------------------------------------------------------------------


def save_forecaster(
    path: str | os.PathLike[str],
    model: Forecaster,
    pre: ForecastPreprocessor,
    config: ForecastConfig,
    split: TimeSplit,
    mase_scale: np.ndarray,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write the model and everything needed to reuse it as one artifact."""
    preprocessing = {
        **pre.to_dict(),
        "missing": config.missing,
        "gaps": config.gaps,
        "season_length": config.season_length,
        "mase_scale": np.where(np.isfinite(mase_scale), mase_scale, -1.0).tolist(),
        "split": split.to_dict(),
        "task": config.to_dict(),
    }
    summary = {k: metrics[k] for k in ("val", "test", "windows")} if metrics else {}
    artifact = Artifact(
        kind=ARTIFACT_KIND,
        config=model.config(),
        tensors=dict(model.state_dict()),
        preprocessing=json.loads(json.dumps(preprocessing, default=_json)),
        metrics=json.loads(json.dumps(summary, default=_json)),
    )
    return save_artifact(path, artifact)


@dataclass
class LoadedForecaster:
    """A forecaster rebuilt from an artifact, with its preprocessing."""

    model: Forecaster
    preprocessor: ForecastPreprocessor
    preprocessing: dict[str, Any]
    config: ForecastConfig

    @property
    def split(self) -> TimeSplit:
        return TimeSplit.from_dict(self.preprocessing["split"], self.preprocessor.frequency)

    @property
    def mase_scale(self) -> np.ndarray:
        s = np.asarray(self.preprocessing["mase_scale"], dtype=np.float64)
        return np.where(s > 0, s, np.nan)


def load_forecaster(path: str | os.PathLike[str]) -> LoadedForecaster:
    """Rebuild a saved forecaster; it predicts exactly as the one that was saved.

    Raises:
        rnnkit.io.ArtifactError: missing, corrupted, tampered or too new a file.
        ValueError: an artifact of another kind.
    """
    artifact = load_artifact(path)
    if artifact.kind != ARTIFACT_KIND:
        raise ValueError(
            f"artifact must be a forecaster (kind {ARTIFACT_KIND!r}), got kind "
            f"{artifact.kind!r} in {str(path)!r}"
        )
    model = Forecaster(**artifact.config)
    model.load_state_dict(artifact.tensors)
    model.eval()
    pre = ForecastPreprocessor.from_dict(artifact.preprocessing)
    config = ForecastConfig.from_dict(artifact.preprocessing["task"])
    return LoadedForecaster(model, pre, artifact.preprocessing, config)


def _read_for(loaded: LoadedForecaster, data: Any) -> SeriesTable:
    pre, p = loaded.preprocessor, loaded.preprocessing
    return read_data(
        data,
        time_column=pre.time_column,
        targets=pre.targets,
        series_column=pre.series_column,
        covariates=pre.covariates,
        missing=p["missing"],
        gaps=p["gaps"],
    )


# --------------------------------------------------------------------------------------------
# Evaluate and predict
# --------------------------------------------------------------------------------------------


def evaluate(
    artifact_path: str | os.PathLike[str],
    data: str | os.PathLike[str] | pd.DataFrame | None = None,
    *,
    part: Literal["test", "all"] = "test",
    stride: int = 1,
) -> dict[str, Any]:
    """Rolling-origin backtest of a saved forecaster beside the baselines.

    Args:
        artifact_path: a ``model.safetensors`` written by :func:`train`.
        data: a file, a bundled dataset name, or a DataFrame with the training columns; None:
            the data the model was trained on.
        part: 'test' scores the windows whose targets fall in the training run's test period
            or later (all of them for data that follows the training data); 'all' scores every
            window of ``data``.
        stride: steps between backtest origins.

    Returns:
        ``{'model': {...}, 'naive': {...}, 'seasonal_naive': {...}, 'drift': {...},
        'per_target': {...}, 'windows': n, 'season_length': m}``; MASE uses the training
        run's scales.
    """
    if part not in ("test", "all"):
        raise ValueError(f"part must be 'test' or 'all', got {part!r}")
    loaded = load_forecaster(artifact_path)
    table = _read_for(loaded, loaded.config.data if data is None else data)
    pre = loaded.preprocessor
    split = loaded.split
    if part == "all":
        first = table.frame[table.time_column].min()
        split = TimeSplit.from_dict(
            {"val_start": _plain(first), "test_start": _plain(first)}, pre.frequency
        )
    season = int(loaded.preprocessing["season_length"])
    result = backtest(
        loaded.model,
        pre,
        table,
        split,
        part="test",
        season=season,
        stride=stride,
        scales=loaded.mase_scale,
    )
    return {
        **result.metrics,
        "per_target": result.per_target,
        "windows": len(result.forecasts.windows),
        "season_length": season,
    }


def _plain(t: Any) -> Any:
    return pd.Timestamp(t).isoformat() if isinstance(t, (pd.Timestamp, np.datetime64)) else t


def predict(
    artifact_path: str | os.PathLike[str],
    data: str | os.PathLike[str] | pd.DataFrame,
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """Forecast the ``horizon`` steps after the last row of every series in ``data``.

    The last ``input_length`` rows of each series are the model's input (earlier rows are not
    needed). Returns one row per series and step: the series column (if any), the time column
    (future timestamps on the data's frequency), ``step`` (1 … h), and per target
    ``<target>`` (the median forecast), ``<target>_lower`` and ``<target>_upper`` (the interval
    bounds; absent for a 'point' model), plus ``interval`` (their nominal coverage).
    """
    loaded = load_forecaster(artifact_path)
    pre = loaded.preprocessor
    table = _read_for(loaded, data)
    windows = pre.future_windows(table)
    f = forecast_windows(loaded.model, pre, windows, seed=seed)
    h = pre.horizon
    out: dict[str, Any] = {}
    if pre.series_column is not None:
        out[pre.series_column] = np.repeat([windows.series_ids[s] for s in windows.series], h)
    out[pre.time_column] = list(windows.times.reshape(-1))
    out["step"] = np.tile(np.arange(1, h + 1), len(windows))
    for j, target in enumerate(pre.targets):
        out[target] = f.point[:, :, j].reshape(-1)
        if f.interval_level is not None:
            out[f"{target}_lower"] = f.quantiles[:, :, j, 0].reshape(-1)
            out[f"{target}_upper"] = f.quantiles[:, :, j, -1].reshape(-1)
    if f.interval_level is not None:
        out["interval"] = f.interval_level
    return pd.DataFrame(out)
