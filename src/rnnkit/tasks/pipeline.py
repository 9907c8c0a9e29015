"""The task pipeline: what a task provides, and the one runner that owns what every task shares.

A task (forecast, classify, tag, ...) is a :class:`Task` subclass that provides only what is
specific to it::

    Task                               the runner (:func:`run`) around it
    ─────────────────────────────────  ─────────────────────────────────────────────────────
    config_class, training_defaults    training config: task defaults, then the user's options
    prepare(config, training, say)     read data, split, fit preprocessing on the training
      -> Prepared                        split only, batches (the task's own modules in data/)
                                       seed everything
    build_model(prepared)              the model, sized for the preprocessing
                                       Trainer + best weights (+ time budget), 1-based
                                       best epoch, the ``training`` section of metrics.json
    score(model, prepared, seed)       metrics beside the task's baselines
      -> Scores
                                       one artifact layout: kind, {model, task} config,
                                       preprocessing state, metric summary; metrics.json
    plots(scores, prepared, run_dir)   PNG files (when ``training.plots``)
    summary(result), table(metrics)    the Markdown a person reads first
    restore(artifact) -> loaded        rebuild from one verified artifact (no code executed)
    evaluate(loaded, data), predict    score labelled data; predictions as a DataFrame

A new task is one new file with a :class:`Task` subclass and one line in
:mod:`rnnkit.tasks.registry`.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from rnnkit.core.suggest import did_you_mean
from rnnkit.io.artifact import Artifact, load_artifact, save_artifact
from rnnkit.runs import jsonable, write_text
from rnnkit.train import TrainConfig, Trainer, seed_everything
from rnnkit.train.callbacks import BestWeights, Callback, default_callbacks
from rnnkit.train.diagnostics import GradientDiagnostics, find_recurrent
from rnnkit.train.distributed import (
    DistributedContext,
    check_agreement,
    init_distributed,
    on_main,
    peer_lost,
    shutdown_distributed,
)
from rnnkit.train.memory import build_model_within_memory

#: ``say(text)``: print a progress line unless the run is quiet.
Say = Callable[[str], None]


class TaskConfig:
    """Base of the task config dataclasses: checks on construction, dict round trip.

    A subclass is a ``@dataclass`` that implements :meth:`problems` (every invalid option,
    as messages); construction raises one ValueError that lists them all.
    """

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError(f"{type(self).__name__}: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """Messages for every invalid option (none: the config is valid)."""
        return []

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Any:
        """The config of ``values`` (e.g. read from an artifact); unknown keys are refused."""
        known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        unknown = [k for k in values if k not in known]
        if unknown:
            raise ValueError(
                f"{cls.__name__}: unknown option(s) "
                + ", ".join(f"{k!r}{did_you_mean(k, known)}" for k in unknown)
            )
        return cls(**values)


#: Where the runner stores :attr:`Prepared.test_data` in an artifact's preprocessing.
TEST_DATA_KEY = "test_data"
#: Where the runner records a baseline shipped in the model's place (``fallback='baseline'``).
FALLBACK_KEY = "fallback"


@dataclass
class Prepared:
    """What :meth:`Task.prepare` returns: the resolved config, batches and the task's state.

    Attributes:
        config: the resolved task config (every None / 'auto' option filled).
        train_batches: the training loader (batches the trainer understands).
        val_batches: the validation loader, or None without validation data.
        preprocessing: the task's fitted preprocessing; ``artifact_state`` turns it into JSON.
        parts: the task's data splits and whatever scoring needs (task-specific).
        test_data: the identity of the test split (source, SHA-256, selection), or None.
    """

    config: Any
    train_batches: Iterable[Any]
    val_batches: Iterable[Any] | None
    preprocessing: Any
    parts: dict[str, Any] = field(default_factory=dict)
    #: Which data the test split is (:func:`rnnkit.data.provenance.identify_test_data`); the
    #: runner stores it in the artifact's preprocessing under :data:`TEST_DATA_KEY`, for
    #: ``evaluate(loaded, None)``. None: not recorded.
    test_data: dict[str, Any] | None = None


@dataclass
class Scores:
    """What :meth:`Task.score` returns.

    Attributes:
        metrics: the content of ``metrics.json`` without its ``training`` section, which the
            runner adds (``val`` and ``test`` hold the model beside the baselines).
        summary: the few metrics stored inside the artifact.
        details: task-specific results passed on to the result object (e.g. reports).
    """

    metrics: dict[str, Any]
    summary: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskResult:
    """What :func:`run` produced.

    Attributes:
        task: the task that ran.
        run_dir: the run directory.
        artifact_path: ``run_dir / 'model.safetensors'``.
        metrics: the content of ``metrics.json``; ``metrics['training']`` has the same keys for
            every task (epochs, 1-based best_epoch, best_value, monitor, seconds, stopped_by).
        plots: PNG files written by the task (the trainer adds learning curves).
        config: the resolved task configuration.
        training: the training configuration used.
    """

    task: Task
    run_dir: Path
    artifact_path: Path
    metrics: dict[str, Any]
    plots: list[Path]
    config: Any
    training: TrainConfig

    def table(self, part: str = "test") -> str:
        """Markdown table of ``part`` ('val' or 'test'): the model beside the baselines."""
        if part not in ("val", "test") or part not in self.metrics or not self.metrics[part]:
            scored = [p for p in ("val", "test") if self.metrics.get(p)]
            raise ValueError(f"part must be one of {scored}, got {part!r}")
        return self.task.table(self.metrics[part])

    def summary(self) -> str:
        """A short Markdown account of the run (what ``summary.md`` shows under Result)."""
        return self.task.summary(self)


class Task:
    """Base class of a task; subclasses set the class attributes and override the methods.

    Methods that raise :class:`NotImplementedError` here must be provided; the others have
    defaults that suit most tasks.
    """

    name: ClassVar[str]
    artifact_kind: ClassVar[str]
    description: ClassVar[str]
    config_class: ClassVar[type]
    result_class: ClassVar[type[TaskResult]] = TaskResult
    #: The type :meth:`restore` returns, so that a loaded model finds its task again.
    loaded_class: ClassVar[type | None] = None
    #: The metric that decides whether the model beats its baselines, and whether higher is
    #: better (e.g. ``("accuracy", True)``); empty: the task makes no such comparison.
    headline: ClassVar[tuple[str, bool]] = ("", False)
    #: Training options that suit this task (a user's options are laid over them).
    training_base: ClassVar[dict[str, Any]] = {}
    #: Per bundled dataset name: training options laid over :attr:`training_base`.
    dataset_training: ClassVar[dict[str, dict[str, Any]]] = {}
    #: Example command lines shown by ``rnnkit train --task NAME --help``.
    examples: ClassVar[tuple[str, ...]] = ()
    #: Baselines that :meth:`predict` can use in the network's place, for a config with
    #: ``fallback='baseline'`` (empty: the task has no such option).
    fallback_methods: ClassVar[tuple[str, ...]] = ()
    #: Whether the loss sits at each sequence's last step (one target per sequence), the
    #: distance the long-range diagnostics measure from (``diagnostics_every``).
    loss_at_sequence_end: ClassVar[bool] = False

    # ---- configuration ----------------------------------------------------------------------

    def training_defaults(self, config: Any | None) -> dict[str, Any]:
        """:class:`TrainConfig` values that suit ``config`` — a task config, a bundled dataset's
        name, or None for the task's generic ones: :attr:`training_base`, then the dataset's
        own :attr:`dataset_training`."""
        dataset = getattr(config, "data", config) or ""
        return {**self.training_base, **self.dataset_training.get(str(dataset), {})}

    def default_training(self, config: Any | None = None, **overrides: Any) -> TrainConfig:
        """:class:`TrainConfig` with :meth:`training_defaults`, then ``overrides``."""
        return TrainConfig(**{**self.training_defaults(config), **overrides})

    # ---- training ---------------------------------------------------------------------------

    def prepare(self, config: Any, training: TrainConfig, say: Say) -> Prepared:
        """Read, check and split the data; fit preprocessing on the training split; batches.

        A task that supports cross-validation (``rnnkit tune``) also takes a keyword ``fold``
        (:class:`rnnkit.data.folds.Fold`, default None): the data without its test split is
        cut into that fold's training pool, split into train and validation as usual, and its
        held-out part, returned as the ``test`` part; the preprocessing is fit on the fold's
        training part only.
        """
        raise NotImplementedError

    def build_model(self, prepared: Prepared) -> nn.Module:
        """The model a resolved config asks for, sized for the fitted preprocessing."""
        raise NotImplementedError

    def score(self, model: nn.Module, prepared: Prepared, seed: int) -> Scores:
        """Metrics of the trained ``model`` (eval mode) on validation and test, with baselines."""
        raise NotImplementedError

    def plots(self, scores: Scores, prepared: Prepared, run_dir: Path) -> list[Path]:
        """PNG files of the results (called only when ``training.plots``)."""
        return []

    def fallback_tensors(self, scores: Scores, method: str) -> dict[str, np.ndarray]:
        """Arrays the baseline ``method`` needs to predict in the network's place (stored in
        the artifact as ``fallback.<name>``; see :func:`fallback_arrays`); default: none."""
        return {}

    def callbacks(self, prepared: Prepared, training: TrainConfig) -> list[Any]:
        """Trainer callbacks of this task's own, run after the shared ones (default: none)."""
        return []

    def artifact_state(self, prepared: Prepared) -> dict[str, Any]:
        """The preprocessing as JSON, stored in the artifact (default: ``.to_json()``)."""
        return prepared.preprocessing.to_json()

    # ---- reports ----------------------------------------------------------------------------

    def table(self, part_metrics: dict[str, Any]) -> str:
        """Markdown table of one part's metrics: the model beside the baselines."""
        raise NotImplementedError

    def summary(self, result: TaskResult) -> str:
        """Markdown account of a run."""
        raise NotImplementedError

    def scores_by_method(self, part_metrics: dict[str, Any]) -> dict[str, float]:
        """The headline metric of one part for the model ('model') and each baseline (default:
        ``part['model']`` and ``part['baselines'][name]``)."""
        name = self.headline[0]
        out = {"model": part_metrics["model"].get(name)}
        for baseline, values in part_metrics.get("baselines", {}).items():
            out[baseline] = values.get(name)
        return {k: float(v) for k, v in out.items() if isinstance(v, (int, float))}

    def closing_lines(self, result: TaskResult) -> list[str]:
        """What a run that is not quiet prints when training is done."""
        return ["", result.table("test")] if result.metrics.get("test") else []

    def format_evaluation(self, metrics: dict[str, Any]) -> str:
        """How ``rnnkit evaluate`` prints the metrics of :meth:`evaluate`."""
        return json.dumps(metrics, indent=2, default=str)

    # ---- artifacts, evaluation, prediction --------------------------------------------------

    def upgrade(self, artifact: Artifact) -> Artifact:
        """An artifact of an older format in today's layout (default: the layout of format 1
        was already today's for this task)."""
        return artifact

    def restore(self, artifact: Artifact) -> Any:
        """Rebuild the loaded model (model + preprocessing + config) from a verified artifact."""
        raise NotImplementedError

    def evaluate(self, loaded: Any, data: Any = None) -> dict[str, Any]:
        """Metrics of a loaded model on labelled ``data`` (None: its own test data)."""
        raise NotImplementedError

    def predict(self, loaded: Any, data: Any) -> Any:
        """Predictions of a loaded model for ``data``, as a pandas DataFrame."""
        raise NotImplementedError

    # ---- helpers for subclasses -------------------------------------------------------------

    def load(self, path: str | os.PathLike[str] | Artifact) -> Any:
        """Read, verify and rebuild an artifact of this task (the file is read once).

        Whatever in the artifact does not fit this task is an :class:`ArtifactError` naming the
        field, raised before a loaded model is returned: an older layout that cannot be
        converted, a ``config.task`` this task's config class refuses, a ``config.model`` that
        does not match the tensors (:meth:`rebuild_model`), ``preprocessing`` without what the
        task rebuilds from it.
        """
        from rnnkit.io.artifact import ArtifactError

        artifact = path if isinstance(path, Artifact) else load_artifact(path)
        where = repr(artifact.source) if artifact.source else "the artifact"  # set by the reader
        if artifact.kind != self.artifact_kind:
            raise ValueError(
                f"artifact must be a {self.artifact_kind!r} (from rnnkit train --task "
                f"{self.name}), got {artifact.kind!r}"
                + ("" if isinstance(path, Artifact) else f" in {str(path)!r}")
            )

        def reason(err: Exception) -> str:
            # A KeyError's text is only the key: say that it is missing.
            return f"missing key {err}" if isinstance(err, KeyError) else str(err)

        # The tasks' own code below reads these without checks: a malformed artifact would
        # surface as a KeyError or TypeError from deep inside it.
        expected = (KeyError, TypeError, ValueError, AttributeError, IndexError)
        if artifact.format < CURRENT_LAYOUT:
            try:
                artifact = self.upgrade(artifact)
            except expected as err:
                raise ArtifactError(
                    f"{where}: its format-{artifact.format} metadata cannot be converted to "
                    f"today's layout: {reason(err)}"
                ) from err
        config = artifact.config
        if not isinstance(config, dict) or sorted(config) != ["model", "task"]:
            got = sorted(config) if isinstance(config, dict) else type(config).__name__
            raise ArtifactError(f"{where}: config: expected the keys ['model', 'task'], got {got}")
        if not isinstance(config["task"], dict):
            raise ArtifactError(
                f"{where}: config.task: expected a JSON object, got {type(config['task']).__name__}"
            )
        try:
            self.config_class.from_dict(config["task"])
        except (TypeError, ValueError) as err:
            raise ArtifactError(f"{where}: config.task: {err}") from err
        if not isinstance(artifact.preprocessing, dict):
            raise ArtifactError(
                f"{where}: preprocessing: expected a JSON object, "
                f"got {type(artifact.preprocessing).__name__}"
            )
        try:
            return self.restore(artifact)
        except ArtifactError as err:  # from rebuild_model: add the file
            raise ArtifactError(f"{where}: {err}") from err
        except expected as err:
            # config.model and config.task were checked: what is left is the preprocessing.
            raise ArtifactError(
                f"{where}: preprocessing: the {self.name} task cannot rebuild its preprocessing "
                f"from it: {reason(err)}"
            ) from err

    @staticmethod
    def rebuild_model(model_class: type[nn.Module], artifact: Artifact) -> Any:
        """``model_class`` built from the artifact's model config, its weights loaded, in eval
        mode.

        The config is checked against the constructor (unknown or missing keys, values it
        refuses) and the model it builds against the tensors (names, shapes, dtypes) before any
        weight is loaded; each problem is an :class:`ArtifactError` naming the field, e.g.
        ``config.model.hidden_size: 16 does not match the tensor encoder.weight_hh_l0 of shape
        (256, 64)``.
        """
        import inspect

        from rnnkit.io.artifact import ArtifactError
        from rnnkit.tasks.ensemble import is_ensemble_config, rebuild_ensemble

        config = artifact.config.get("model") if isinstance(artifact.config, dict) else None
        if is_ensemble_config(config):  # --ensemble N: each member rebuilt by this method
            return rebuild_ensemble(model_class, artifact, Task.rebuild_model)
        if not isinstance(config, dict):
            raise ArtifactError(
                f"config.model: expected a JSON object, got {type(config).__name__}"
            )
        params = inspect.signature(model_class).parameters
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        names = [n for n, p in params.items() if p.kind in named]
        required = [n for n in names if params[n].default is inspect.Parameter.empty]
        unknown = [k for k in config if k not in names]
        missing = [k for k in required if k not in config]
        if unknown or missing:
            shown = ", ".join(repr(k) + did_you_mean(k, names) for k in unknown)
            parts = [f"unknown key(s) {shown}" if unknown else "",
                     f"missing key(s) {missing}" if missing else ""]
            raise ArtifactError(
                f"config.model: {'; '.join(p for p in parts if p)} "
                f"({model_class.__name__} takes {names})"
            )
        try:
            model = model_class(**config)
        except (TypeError, ValueError) as err:
            raise ArtifactError(f"config.model: {err}") from err
        wanted = model.state_dict()
        own = [k for k in artifact.tensors if not k.startswith(FALLBACK_KEY + ".")]
        lacking = sorted(set(wanted) - set(own))
        surplus = sorted(set(own) - set(wanted))
        if lacking or surplus:
            raise ArtifactError(
                f"config.model does not match the tensors: the {model_class.__name__} it "
                f"describes has {len(wanted)} tensors; missing from the file: {lacking[:5]}; "
                f"in the file but not in the model: {surplus[:5]}"
            )
        for name, want in wanted.items():
            got = artifact.tensors[name]
            if tuple(got.shape) != tuple(want.shape):
                # Name the int options that size a differing dimension: want = k * value with
                # a small multiplier k (gates, directions) that also divides the stored size.
                differ = [
                    (w, g) for w, g in zip(want.shape, got.shape, strict=False) if w != g
                ] if want.dim() == got.dim() else []
                suspects = [
                    k for k, v in config.items()
                    if isinstance(v, int) and not isinstance(v, bool) and v > 1
                    and any(w % v == 0 and w // v <= 8 and g % (w // v) == 0 for w, g in differ)
                ]
                field = (
                    f"config.model.{suspects[0]}: {config[suspects[0]]}"
                    if len(suspects) == 1
                    else "config.model"
                    + (f" (one of {', '.join(suspects)})" if suspects else "")
                )
                raise ArtifactError(
                    f"{field} does not match the tensor {name} of shape {tuple(got.shape)} "
                    f"(the config builds {tuple(want.shape)})"
                )
            if got.dtype != want.dtype:
                raise ArtifactError(
                    f"tensor {name}: expected dtype {want.dtype}, got {got.dtype}"
                )
        model.load_state_dict({k: artifact.tensors[k] for k in own})
        return model.eval()

    def loaded(self, artifact: Any, loaded_class: type) -> Any:
        """``artifact`` if it is already a ``loaded_class``, else :meth:`load` it."""
        return artifact if isinstance(artifact, loaded_class) else self.load(artifact)

    def __repr__(self) -> str:
        return f"<task {self.name!r}: {self.description}>"


#: The artifact format whose layout is ``config = {'model': ..., 'task': ...}``; older formats
#: are converted by :meth:`Task.upgrade`. Format 3 kept this layout (it signs the metadata too).
CURRENT_LAYOUT = 2


def training_line(t: dict[str, Any]) -> str:
    """'N epochs, best epoch K, S s' from ``metrics['training']`` (and what ended it early)."""
    if t.get("members"):  # an ensemble: each member's own
        each = t["members"]
        return (f"{len(each)} ensemble members: epochs "
                f"{'/'.join(str(m['epochs']) for m in each)}, best epochs "
                f"{'/'.join(str(m['best_epoch']) for m in each)}, {t['seconds']:.0f} s")
    line = f"{t['epochs']} epochs, best epoch {t['best_epoch']}, {t['seconds']:.0f} s"
    return line + (f"; stopped: {t['stopped_by']}" if t.get("stopped_by") else "")


# --------------------------------------------------------------------------------------------
# The runner
# --------------------------------------------------------------------------------------------


@dataclass
class Fitted:
    """What :func:`fit_model` leaves behind besides the trained model."""

    trainer: Trainer
    best: BestWeights
    stopped_by: str | None = None

    def summary(self, seconds: float) -> dict[str, Any]:
        """The ``training`` section of ``metrics.json`` (the same keys for every task)."""
        return {
            "epochs": len(self.trainer.history.epochs),
            "best_epoch": None if self.best.epoch is None else self.best.epoch + 1,
            "best_value": self.best.best,
            "monitor": self.trainer.config.monitor,
            "seconds": seconds,
            "stopped_by": self.stopped_by,
        }


def fit_model(
    model: nn.Module,
    train_batches: Iterable[Any],
    val_batches: Iterable[Any] | None,
    training: TrainConfig,
    *,
    resume: str | os.PathLike[str] | None = None,
    extra_callbacks: Iterable[Callback] = (),
) -> Fitted:
    """Train ``model`` and leave it holding the weights of its best epoch, in eval mode.

    The best epoch is the one with the best ``training.monitor``; without validation batches a
    ``val_*`` monitor falls back to the training loss (and early stopping and plateau
    reduction, which would watch a value that never comes, are switched off). ``training`` is
    changed in place to record that fallback.

    ``resume``: a checkpoint (e.g. ``run_dir/last.safetensors``) to continue from exactly; the
    best epoch found before it was written is part of it.

    ``extra_callbacks``: more callbacks, run after the built-in ones: the task's own
    (:meth:`Task.callbacks`), or the pruning report of ``rnnkit tune``, which must see the epoch
    after early stopping has decided.
    """
    if val_batches is None and training.monitor.startswith("val_"):
        training.monitor = "train_loss"
        training.early_stopping = training.plateau_patience = None
    best = BestWeights(training.monitor, training.monitor_mode)
    # Best weights first: the checkpoint written at the same epoch end must already hold them.
    trainer = Trainer(
        model, training, callbacks=[best, *default_callbacks(training), *extra_callbacks]
    )
    trainer.fit(train_batches, val_batches, resume=resume)
    if best.weights is not None:
        model.load_state_dict(best.weights)
    model.eval()
    return Fitted(trainer, best, trainer.stop_reason)


def run(
    task: Task,
    config: Any,
    run_dir: str | os.PathLike[str] | None,
    *,
    training: TrainConfig | None = None,
    quiet: bool = False,
    resume: str | os.PathLike[str] | None = None,
    create: Callable[[Prepared], Path] | None = None,
) -> TaskResult:
    """Train, score and save a model for ``task`` into ``run_dir``.

    Writes ``model.safetensors`` (the artifact), ``metrics.json``, the task's plots and what
    the trainer writes (history, learning curves, best/last checkpoints). The artifact also
    records which data the test split is (:mod:`rnnkit.data.provenance`), so that evaluating
    the model on "its own test data" later scores exactly that split.

    Args:
        task: the task (see :mod:`rnnkit.tasks.registry`).
        config: the task's options (None / 'auto' options are resolved by the task).
        run_dir: an existing folder for the run's files; None with ``create``.
        training: trainer options (default: the task's for ``config``); its ``out_dir``
            defaults to the run directory and ``quiet`` is or-ed with ``quiet``.
        quiet: no progress bar and no printed lines.
        resume: a checkpoint of this run (``run_dir/last.safetensors``) to continue from; the
            data are prepared again from the same options, and the result is identical to
            that of a run that was never interrupted.
        create: called with the prepared data to make (or check and return) the run
            directory, instead of ``run_dir``: a run whose data cannot be read, split or
            checked fails before any folder exists, so nothing is left behind to block a retry.

    Under ``torchrun`` (``WORLD_SIZE`` set) the same call runs data-parallel: it joins the
    process group (gloo on CPUs, nccl on GPUs) unless the caller already did, every rank
    prepares the same data (checked by a digest), rank 0 alone calls ``create``, prints and
    writes files, and the others receive the run directory's path from it; the trainer shards
    the batches. Every rank returns the same result.

    Raises:
        ValueError: bad data or options (the message says which and why).
    """
    started = time.perf_counter()
    if (run_dir is None) == (create is None):
        raise TypeError("run: give exactly one of run_dir (an existing folder) and create")
    # Under torchrun: join the process group (nothing happens in a single process). Rank 0
    # alone makes the run directory, writes files and prints (see _run).
    owns_group = not (dist.is_available() and dist.is_initialized())
    ctx = init_distributed()
    owns_group = owns_group and ctx.enabled
    made: list[Path] = []  # the run directory, once there is one
    try:
        result = _run(task, config, run_dir, training, quiet, resume, create, ctx, started, made)
    except BaseException as err:
        if owns_group:  # leave the group without waiting: the others may be gone
            _leave_group()
        lost = peer_lost(err, ctx, made[0] if made else None)
        if lost is not None:
            raise lost from err
        raise
    if owns_group:
        shutdown_distributed()  # waits for every rank, so none exits while rank 0 writes
    return result


def _leave_group() -> None:
    try:
        dist.destroy_process_group()
    except Exception:  # already failing: the original error is the one to report
        pass


def _fingerprint(task: Task, prepared: Prepared) -> str:
    """SHA-256 of what every rank must have identically: the fitted preprocessing, the test
    split's identity, the number of training and validation batches and their first batch."""
    digest = hashlib.sha256()
    # The preprocessing's own JSON (what the default artifact_state stores; a task's
    # artifact_state may need its scores, which do not exist yet).
    to_json = getattr(prepared.preprocessing, "to_json", None)
    state = {"preprocessing": to_json() if callable(to_json) else None,
             "test_data": prepared.test_data}
    digest.update(json.dumps(_jsonable(state), sort_keys=True).encode("utf-8"))
    for loader in (prepared.train_batches, prepared.val_batches):
        if not (hasattr(loader, "batches") and hasattr(loader, "__len__")):
            continue
        digest.update(str(len(loader)).encode())  # type: ignore[arg-type]
        first = next(iter(loader.batches(0)), None)  # type: ignore[union-attr]
        for name in ("inputs", "targets", "lengths", "mask"):
            value = getattr(first, name, None)
            if isinstance(value, torch.Tensor):
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _run(
    task: Task,
    config: Any,
    run_dir: str | os.PathLike[str] | None,
    training: TrainConfig | None,
    quiet: bool,
    resume: str | os.PathLike[str] | None,
    create: Callable[[Prepared], Path] | None,
    ctx: DistributedContext,
    started: float,
    made: list[Path],
) -> TaskResult:
    """:func:`run` inside the process group (if any): every rank prepares the same data and
    trains its shard; rank 0 alone makes the run directory, prints and writes files."""
    if run_dir is not None:
        run_dir = Path(run_dir)
        if ctx.is_main and not run_dir.is_dir():  # other machines need not see rank 0's folder
            raise ValueError(f"run_dir must be an existing folder, got {str(run_dir)!r}")
    training = copy.deepcopy(training) if training is not None else task.default_training(config)
    training.quiet = training.quiet or quiet

    def say(text: str) -> None:
        if not training.quiet and ctx.is_main:
            print(text, flush=True)

    _check_diagnostics_task(task, training)  # before the data are read
    if training.ensemble > 1:
        from rnnkit.tasks import ensemble as ens

        ens.check_ensemble(task, training, distributed=ctx.enabled)
        if resume is not None:
            raise ValueError(f"resume: an ensemble run (ensemble={training.ensemble}) cannot be "
                             "resumed; train it again")
    prepared = task.prepare(config, training, say)
    # Every rank read and fit the same things (same files, same seed): check it, since a
    # rank that differs would train another model and average nonsense into the weights.
    if ctx.enabled:
        check_agreement(_fingerprint(task, prepared), ctx, "the prepared data or preprocessing")
    if create is not None:
        run_dir = Path(on_main(lambda: str(create(prepared)), ctx, "making the run directory"))
    run_dir = Path(run_dir)  # type: ignore[arg-type]
    made.append(run_dir)
    if ctx.enabled:  # said at the start: what --resume takes if a process is lost
        say(f"run directory: {run_dir} ({ctx.world_size} processes, {ctx.backend})")
    if training.out_dir is None:
        training.out_dir = str(run_dir)
    if training.ensemble > 1:  # members in run_dir/member-<i>/, scored alone, then together
        members = ens.fit_members(task, prepared, training, run_dir, say)
        model, diagnostics = members.model, []
        each = ens.score_members(task, model, prepared)
        scores = task.score(model, prepared, training.seed)
        metrics = {**scores.metrics,
                   "training": ens.training_summary(members, time.perf_counter() - started),
                   "ensemble": ens.ensemble_section(task, members, scores.metrics, each)}
    else:
        model = build_seeded_model(task, prepared, training)
        diagnostics = _diagnostics_callback(task, model, prepared, training)
        fitted = fit_model(
            model, prepared.train_batches, prepared.val_batches, training, resume=resume,
            extra_callbacks=[*task.callbacks(prepared, training), *diagnostics],
        )
        if fitted.stopped_by:
            say(f"training ended: {fitted.stopped_by}")
        # Every rank holds the same weights and scores them the same way (so that each returns
        # the same result); only rank 0 writes.
        scores = task.score(model, prepared, training.seed)
        metrics = {**scores.metrics, "training": fitted.summary(time.perf_counter() - started)}
    if diagnostics and diagnostics[0].records:
        metrics["diagnostics"] = diagnostics[0].summary()
    verdict = compare_with_baselines(task, metrics)
    if verdict is not None:
        metrics["verdict"] = verdict
    state = task.artifact_state(prepared)
    fallback = choose_fallback(task, prepared.config, verdict)
    tensors = dict(model.state_dict())
    if fallback is not None:
        for name, value in task.fallback_tensors(scores, fallback["method"]).items():
            tensors[f"{FALLBACK_KEY}.{name}"] = torch.as_tensor(np.ascontiguousarray(value))
        metrics[FALLBACK_KEY] = fallback
        state = {**state, FALLBACK_KEY: fallback}
        say(
            f"fallback: the {fallback['method']} baseline is shipped as the model (it beat the "
            f"network on {fallback['part']} {fallback['metric']}: {fallback['baseline']:.4g} vs "
            f"{fallback['model']:.4g})"
        )
    if prepared.test_data is not None:  # beside the fitted state: which data the test split is
        state = {**state, TEST_DATA_KEY: prepared.test_data}
    artifact_path = run_dir / "model.safetensors"
    if not ctx.is_main:
        return task.result_class(
            task, run_dir, artifact_path, metrics, [], prepared.config, training,
            **scores.details,
        )
    artifact_path = save_artifact(
        artifact_path,
        Artifact(
            kind=task.artifact_kind,
            config={"model": _jsonable(model.config), "task": _jsonable(prepared.config.to_dict())},
            tensors=tensors,
            preprocessing=_jsonable(state),
            metrics=_jsonable(scores.summary),
        ),
    )
    write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2, default=jsonable) + "\n")
    plots = task.plots(scores, prepared, run_dir) if training.plots else []
    result = task.result_class(
        task,
        run_dir,
        artifact_path,
        metrics,
        plots,
        prepared.config,
        training,
        **scores.details,
    )
    for line in task.closing_lines(result):
        say(line)
    return result


def _check_diagnostics_task(task: Task, training: TrainConfig) -> None:
    """Refuse ``diagnostics_every`` for a task without one loss at each sequence's end."""
    if training.diagnostics_every is not None and not task.loss_at_sequence_end:
        raise ValueError(
            f"diagnostics_every applies to tasks whose loss sits at each sequence's last step "
            f"(classify), got task {task.name!r}, whose loss is not one target at the end of "
            f"each sequence: there is no single distance from the loss to measure"
        )


def _diagnostics_callback(
    task: Task, model: nn.Module, prepared: Prepared, training: TrainConfig
) -> list[GradientDiagnostics]:
    """The long-range diagnostics callback when ``training.diagnostics_every`` is set: measured
    on the first validation batch (the first training batch when there is no validation
    split), written into the run directory.

    Raises:
        ValueError: the task's loss is not at each sequence's end, or the model's recurrent
            stack is bidirectional or missing — said before training, not at the first epoch.
    """
    if training.diagnostics_every is None:
        return []
    _check_diagnostics_task(task, training)
    find_recurrent(model)  # a bidirectional or missing stack is refused now
    loaders = [prepared.val_batches, prepared.train_batches]
    batch = next((b for loader in loaders if loader is not None
                  for b in loader.batches(0)), None)
    if batch is None:
        raise ValueError("diagnostics_every needs at least one batch of data to measure on")
    return [GradientDiagnostics(batch, every=training.diagnostics_every,
                                out_dir=training.out_dir)]


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (numpy and torch scalars and arrays become numbers)."""
    return json.loads(json.dumps(value, default=jsonable))



def build_seeded_model(task: Task, prepared: Prepared, training: Any) -> nn.Module:
    """The task's model with fresh weights drawn from ``training.seed`` (every RNG seeded),
    on ``training.device``. Sized on the meta device first: a model too large for memory is a
    clear error, not an allocator traceback (the random state is restored, so the weights are
    as without it)."""
    seed_everything(training.seed)
    return build_model_within_memory(
        lambda: task.build_model(prepared), optimizer=training.optimizer, device=training.device
    )


def without_baselines(config: Any) -> Any:
    """A copy of a task config that fits no baselines: for scoring where they are not
    reported (a tuning fold, an ensemble member), since they do not depend on the model and the
    library ones (statsforecast, 1-NN DTW) cost seconds a fit."""
    off = {name: value for name, value in (("baselines", False), ("stat_baselines", "off"))
           if hasattr(config, name)}
    return dataclasses.replace(config, **off) if off else config


def compare_with_baselines(task: Task, metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The model against its best baseline on validation (test when there is no validation):
    ``{'part', 'metric', 'higher_is_better', 'model', 'best_baseline', 'baseline',
    'model_wins', 'tie'}`` (a tie counts as no loss, so nothing falls back, but is said as a
    tie), or None when the task or the run has nothing to compare."""
    name, higher = task.headline
    if not name:
        return None
    part = "val" if metrics.get("val") else "test"
    if not metrics.get(part):
        return None
    scores = task.scores_by_method(metrics[part])
    model = scores.pop("model", None)
    scores = {k: v for k, v in scores.items() if math.isfinite(v)}
    if model is None or not math.isfinite(model) or not scores:
        return None
    pick = max if higher else min
    best = pick(scores, key=scores.__getitem__)
    wins = model >= scores[best] if higher else model <= scores[best]
    verdict = {
        "part": part,
        "metric": name,
        "higher_is_better": higher,
        "model": model,
        "best_baseline": best,
        "baseline": scores[best],
        "model_wins": bool(wins),
        "tie": bool(model == scores[best]),
    }
    # A library baseline (e.g. statsforecast's AutoETS) counts here but cannot be shipped:
    # the best of those that can be is what fallback='baseline' chooses from.
    shippable = {k: v for k, v in scores.items() if k in task.fallback_methods}
    if best not in shippable and shippable:
        verdict["best_shippable"] = pick(shippable, key=shippable.__getitem__)
        verdict["shippable_baseline"] = shippable[verdict["best_shippable"]]
    return verdict


def choose_fallback(
    task: Task, config: Any, verdict: dict[str, Any] | None
) -> dict[str, Any] | None:
    """What to ship in the network's place: the best baseline when ``config.fallback`` is
    'baseline' and the network lost to it (on validation, else test), as ``{'method', 'part',
    'metric', 'model', 'baseline'}``; None to ship the network."""
    if getattr(config, "fallback", "none") != "baseline" or verdict is None:
        return None
    if verdict["model_wins"]:
        return None
    method, score = verdict["best_baseline"], verdict["baseline"]
    if method not in task.fallback_methods:  # the best cannot be shipped: the best that can
        method, score = verdict.get("best_shippable"), verdict.get("shippable_baseline")
        if method is None or score is None:
            return None
        higher, model = verdict["higher_is_better"], verdict["model"]
        if (model >= score) if higher else (model <= score):
            return None
    return {
        "method": method,
        "part": verdict["part"],
        "metric": verdict["metric"],
        "model": verdict["model"],
        "baseline": score,
    }


def fallback_arrays(tensors: dict[str, Any]) -> dict[str, np.ndarray]:
    """The arrays :meth:`Task.fallback_tensors` stored in an artifact, by their own names."""
    prefix = FALLBACK_KEY + "."
    return {k[len(prefix) :]: v.numpy() for k, v in tensors.items() if k.startswith(prefix)}


def verdict_text(verdict: dict[str, Any], fallback: dict[str, Any] | None = None) -> str:
    """The comparison in words, loss first: what a person should read before any table; with
    ``fallback`` (:func:`choose_fallback`), that the baseline was shipped instead."""
    part = "validation" if verdict["part"] == "val" else "test"
    if fallback is not None and fallback["method"] != verdict["best_baseline"]:
        return (
            f"**The model loses to the {verdict['best_baseline']} baseline on the {part} data** "
            f"({verdict['metric']} {verdict['model']:.4g} for the model, "
            f"{verdict['baseline']:.4g} for {verdict['best_baseline']}), which cannot be "
            f"shipped in its place; as fallback='baseline' asks, **the best baseline that can, "
            f"{fallback['method']} ({fallback['baseline']:.4g}), is shipped as the model**: "
            "`rnnkit predict` uses it, and the artifact records it. The network's scores stay "
            "in the tables below."
        )
    if fallback is not None:
        return (
            f"**The model loses to the {fallback['method']} baseline on the {part} data** "
            f"({verdict['metric']} {verdict['model']:.4g} for the model, "
            f"{verdict['baseline']:.4g} for {fallback['method']}), so, as fallback='baseline' "
            f"asks, **the {fallback['method']} baseline is shipped as the model**: `rnnkit "
            "predict` uses it, and the artifact records it. The network's scores stay in the "
            "tables below."
        )
    numbers = (
        f"{verdict['metric']} {verdict['model']:.4g} for the model, {verdict['baseline']:.4g} "
        f"for {verdict['best_baseline']}"
    )
    if verdict.get("tie"):  # e.g. BLEU 0 for both on answers too short for 4-grams
        return (f"The model ties with the {verdict['best_baseline']} baseline on the {part} "
                f"data ({numbers}): it does not beat it.")
    if verdict["model_wins"]:
        return f"The model beats every baseline on the {part} data ({numbers})."
    if "best_shippable" in verdict:  # the best baseline is a library's, not saved by rnnkit
        use = (
            f"or use {verdict['best_baseline']} itself (its library; fallback='baseline' can "
            f"ship only rnnkit's baselines, the best of which, {verdict['best_shippable']}, "
            f"scores {verdict['shippable_baseline']:.4g})"
        )
    else:
        use = "or use the baseline: on this data it is the better model"
    return (
        f"**The model loses to the {verdict['best_baseline']} baseline on the {part} data** "
        f"({numbers}). Before relying on it, try a longer training budget (--epochs, "
        f"--max-time), another cell or hidden size, {use}."
    )
