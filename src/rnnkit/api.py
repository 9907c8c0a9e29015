"""One call per thing the ``rnnkit`` command does: :func:`train`, :func:`evaluate`,
:func:`predict`, :func:`load`.

Each task (forecast, classify, tag) is a :class:`~rnnkit.tasks.pipeline.Task` in the registry
(:mod:`rnnkit.tasks.registry`); this module only resolves configuration (TOML file + keyword
options), makes the run directory, runs the task through the one runner, and writes what every
run has (``config.toml``, ``summary.md``). Loading reads and verifies an artifact once, and its
kind picks the task.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.config import (
    ConfigError,
    collect_options,
    join_problems,
    options_of,
    read_toml,
    to_toml,
)
from rnnkit.io.artifact import ArtifactError, load_artifact, read_kind
from rnnkit.runs import make_run_dir, write_summary, write_text

if TYPE_CHECKING:
    from rnnkit.tasks.pipeline import Task, TaskResult


#: Training options that the run directory decides, so they are not user options.
RUN_MANAGED = ("out_dir",)


def tasks() -> dict[str, Task]:
    """Every task by name (imported on first use: the task modules import pandas)."""
    from rnnkit.tasks.registry import TASKS

    return TASKS


def get_task(name: str) -> Task:
    """The task called ``name`` (ValueError listing the tasks if there is none)."""
    from rnnkit.tasks.registry import get_task as lookup

    return lookup(name)


def task_option_classes(task: Task) -> list[type]:
    """The dataclasses whose fields are the options of ``task``: its config, then training."""
    from rnnkit.train import TrainConfig

    return [task.config_class, TrainConfig]


def training_options(task: Task) -> dict[str, Any]:
    """Option name -> Option for the training options a user may set for ``task``."""
    from rnnkit.train import TrainConfig

    return {k: v for k, v in options_of([TrainConfig]).items() if k not in RUN_MANAGED}


def build_task_configs(
    task: Task, file_values: dict[str, Any] | None = None, options: dict[str, Any] | None = None
) -> tuple[Any, Any]:
    """The task config and the training config from file values and options (options win).

    Training options not given take the task's (and its dataset's) defaults. Every problem is
    reported at once in a :class:`ConfigError`.
    """
    from rnnkit.train import TrainConfig

    file_values = {k: v for k, v in (file_values or {}).items() if k != "task"}
    for key in RUN_MANAGED:
        for source in (file_values, options or {}):
            if key in source:
                raise ConfigError(f"option {key!r} is set by the run directory, not by the user")
    values = collect_options([task.config_class, TrainConfig], file_values, options)
    problems = []
    config = training = None
    try:
        config = task.config_class(**values[task.config_class])
    except (ValueError, TypeError) as err:
        problems.append(str(err))
    try:  # the task's training defaults may depend on its config (e.g. its dataset)
        training = task.default_training(config, **values[TrainConfig])
    except (ValueError, TypeError) as err:
        problems.append(str(err))
    if problems:
        raise ConfigError(join_problems(problems))
    return config, training


def _prefix(task: Task, config: Any) -> str:
    data = str(getattr(config, "data", "") or "")
    stem = Path(data).stem if data else ""
    return "-".join(p for p in (task.name, stem) if p)


def _write_config(run_dir: Path, task: Task, config: Any, training: Any) -> None:
    train_values = {k: v for k, v in asdict(training).items() if k not in RUN_MANAGED}
    text = (
        f"# rnnkit run configuration; rerun with: rnnkit train --config {run_dir / 'config.toml'}\n"
        f'task = "{task.name}"\n\n[{task.name}]\n'
        + to_toml(asdict(config))
        + "\n[training]\n"
        + to_toml(train_values)
    )
    write_text(run_dir / "config.toml", text)


@dataclass
class TrainOutcome:
    """What :func:`train` returns: the run directory, the task's result and the summary text."""

    run_dir: Path
    result: TaskResult
    summary: str

    @property
    def artifact_path(self) -> Path:
        return self.result.artifact_path

    @property
    def metrics(self) -> dict[str, Any]:
        return self.result.metrics


def train(
    task: str | None = None,
    config: str | os.PathLike[str] | None = None,
    *,
    runs_root: str | os.PathLike[str] = "runs",
    name: str | None = None,
    **options: Any,
) -> TrainOutcome:
    """Train a model for ``task`` and write a run directory; returns its :class:`TrainOutcome`.

    Args:
        task: 'forecast', 'classify' or 'tag' (None: the config file's ``task``, else
            'forecast').
        config: a TOML file of options (sections only group them); ``options`` override it.
        runs_root: the folder that holds run directories.
        name: the run directory's name (None: ``<task>-<data>-<timestamp>``).
        **options: task and training options, e.g. ``data='sunspots', hidden_size=32,
            epochs=5, quiet=True`` (strings are converted as on the command line).

    Example:
        >>> outcome = rnnkit.train("forecast", data="sunspots", epochs=5, quiet=True)
        >>> outcome.metrics["test"]["model"]["mase"]
    """
    file_values = read_toml(config) if config is not None else {}
    task_name = task or file_values.get("task") or "forecast"
    spec = get_task(task_name)
    cfg, training = build_task_configs(spec, file_values, options)
    run_dir = make_run_dir(runs_root, name, _prefix(spec, cfg))
    _write_config(run_dir, spec, cfg, training)  # as given; rewritten resolved at the end
    from rnnkit.tasks.pipeline import run

    result = run(spec, cfg, run_dir, training=training)
    _write_config(run_dir, spec, result.config, result.training)
    sections = {"Result": result.summary(), "Files": _files_list(run_dir)}
    summary = write_summary(run_dir, f"rnnkit {spec.name} run `{run_dir.name}`", sections)
    return TrainOutcome(run_dir, result, summary)


def _files_list(run_dir: Path) -> str:
    rows = []
    for path in sorted(run_dir.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            rows.append(f"- `{path.relative_to(run_dir)}`")
    rows.append("- `summary.md`")
    return "\n".join(dict.fromkeys(rows))


def resolve_artifact(path: str | os.PathLike[str]) -> Path:
    """A run directory or an artifact file -> the artifact file."""
    path = Path(path)
    if path.is_dir():
        candidate = path / "model.safetensors"
        if not candidate.is_file():
            raise ArtifactError(
                f"run directory {str(path)!r} has no model.safetensors (did the run finish?)"
            )
        return candidate
    if not path.exists():
        raise ArtifactError(f"no run directory or artifact file at {str(path)!r}")
    return path


def task_of_artifact(path: str | os.PathLike[str]) -> Task:
    """The task whose model an artifact holds, from its header alone (cheap; never runs code).

    Nothing is verified here: :func:`load` verifies the whole file.
    """
    from rnnkit.tasks.registry import task_for_kind

    artifact = resolve_artifact(path)
    return task_for_kind(read_kind(artifact), repr(str(artifact)))


def load(path: str | os.PathLike[str]) -> Any:
    """Rebuild a trained model from a run directory or artifact file (safetensors + JSON).

    The file is read and verified once; its kind picks the task. Returns the task's loaded
    model: ``LoadedForecaster``, ``LoadedClassifier`` or ``LoadedTagger`` (model,
    preprocessing state and config), which predicts exactly as the model that was saved.
    """
    return load_with_task(path)[1]


def load_with_task(path: str | os.PathLike[str]) -> tuple[Task, Any]:
    """(task, loaded model) of a run directory or artifact file, reading the file once."""
    from rnnkit.tasks.registry import task_for_kind

    file = resolve_artifact(path)
    artifact = load_artifact(file)
    task = task_for_kind(artifact.kind, repr(str(file)))
    return task, task.load(artifact)


def evaluate(path: str | os.PathLike[str], data: Any = None) -> dict[str, Any]:
    """Score a saved model on labelled ``data`` (None: its own test data)."""
    task, loaded = load_with_task(path)
    return task.evaluate(loaded, data)


def predict(path: str | os.PathLike[str], data: Any) -> Any:
    """Predictions of a saved model for ``data`` as a pandas DataFrame."""
    task, loaded = load_with_task(path)
    return task.predict(loaded, data)
