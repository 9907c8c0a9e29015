"""Model selection by cross-validation: ``rnnkit tune`` and :func:`tune`.

::

    spec (task, fixed options, --search, --cv, --metric)      tune.json in the run directory
      → study (Optuna storage: study.db, or --storage URL)     workers take settings in turn
      → per setting, K folds (rnnkit.data.folds)               each fold: task.prepare(fold=..)
                                                               → train → score held-out part
      → table (mean ± std over folds), chosen setting          tuning.csv, tuning.png
      → final model with the chosen setting                    final/ (a normal run directory)
      → summary.md (why that setting)

Modules: :mod:`rnnkit.tune.space` (``--search`` specs), :mod:`rnnkit.tune.study` (folds,
trials, workers, resumption), :mod:`rnnkit.tune.report` (table, choice, plot). Needs the
``tune`` extra (``pip install rnnkit[tune]``: optuna and scikit-learn).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.tune.space import Param, SearchSpace
from rnnkit.tune.study import TuneSpec, higher_is_better, require_optuna

__all__ = ["Param", "SearchSpace", "TuneResult", "TuneSpec", "tune"]

SPEC_FILE = "tune.json"
FINAL = "final"


@dataclass
class TuneResult:
    """What :func:`tune` returns.

    Attributes:
        table: one row per setting (see :func:`rnnkit.tune.report.study_table`).
        chosen: the chosen setting (searched options only).
        best: the setting with the best mean score.
        why: why the chosen setting won, in words.
        final: the final model's run (an :class:`rnnkit.api.TrainOutcome`), or None when
            ``final=False``.
        run_dir: the tuning run directory.
        summary: the text of ``summary.md``.
    """

    table: Any
    chosen: dict[str, Any]
    best: dict[str, Any]
    why: str
    final: Any
    run_dir: Path
    summary: str


def tune(
    task: str | None = None,
    search: list[str] | tuple[str, ...] | str = (),
    *,
    cv: int = 3,
    trials: int | None = None,
    metric: str | None = None,
    group_column: str | None = None,
    config: str | os.PathLike[str] | None = None,
    runs_root: str | os.PathLike[str] = "runs",
    name: str | None = None,
    resume: str | os.PathLike[str] | None = None,
    storage: str | None = None,
    workers: int | str = 1,
    final: bool = True,
    quiet: bool = False,
    heartbeat: float = 5.0,
    seed: int = 0,
    **options: Any,
) -> TuneResult:
    """Cross-validate every setting of ``search`` for ``task``, choose one, train it on all
    training data.

    Args:
        task: 'forecast', 'classify', 'tag' or another registered task (None: the config
            file's ``task``).
        search: ``NAME=A,B,C`` (every value) or ``NAME=LOW..HIGH[:log]`` (a range for Optuna's
            TPE sampler) specs; see :mod:`rnnkit.tune.space`.
        cv: number of folds (stratified for classification, grouped with ``group_column``,
            rolling origin for forecasting).
        trials: settings to finish when a range is searched (default 20); a grid runs every
            point.
        metric: the fold score, a key of the task's test metrics (default: the task's
            headline, e.g. accuracy or MASE); lower is better for losses and errors
            (:data:`rnnkit.tune.study.LOWER_IS_BETTER`), higher for the rest.
        group_column: keep every value of this column in one fold.
        config: a TOML file of fixed options (as for ``rnnkit train``); ``options`` override it.
        runs_root, name: where the tuning run directory is made (name: ``tune-<task>-<time>``).
        resume: a tuning run directory to continue (its own ``tune.json`` is used): finished
            folds are not trained again.
        storage: an Optuna storage URL shared by workers on several machines (default: SQLite
            ``study.db`` in the run directory).
        workers: worker processes ('auto': one per core, at most one per setting); each uses
            its share of the cores' threads.
        final: train the final model with the chosen setting (as ``final/``).
        quiet: print nothing.
        heartbeat: seconds between a running trial's heartbeats; a trial silent for four of
            them is taken as dead and queued again.
        seed: fold assignment and sampler seed.
        **options: fixed task and training options (e.g. ``data='basic-motions', epochs=20``).

    Returns:
        :class:`TuneResult` (``table`` is a pandas DataFrame).

    Raises:
        ValueError, ConfigError: bad options, search specs, folds or data (before any training
            when they can be seen from the options).
    """
    from rnnkit.api import build_task_configs, get_task, task_option_classes
    from rnnkit.config import read_toml
    from rnnkit.runs import make_run_dir, write_json

    require_optuna()

    def say(text: str) -> None:
        if not quiet:
            print(text, flush=True)

    if resume is not None:
        run_dir = Path(resume)
        stored = run_dir / SPEC_FILE
        if not stored.is_file():
            raise ValueError(f"resume must be a tuning run directory (with {SPEC_FILE}), got "
                             f"{str(run_dir)!r}")
        spec = TuneSpec.from_json(json.loads(stored.read_text(encoding="utf-8")))
        storage = storage or spec.extra.get("storage")
    else:
        file_values = read_toml(config) if config is not None else {}
        task_name = task or file_values.pop("task", None) or "forecast"
        file_values.pop("task", None)
        spec_task = get_task(task_name)
        fixed = {**file_values, **options}
        space = SearchSpace.parse(list([search] if isinstance(search, str) else search),
                                  task_option_classes(spec_task))
        build_task_configs(spec_task, None, fixed)  # every fixed option checked now
        if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
            raise ValueError(f"cv must be an integer >= 2, got {cv!r}")
        if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int)
                                   or trials < 1):
            raise ValueError(f"trials must be a positive integer, got {trials!r}")
        metric = metric or spec_task.headline[0]
        if not metric:
            raise ValueError(f"metric must be given: the {task_name} task has no headline metric")
        if space.is_grid and trials is not None and trials != len(space.grid()):
            raise ValueError(
                f"trials: a grid of lists runs every one of its {len(space.grid())} settings; "
                f"give a range (NAME=LOW..HIGH) to search with a trial budget, got "
                f"trials={trials}"
            )
        spec = TuneSpec(
            task=task_name,
            options=fixed,
            search=space.specs(),
            cv=cv,
            trials=None if space.is_grid else (trials or 20),
            metric=metric,
            higher_is_better=higher_is_better(metric),
            group_column=group_column,
            seed=seed,
            extra={"storage": storage} if storage else {},
        )
        data = str(fixed.get("data", "") or "")
        prefix = "-".join(p for p in ("tune", task_name, Path(data).stem if data else "") if p)
        run_dir = make_run_dir(runs_root, name, prefix)
        write_json(run_dir / SPEC_FILE, spec.to_json())
    return _run(spec, run_dir, storage, workers, final, heartbeat, say)


def _run(spec: TuneSpec, run_dir: Path, storage: str | None, workers: int | str, final: bool,
         heartbeat: float, say: Any) -> TuneResult:
    from rnnkit.tune.study import load_study, open_storage, queue_grid, run_workers

    space = spec.space()
    url = storage or f"sqlite:///{(run_dir / 'study.db').resolve()}"
    study = load_study(spec, open_storage(url, heartbeat), spec.seed)
    if space.is_grid:
        queue_grid(study, space)
    target = spec.target()
    if workers == "auto":
        workers = max(1, min(os.cpu_count() or 1, target))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer or 'auto', got {workers!r}")
    say(f"tuning {spec.task}: {target} settings × {spec.cv} folds, {workers} worker(s); "
        f"study in {url}")
    run_workers(spec, url, workers=workers, heartbeat=heartbeat, say=say)
    return _finish(spec, run_dir, study, space, final, say)


def _finish(spec: TuneSpec, run_dir: Path, study: Any, space: SearchSpace, final: bool,
            say: Any) -> TuneResult:
    from rnnkit.runs import write_summary, write_text
    from rnnkit.tune import report

    table = report.study_table(study, spec, space)
    write_text(run_dir / "tuning.csv", table.to_csv(index=False))
    chosen_row, best_row, why = report.choose(table, spec.higher_is_better)
    chosen = {n: _plain(table.at[chosen_row, n]) for n in space.names}
    best = {n: _plain(table.at[best_row, n]) for n in space.names}
    plot = report.plot_scores(
        table, space, spec.metric, run_dir / "tuning.png",
        f"{spec.task}: {spec.metric} over {spec.cv} folds",
    )
    text_table = report.format_table(table, space, spec.metric, chosen_row)
    say("")
    say(text_table)
    say(f"chosen: {chosen} — {why}")
    outcome = None
    if final:
        outcome = _final_model(spec, run_dir, chosen, say)
    direction = "higher" if spec.higher_is_better else "lower"
    folds = _fold_text(spec)
    sections = {
        "Search": (
            f"Task {spec.task!r}, fixed options {spec.options or 'none'}; searched "
            + ", ".join(f"`{s}`" for s in spec.search)
            + f". {spec.cv} folds ({folds}); score: {spec.metric} on each fold's held-out "
            f"part ({direction} is better)."
        ),
        "Settings": text_table + ("\n\n![score against hidden size](tuning.png)" if plot else ""),
        "Choice": f"Chosen: {chosen}, because {why}.",
    }
    if outcome is not None:
        sections["Final model"] = (
            f"Trained with the chosen setting on all the training data, in `{FINAL}/` (a normal "
            f"run directory: `rnnkit evaluate {run_dir / FINAL}`).\n\n" + outcome.result.summary()
        )
    summary = write_summary(run_dir, f"rnnkit tune `{run_dir.name}`", sections)
    return TuneResult(table, chosen, best, why, outcome, run_dir, summary)


def _fold_text(spec: TuneSpec) -> str:
    if spec.task == "forecast":
        return "rolling origin over the period before the test split"
    if spec.task == "lm":
        return "contiguous blocks of the training text"
    if spec.group_column:
        return f"grouped by {spec.group_column!r}"
    return "stratified by class" if spec.task == "classify" else "shuffled"


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _final_model(spec: TuneSpec, run_dir: Path, chosen: dict[str, Any], say: Any) -> Any:
    """Train (or finish, or reuse) ``run_dir/final`` with the chosen setting."""
    from rnnkit.api import train

    final_dir = run_dir / FINAL
    options = {**spec.options, **chosen}
    if (final_dir / "model.safetensors").is_file() and (final_dir / "metrics.json").is_file():
        say(f"final model: already trained in {final_dir}")
        metrics = json.loads((final_dir / "metrics.json").read_text(encoding="utf-8"))
        summary = (final_dir / "summary.md").read_text(encoding="utf-8")
        return _Reused(final_dir, metrics, summary)
    if final_dir.exists() and any(final_dir.iterdir()):
        say(f"final model: continuing the interrupted run {final_dir}")
        return train(spec.task, resume=final_dir, quiet=True)
    say(f"final model: training with {chosen}")
    return train(spec.task, runs_root=run_dir, name=FINAL, **{**options, "quiet": True})


@dataclass
class _ReusedResult:
    metrics: dict[str, Any]
    text: str

    def summary(self) -> str:
        return self.text


class _Reused:
    """A final run found finished (a resumed tune that had already trained it)."""

    def __init__(self, run_dir: Path, metrics: dict[str, Any], summary: str) -> None:
        self.run_dir = run_dir
        self.result = _ReusedResult(metrics, summary)
        self.metrics = metrics
        self.artifact_path = run_dir / "model.safetensors"
