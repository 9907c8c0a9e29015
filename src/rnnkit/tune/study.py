"""The cross-validated study behind ``rnnkit tune``: folds, trials, workers, resumption.

One *trial* is one setting of the searched options (e.g. ``hidden_size=64, lr=0.003``); its value
is the mean of the metric over the K folds (:mod:`rnnkit.data.folds`). Each fold trains a fresh
model under the training engine (early stopping and the best epoch on the fold's own
validation part) and is scored on the fold's held-out part; the fold's score is stored in the
study as soon as it is known, under the setting and the fold number, so a trial that is started
again (after a kill) re-runs only the folds that never finished.

The study lives in an Optuna storage (SQLite inside the run directory by default, or any
``--storage`` database URL), which several worker processes, on one machine or many, share:

* lists only (a grid): every combination is queued once, and workers take them in turn;
* any range: Optuna's TPE sampler proposes settings, and the median pruner stops a setting
  whose validation curve (reported every epoch, folds laid end to end) is worse than the
  median of earlier settings at the same epoch;
* every running trial writes a heartbeat; a trial whose worker died (SIGKILL, power loss) goes
  stale after ``grace`` seconds, is marked failed and queued again with the same setting
  (Optuna's ``RetryFailedTrialCallback``), and the next worker to look takes it up.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from rnnkit.train.callbacks import Callback
from rnnkit.tune.space import SearchSpace

#: Metrics for which lower is better; every other metric is maximised.
LOWER_IS_BETTER = (
    "loss", "mae", "mse", "rmse", "mase", "smape", "mape", "crps", "pinball", "error",
    "interval_width", "perplexity", "bpc", "bits_per_token", "wer", "per", "cer",
)

INSTALL = 'pip install "rnnkit[tune]"'


def require_optuna() -> Any:
    """The ``optuna`` module, or an ImportError naming the extra that installs it."""
    try:
        import optuna
    except ImportError as err:
        raise ImportError(f"rnnkit tune needs optuna, which is not installed: {INSTALL}") from err
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def higher_is_better(metric: str) -> bool:
    """Whether a larger ``metric`` is better (see :data:`LOWER_IS_BETTER`)."""
    return not any(metric == m or metric.endswith("_" + m) for m in LOWER_IS_BETTER)


@dataclass
class TuneSpec:
    """Everything that defines one study; stored as ``tune.json`` in the run directory.

    Attributes:
        task: the task's name.
        options: fixed task and training options (as given: strings or values).
        search: the ``--search`` specs.
        cv: number of folds.
        trials: settings to finish (None: every grid point; a range needs a number).
        metric: the score of a fold (a key of the task's test metrics).
        higher_is_better: the study's direction.
        group_column: keep each value of this column in one fold (None: no grouping).
        seed: fold assignment and sampler seed.
        extra: where the study is kept (``storage``: the URL given), not part of its identity.
    """

    task: str
    options: dict[str, Any]
    search: list[str]
    cv: int
    trials: int | None
    metric: str
    higher_is_better: bool
    group_column: str | None = None
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def study_name(self) -> str:
        """'rnnkit-tune-' and a digest of everything that defines the study (not where it is
        stored): workers given the same tune share one study, and different tunes in one
        database never mix their trials."""
        import hashlib

        defining = {k: v for k, v in self.to_json().items() if k != "extra"}
        text = json.dumps(defining, sort_keys=True, default=str)
        return "rnnkit-tune-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> TuneSpec:
        return cls(**values)

    def space(self) -> SearchSpace:
        from rnnkit.api import get_task, task_option_classes

        return SearchSpace.parse(self.search, task_option_classes(get_task(self.task)))

    def target(self) -> int:
        """How many settings must finish (complete or pruned)."""
        space = self.space()
        return len(space.grid()) if space.is_grid else int(self.trials or 0)


def setting_key(params: dict[str, Any]) -> str:
    """A canonical text for a setting (sorted JSON), the key of its stored fold scores."""
    return json.dumps(params, sort_keys=True, default=str)


def fold_attr(key: str, fold: int) -> str:
    return f"fold {fold} of {key}"


# --------------------------------------------------------------------------------------------
# Storage and threads
# --------------------------------------------------------------------------------------------


def open_storage(url: str, heartbeat: float) -> Any:
    """An Optuna RDB storage at ``url`` with heartbeats every ``heartbeat`` seconds; a trial
    silent for 4 heartbeats is failed and queued again with its setting (at most 3 times)."""
    optuna = require_optuna()
    interval = max(1, round(heartbeat))
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):  # several processes write: wait for the lock, don't fail
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    with warnings.catch_warnings():  # heartbeats and retries are marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # Optuna 4.9 renamed the callback and its argument; older releases know the old names.
        if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)
            kwargs["heartbeat_stale_trial_callback"] = retry
        else:  # pragma: no cover - optuna < 4.9
            kwargs["failed_trial_callback"] = optuna.storages.RetryFailedTrialCallback(
                max_retry=3
            )
        return _create_tables_once(lambda: optuna.storages.RDBStorage(
            url, heartbeat_interval=interval, grace_period=4 * interval, **kwargs
        ))


def _create_tables_once(make: Any, attempts: int = 5) -> Any:
    """``make()``, again when another process was creating the same fresh database's tables
    at the same moment: Optuna's storage creates them on opening, and two processes opening a
    new SQLite file together make one of them fail with 'table ... already exists' (a worker
    joining a study as it is created, or a reader polling it)."""
    import sqlalchemy.exc

    for attempt in range(attempts - 1):
        try:
            return make()
        except sqlalchemy.exc.OperationalError as err:
            if "already exists" not in str(err):
                raise
            time.sleep(0.2 * (attempt + 1))  # the other process finishes its tables
    return make()


def limit_threads(threads: int) -> None:
    """Use at most ``threads`` CPU threads in this process (torch's and numba's pools), so that
    parallel workers do not oversubscribe the cores."""
    import torch

    threads = max(1, int(threads))
    torch.set_num_threads(threads)
    try:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except (ImportError, ValueError):  # numba's pool is fixed at its launch size: leave it
        pass


# --------------------------------------------------------------------------------------------
# One fold
# --------------------------------------------------------------------------------------------


class PruningReport(Callback):
    """A training callback that reports each epoch's validation monitor to an Optuna trial and
    stops training when the trial's pruner says so.

    The monitor is negated when its direction differs from the study's (a loss in a study that
    maximises accuracy), so the pruner always compares values where higher (or lower) is
    better as the study says. Folds are laid end to end: fold i reports at steps
    ``i * 10000 + epoch``, so the median pruner compares the same fold and epoch across
    settings.
    """

    STRIDE = 10000

    def __init__(self, trial: Any, monitor: str, sign: float, fold: int) -> None:
        self.trial, self.monitor, self.sign, self.fold = trial, monitor, sign, fold
        self.epochs = 0
        self.pruned = False

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        value = row.get(self.monitor)
        self.epochs += 1
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return
        self.trial.report(self.sign * float(value), self.fold * self.STRIDE + self.epochs)
        if self.trial.should_prune():
            self.pruned = True
            trainer.stop_training = True
            trainer.stop_reason = f"pruned by the median pruner at epoch {self.epochs}"


@dataclass
class FoldResult:
    """One fold's score, the model's parameter count and the epochs it trained."""

    score: float
    parameters: int
    epochs: int
    pruned: bool = False


def run_fold(
    spec: TuneSpec, params: dict[str, Any], fold_index: int, trial: Any = None
) -> FoldResult:
    """Train one fold of one setting and score it on the fold's held-out part.

    The fold trains as ``rnnkit train`` would with the same options (the task's defaults,
    early stopping on the fold's validation part, best epoch kept), quietly and without
    writing files; the task's baselines are skipped (they do not depend on the setting).
    """
    from rnnkit.api import build_task_configs, get_task
    from rnnkit.data.folds import Fold
    from rnnkit.tasks.pipeline import build_seeded_model, fit_model, without_baselines

    task = get_task(spec.task)
    config, training = build_task_configs(task, None, {**spec.options, **params})
    training.quiet, training.plots, training.out_dir = True, False, None
    config = without_baselines(config)  # they do not depend on the setting: not per fold
    fold = Fold(spec.cv, fold_index, spec.seed, spec.group_column)
    prepared = task.prepare(config, training, lambda text: None, fold=fold)
    model = build_seeded_model(task, prepared, training)
    report = None
    if trial is not None and prepared.val_batches is not None:
        same = (training.monitor_mode == "max") == spec.higher_is_better
        report = PruningReport(trial, training.monitor, 1.0 if same else -1.0, fold_index)
    fitted = fit_model(
        model, prepared.train_batches, prepared.val_batches, training,
        extra_callbacks=[report] if report is not None else [],
    )
    scores = task.score(model, prepared, training.seed)
    score = fold_score(scores.metrics, spec.metric, spec.task)
    return FoldResult(
        score,
        int(sum(p.numel() for p in model.parameters())),
        len(fitted.trainer.history.epochs),
        bool(report is not None and report.pruned),
    )


def fold_score(metrics: dict[str, Any], metric: str, task: str) -> float:
    """``metric`` of the model on the fold's held-out ('test') part.

    Raises:
        ValueError: the task has no such metric (the message lists those it has).
    """
    from rnnkit.core.suggest import did_you_mean

    model = (metrics.get("test") or {}).get("model") or {}
    value = model.get(metric)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        have = sorted(k for k, v in model.items() if isinstance(v, (int, float)))
        raise ValueError(
            f"metric must be one of the {task} task's scores {have}, got {metric!r}"
            f"{did_you_mean(metric, have)}"
        )
    return float(value)


# --------------------------------------------------------------------------------------------
# Workers
# --------------------------------------------------------------------------------------------


def load_study(spec: TuneSpec, storage: Any, sampler_seed: int) -> Any:
    """The study of ``spec`` in ``storage`` (created when missing) with this worker's sampler
    and pruner (Optuna does not store them)."""
    optuna = require_optuna()
    sampler = optuna.samplers.TPESampler(seed=sampler_seed)
    # A grid measures every setting on every fold: nothing is pruned. With a range, two
    # finished settings before anything is pruned, and never in a fold's first 3 epochs.
    pruner = (
        optuna.pruners.NopPruner() if spec.space().is_grid
        else optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=3)
    )
    return optuna.create_study(
        storage=storage,
        study_name=spec.study_name,
        direction="maximize" if spec.higher_is_better else "minimize",
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )


def queue_grid(study: Any, space: SearchSpace) -> None:
    """Queue every grid point that has no trial yet (a resumed study queues nothing twice)."""
    for params in space.grid():
        study.enqueue_trial(params, skip_if_exists=True)


def finished_settings(study: Any) -> set[str]:
    """Keys of the settings with a complete or pruned trial."""
    optuna = require_optuna()
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return {setting_key(t.params) for t in study.get_trials(deepcopy=False, states=done)}


def _fixed(trial: Any) -> bool:
    """Whether the trial's setting was queued (grid point or retry), not sampled."""
    frozen = trial.study._storage.get_trial(trial._trial_id)
    return "fixed_params" in frozen.system_attrs or bool(frozen.params)


def work(
    spec: TuneSpec,
    storage_url: str,
    *,
    heartbeat: float = 5.0,
    worker: int = 0,
    say: Any = None,
) -> int:
    """Run trials of the study until it has :meth:`TuneSpec.target` finished settings.

    A worker waits (polling every heartbeat) while the only trials left are running elsewhere
    or stale ones not yet failed. Returns the number of trials this worker ran.
    """
    optuna = require_optuna()
    say = say or (lambda text: None)
    storage = open_storage(storage_url, heartbeat)
    study = load_study(spec, storage, spec.seed + 1000 * worker)
    space, target = spec.space(), spec.target()
    state = optuna.trial.TrialState
    ran = 0
    while True:
        with _quiet_optuna():
            optuna.storages.fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        done = len(finished_settings(study))
        waiting = sum(t.state == state.WAITING for t in trials)
        running = sum(t.state == state.RUNNING for t in trials)
        if done >= target:
            return ran
        if not waiting and (space.is_grid or done + running >= target):
            if not running:
                return ran  # nothing left that could finish: failures are in the table
            time.sleep(max(0.2, heartbeat / 2))
            continue
        with _quiet_optuna():
            trial = study.ask()
        if space.is_grid and not _fixed(trial):  # another worker took the last grid point
            study.tell(trial, state=state.FAIL)
            continue
        ran += 1
        with _heartbeats(storage, trial._trial_id, heartbeat):
            try:
                value = objective(trial, spec, space, say)
            except optuna.TrialPruned:
                study.tell(trial, state=state.PRUNED)
                continue
            except BaseException:
                study.tell(trial, state=state.FAIL)
                raise
        study.tell(trial, value)


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Without the warnings Optuna gives for what this module does on purpose: heartbeats
    with ask-and-tell (it writes them itself, :func:`_heartbeats`) and the experimental
    ``fail_stale_trials``."""
    optuna = require_optuna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        yield


@contextlib.contextmanager
def _heartbeats(storage: Any, trial_id: int, every: float) -> Iterator[None]:
    """A thread that records the trial's heartbeat every ``every`` seconds while it runs."""
    import threading

    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            storage.record_heartbeat(trial_id)
            stop.wait(every)

    thread = threading.Thread(target=beat, name=f"rnnkit-tune-heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def objective(trial: Any, spec: TuneSpec, space: SearchSpace, say: Any) -> float:
    """Mean fold score of the trial's setting; finished folds (stored in the study) are reused.

    Raises:
        optuna.TrialPruned: the pruner stopped one of its folds.
    """
    optuna = require_optuna()
    params = space.suggest(trial)
    key = setting_key(params)
    study = trial.study
    scores = []
    for i in range(spec.cv):
        stored = study.user_attrs.get(fold_attr(key, i))
        if stored is None:
            say(f"{key} fold {i + 1}/{spec.cv}: training")
            result = run_fold(spec, params, i, trial)
            trial.set_user_attr("parameters", result.parameters)
            if result.pruned:
                trial.set_user_attr("pruned_in_fold", i)
                raise optuna.TrialPruned(f"fold {i + 1}: validation curve below the median")
            stored = asdict(result)
            study.set_user_attr(fold_attr(key, i), stored)
            say(f"{key} fold {i + 1}/{spec.cv}: {spec.metric} {result.score:.4g}")
        trial.set_user_attr(f"fold_{i}", stored["score"])
        trial.set_user_attr("parameters", stored["parameters"])
        scores.append(stored["score"])
    return float(sum(scores) / len(scores))


def _work_in_process(args: tuple[dict[str, Any], str, float, int, int]) -> int:
    """Entry point of a spawned worker process: limit its threads, then :func:`work`."""
    spec_json, url, heartbeat, worker, threads = args
    limit_threads(threads)
    return work(TuneSpec.from_json(spec_json), url, heartbeat=heartbeat, worker=worker)


def run_workers(
    spec: TuneSpec, storage_url: str, *, workers: int, heartbeat: float, say: Any
) -> None:
    """Run :func:`work` in ``workers`` processes (1: in this process), each limited to its
    share of the cores (at least one thread)."""
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    if workers <= 1:
        with _threads(threads if workers == 1 else None):
            work(spec, storage_url, heartbeat=heartbeat, say=say)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # no forked torch or numba thread pools
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        jobs = [
            pool.submit(_work_in_process, (spec.to_json(), storage_url, heartbeat, w, threads))
            for w in range(workers)
        ]
        for job in jobs:
            job.result()  # a worker's error (e.g. bad data) is raised here


@contextlib.contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    """This process limited to ``threads`` CPU threads for the duration (None: unchanged)."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        limit_threads(threads)
    try:
        yield
    finally:
        if threads is not None:
            limit_threads(before)
