"""One call per thing the ``rnnkit`` command does: :func:`train`, :func:`evaluate`,
:func:`predict`, :func:`load`.

Each task (forecast, classify, tag) is a :class:`~rnnkit.tasks.pipeline.Task` in the registry
(:mod:`rnnkit.tasks.registry`); this module only resolves configuration (TOML file + keyword
options), makes the run directory, runs the task through the one runner, and writes what every
run has (``config.toml``, ``summary.md``). Loading reads and verifies an artifact once, and its
kind picks the task.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import asdict, dataclass, replace
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
from rnnkit.runs import (
    LAST_CHECKPOINT,
    RunInterrupted,
    check_new_run,
    make_run_dir,
    summary_text,
    write_json,
    write_summary,
    write_text,
)

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
    """Option name -> Option for the training options a user may set for ``task``, each with
    the task's own default (``task.training_defaults``: e.g. 60 epochs for forecasting), which
    is what a run without that option gets, rather than the engine's generic one."""
    from rnnkit.train import TrainConfig

    defaults = task.training_defaults(None)
    return {
        k: replace(v, default=defaults[k]) if k in defaults else v
        for k, v in options_of([TrainConfig]).items()
        if k not in RUN_MANAGED
    }


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


#: Training options that may differ from the run's own when it is resumed: none of them
#: changes the model, the data or the updates already made (``epochs`` may only be raised).
RESUME_OPTIONS = ("epochs", "max_time", "quiet", "plots", "checkpoint_every")


def train(
    task: str | None = None,
    config: str | os.PathLike[str] | None = None,
    *,
    runs_root: str | os.PathLike[str] = "runs",
    name: str | None = None,
    resume: str | os.PathLike[str] | None = None,
    **options: Any,
) -> TrainOutcome:
    """Train a model for ``task`` and write a run directory; returns its :class:`TrainOutcome`.

    Every option is checked, and the data are read, split and checked, before the run
    directory is made: a run that fails on its options or its data leaves nothing behind.

    Args:
        task: 'forecast', 'classify' or 'tag' (None: the config file's ``task``, else
            'forecast').
        config: a TOML file of options (sections only group them); ``options`` override it.
        runs_root: the folder that holds run directories.
        name: the run directory's name (None: ``<task>-<data>-<timestamp>``).
        resume: a run directory whose training was interrupted (killed, Ctrl-C, SIGTERM):
            it continues from its ``last.safetensors`` with the options of its own
            ``config.toml``, and ends with the model an uninterrupted run would have made.
            Only :data:`RESUME_OPTIONS` may be given with it (``epochs`` only raised).
        **options: task and training options, e.g. ``data='sunspots', hidden_size=32,
            epochs=5, quiet=True`` (strings are converted as on the command line).

    Raises:
        ConfigError, ValueError: bad options or data (nothing is written).
        RunInterrupted: training was interrupted; the run directory is kept for ``resume``.

    Example:
        >>> outcome = rnnkit.train("forecast", data="sunspots", epochs=5, quiet=True)
        >>> outcome.metrics["test"]["model"]["mase"]
    """
    from rnnkit.tasks.pipeline import run

    if resume is not None:
        spec, cfg, training, run_dir = _resume_run(Path(resume), task, config, name, options)
        checkpoint = run_dir / LAST_CHECKPOINT

        def same_data(prepared: Any) -> Path:
            _check_same_data(run_dir, prepared)
            _write_config(run_dir, spec, cfg, training)  # raised epochs hold for a next resume
            return run_dir

        result = _interruptible(
            run_dir,
            lambda: run(
                spec, cfg, None, training=training, create=same_data,
                resume=checkpoint if checkpoint.is_file() else None,
            ),
        )
        return _finish(run_dir, spec, result)

    file_values = read_toml(config) if config is not None else {}
    task_name = task or file_values.get("task") or "forecast"
    spec = get_task(task_name)
    cfg, training = build_task_configs(spec, file_values, options)
    check_new_run(runs_root, name)  # before the data are read: a taken name fails at once
    made: list[Path] = []

    def create(prepared: Any) -> Path:
        run_dir = make_run_dir(runs_root, name, _prefix(spec, cfg))
        made.append(run_dir)
        _write_config(run_dir, spec, cfg, training)  # as given; rewritten resolved at the end
        if prepared.test_data is not None:  # what a resume checks it reads again
            write_json(run_dir / DATA_RECORD, prepared.test_data)
        return run_dir

    try:
        result = _interruptible(
            made, lambda: run(spec, cfg, None, training=training, create=create)
        )
    except Exception:
        for run_dir in made:
            _discard_unstarted(run_dir)
        raise
    return _finish(result.run_dir, spec, result)  # made on rank 0 (the others got its path)


def _discard_unstarted(run_dir: Path) -> None:
    """Remove a run directory that a failure left holding only what was written before
    training (``config.toml`` and the data record): nothing in it can be resumed or read,
    and its name would block the rerun. A folder with anything else is kept as it is."""
    written = {"config.toml", DATA_RECORD}
    try:
        if not run_dir.is_dir() or not {p.name for p in run_dir.iterdir()} <= written:
            return
        for name in written:
            (run_dir / name).unlink(missing_ok=True)
        run_dir.rmdir()
    except OSError:  # another process wrote into it meanwhile: leave it
        pass


def _finish(run_dir: Path, spec: Task, result: TaskResult) -> TrainOutcome:
    from rnnkit.tasks.pipeline import verdict_text
    from rnnkit.train.distributed import launched_rank

    main = launched_rank() == 0  # under torchrun, rank 0 alone writes the run's files
    if main:
        _write_config(run_dir, spec, result.config, result.training)

    sections = {"Result": result.summary(), "Files": _files_list(run_dir)}
    if "diagnostics" in result.metrics:  # --diagnostics-every: how far back the loss reaches
        d = result.metrics["diagnostics"]
        sections = {"Result": sections["Result"],
                    "Long-range diagnostics": f"At epoch {d['epoch']}: {d['text']} "
                    "The plot is `gradient_norms.png`.", "Files": sections["Files"]}
    if "ensemble" in result.metrics:  # --ensemble N: the ensemble beside its members
        from rnnkit.tasks.ensemble import summary_text as ensemble_text

        sections = {"Result": sections["Result"],
                    "Ensemble": ensemble_text(result.metrics["ensemble"]), **sections}
    if "verdict" in result.metrics:  # said first, a loss above all
        verdict = verdict_text(result.metrics["verdict"], result.metrics.get("fallback"))
        sections = {"Verdict": verdict, **sections}
    title = f"rnnkit {spec.name} run `{run_dir.name}`"
    summary = write_summary(run_dir, title, sections) if main else summary_text(title, sections)
    return TrainOutcome(run_dir, result, summary)


def _interruptible(run_dir: Path | list[Path], fit: Any) -> TaskResult:
    """``fit()``, with an interruption after the run directory exists re-raised as
    :class:`RunInterrupted` naming it (``run_dir``: the folder, or a list that holds it once
    made)."""
    import signal

    try:
        return fit()
    except KeyboardInterrupt as err:
        made = run_dir if isinstance(run_dir, Path) else (run_dir[0] if run_dir else None)
        if made is None or isinstance(err, RunInterrupted):
            raise
        raise RunInterrupted(made, getattr(err, "signum", signal.SIGINT)) from err


#: The run's record of its data (source, SHA-256, test selection), checked on resume.
DATA_RECORD = "data.json"


def _check_same_data(run_dir: Path, prepared: Any) -> None:
    """Refuse to resume on data other than the run's own (a changed file, another split)."""
    import json

    from rnnkit.runs import jsonable

    record = run_dir / DATA_RECORD
    if prepared.test_data is None or not record.is_file():
        return
    before = json.loads(record.read_text(encoding="utf-8"))
    now = json.loads(json.dumps(prepared.test_data, default=jsonable))
    if now != before:
        what = "its test split"
        if now.get("source") != before.get("source"):
            what = f"the data source (it was {before.get('source')}, now {now.get('source')})"
        raise ValueError(
            f"resume: the data of the run in {str(run_dir)!r} are not the ones it started "
            f"with: {what} differs, so continuing would not give the run's model; train a "
            "new run instead"
        )


def _resume_run(
    run_dir: Path, task: str | None, config: Any, name: str | None, options: dict[str, Any]
) -> tuple[Task, Any, Any, Path]:
    """The task, task config, training config and folder of an interrupted run to resume.

    Raises:
        ValueError, ConfigError: not a resumable run directory, or options that would change
            the model or data (each named, with the run's value and the given one).
    """
    if not run_dir.is_dir():
        hint = (
            f" (give the run directory {str(run_dir.parent)!r}, not a file in it)"
            if run_dir.is_file() else ""
        )
        raise ValueError(f"resume must be a run directory, got {str(run_dir)!r}{hint}")
    stored = run_dir / "config.toml"
    if not stored.is_file():
        raise ValueError(
            f"resume: run directory {str(run_dir)!r} has no config.toml, so its options are "
            "unknown; it cannot be resumed"
        )
    if (run_dir / "model.safetensors").exists():
        raise ValueError(
            f"resume: the run in {str(run_dir)!r} has finished (it holds model.safetensors), "
            "so there is nothing to resume; train a new run with another --name"
        )
    given = [k for k, v in (("config", config), ("name", name)) if v is not None]
    if given:
        raise ValueError(
            f"resume: {' and '.join(given)} cannot be given with resume (the run's own "
            f"{str(stored)!r} gives the options and its folder is the run), got "
            + ", ".join(f"{k}={v!r}" for k, v in (("config", config), ("name", name)) if v)
        )
    file_values = read_toml(stored)
    spec = get_task(str(file_values.get("task") or "forecast"))
    if task is not None and task != spec.name:
        raise ValueError(f"resume: the run trained the task {spec.name!r}, got task={task!r}")
    cfg_run, training_run = build_task_configs(spec, file_values, {})
    cfg, training = build_task_configs(spec, file_values, options)
    problems = [
        f"{k} (the run has {before!r}, got {after!r})"
        for old, new in ((cfg_run, cfg), (training_run, training))
        for k, before in asdict(old).items()
        if k not in RESUME_OPTIONS and (after := asdict(new)[k]) != before
    ]
    if problems:
        raise ConfigError(
            f"resume: options that change the model, the data or the training so far cannot "
            f"be changed when resuming {str(run_dir)!r}: " + "; ".join(problems)
            + f" (only {', '.join(RESUME_OPTIONS)} may be given)"
        )
    if training_run.ensemble > 1:  # each member has its own checkpoints; none is the run's
        raise ValueError(
            f"resume: the run in {str(run_dir)!r} trains an ensemble (ensemble="
            f"{training_run.ensemble}), and ensemble runs cannot be resumed; train it again"
        )
    if training.epochs < training_run.epochs:
        raise ConfigError(
            f"resume: epochs may only be raised when resuming (the run has "
            f"{training_run.epochs}), got {training.epochs}"
        )
    return spec, cfg, training, run_dir


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
            resumable = (path / LAST_CHECKPOINT).is_file()
            raise ArtifactError(
                f"run directory {str(path)!r} has no model.safetensors: its training did not "
                "finish"
                + (f"; continue it with: rnnkit train --resume {path}" if resumable else "")
            )
        return candidate
    if not path.exists():
        raise ArtifactError(f"no run directory or artifact file at {str(path)!r}")
    if _is_checkpoint(path):
        raise ArtifactError(
            f"{str(path)!r} is a training checkpoint, not a model artifact: a finished run's "
            f"model is {str(path.parent / 'model.safetensors')!r}, and an interrupted run "
            f"continues with: rnnkit train --resume {path.parent}"
        )
    return path


def _is_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a trainer checkpoint (from its safetensors header alone)."""
    import json

    from rnnkit.train.checkpoint import KIND

    try:
        with path.open("rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if size > 100_000_000:  # safetensors' own limit: not a header
                return False
            header = json.loads(f.read(size))
        return bool(header.get("__metadata__", {}).get("kind") == KIND)
    except (OSError, ValueError, AttributeError, UnicodeDecodeError):
        return False


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


def load_with_task(path: str | os.PathLike[str] | Any) -> tuple[Task, Any]:
    """(task, loaded model) of a run directory or artifact file, reading the file once; a model
    :func:`load` returned is taken as it is."""
    from rnnkit.tasks.registry import task_for_kind, task_for_loaded

    if not isinstance(path, (str, os.PathLike)):
        return task_for_loaded(path), path
    file = resolve_artifact(path)
    artifact = load_artifact(file)
    task = task_for_kind(artifact.kind, repr(str(file)))
    return task, task.load(artifact)


#: Options of the sequence-to-sequence evaluation, passed inside ``data`` (as the CLI does).
DECODING_OPTIONS = ("target_data", "source_column", "target_column", "beam_size")


def evaluate(
    path: str | os.PathLike[str] | Any,
    data: Any = None,
    *,
    on_bad_rows: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Score a saved model (a run directory, an artifact file or what :func:`load` returned) on
    labelled ``data`` (None: its own test data), with the options ``rnnkit evaluate`` has.

    ``on_bad_rows`` ('error' or 'skip'; None: the model's own setting) decides what happens to
    rows the model cannot use, e.g. a series a forecaster was not trained on. ``options``: a
    translate or summarize model's ``target_data``, ``source_column``, ``target_column`` and
    ``beam_size``; a forecaster's ``new_series`` ('history': series absent from training are
    forecast from their own history and scored apart, under ``by_group``), ``part`` and
    ``stride``. An option left at None is not passed.

    Raises:
        ValueError: an option the model's task does not take (the message lists those it does).
    """
    task, loaded = load_with_task(path)
    return evaluate_loaded(task, loaded, data, on_bad_rows=on_bad_rows, **options)


def evaluate_loaded(
    task: Task, loaded: Any, data: Any = None, *, on_bad_rows: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """:func:`evaluate` of a model already loaded by :func:`load_with_task` (the command's
    path: the artifact is read once)."""
    loaded = _with_bad_rows(loaded, on_bad_rows)
    given = {k: v for k, v in options.items() if v is not None}
    decoding = {k: given.pop(k) for k in DECODING_OPTIONS if k in given}
    if decoding:
        if not getattr(task, "decoding_options", False):
            raise ValueError(
                f"{', '.join(decoding)}: options for translate and summarize models, got a "
                f"{task.name!r} model"
            )
        data = {**(dict(data) if isinstance(data, dict) else {"data": data}), **decoding}
    accepted = _keyword_options(task.evaluate)
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        allowed = [*accepted, *(DECODING_OPTIONS if getattr(task, "decoding_options", False)
                                else ())]
        raise ValueError(
            f"options for evaluating a {task.name!r} model must be among {sorted(allowed)}, "
            f"got {unknown}"
        )
    return task.evaluate(loaded, data, **given)


def _keyword_options(method: Any) -> list[str]:
    """The keyword-only parameters of a task's method (its options)."""
    import inspect

    return [
        name for name, p in inspect.signature(method).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]


def _with_bad_rows(loaded: Any, on_bad_rows: str | None) -> Any:
    """``loaded`` with ``config.on_bad_rows`` replaced (None: unchanged)."""
    if on_bad_rows is None:
        return loaded
    from rnnkit.core.checks import check_choice
    from rnnkit.tasks.file_options import BAD_ROW_POLICIES

    check_choice("on_bad_rows", on_bad_rows, BAD_ROW_POLICIES)
    if not hasattr(loaded.config, "on_bad_rows"):
        raise ValueError(
            f"on_bad_rows is for models that read rows of a table (forecast, classify), "
            f"got a model whose options are {type(loaded.config).__name__}"
        )
    return dataclasses.replace(
        loaded, config=dataclasses.replace(loaded.config, on_bad_rows=on_bad_rows)
    )


def predict(
    path: str | os.PathLike[str] | Any,
    data: Any,
    *,
    on_bad_rows: str | None = None,
    **options: Any,
) -> Any:
    """Predictions of a saved model (a run directory, an artifact file or what :func:`load`
    returned) for ``data`` as a pandas DataFrame.

    ``on_bad_rows`` ('error' or 'skip'; None: the model's own setting) decides what happens to
    rows the model cannot use, e.g. a series it was not trained on. ``options`` go to the
    task's predict (a forecaster's ``future``, ``quantiles``, ``new_series``).
    """
    task, loaded = load_with_task(path)
    return task.predict(_with_bad_rows(loaded, on_bad_rows), data, **options)


def generate(
    path: str | os.PathLike[str] | Any,
    prompt: str | None = None,
    length: int = 500,
    **options: Any,
) -> str:
    """Text sampled from a language model (a run directory, an artifact file or what
    :func:`load` returned) after ``prompt``; ``options``: ``temperature``, ``top_k``,
    ``top_p``, ``seed`` and ``on_text`` (see :func:`rnnkit.tasks.lm.generate`)."""
    from rnnkit.tasks import lm

    task, loaded = load_with_task(path)
    if task is not lm.TASK:
        raise ValueError(
            f"path must hold a language model (from rnnkit train --task lm), got a "
            f"{task.artifact_kind!r} model"
        )
    return lm.generate(loaded, prompt, length, **options)
