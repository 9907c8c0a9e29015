"""The tasks the ``rnnkit`` command and :mod:`rnnkit.api` know, by name and by artifact kind.

A new task is one new module with a :class:`~rnnkit.tasks.pipeline.Task` subclass and one line
in :data:`TASKS` below.
"""

from __future__ import annotations

from rnnkit.io.artifact import ArtifactError
from rnnkit.tasks import classify, forecast, lm, seq2seq, tag
from rnnkit.tasks.pipeline import Task

#: Every task, by name, in the order ``rnnkit train --help`` lists them.
TASKS: dict[str, Task] = {t.name: t for t in (forecast.TASK, classify.TASK, tag.TASK, lm.TASK,
                                               seq2seq.TASK, seq2seq.SUMMARIZE_TASK)}


def get_task(name: str) -> Task:
    """The task called ``name``.

    Raises:
        ValueError: no such task (the message lists the tasks).
    """
    if name not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")
    return TASKS[name]


def task_for_loaded(loaded: object) -> Task:
    """The task whose :meth:`~rnnkit.tasks.pipeline.Task.restore` made ``loaded``.

    Raises:
        TypeError: ``loaded`` is no task's loaded model.
    """
    for task in TASKS.values():
        if task.loaded_class is not None and isinstance(loaded, task.loaded_class):
            return task
    raise TypeError(
        "model must be a run directory, an artifact file or what rnnkit.load returned, got "
        f"{type(loaded).__name__}"
    )


def task_for_kind(kind: str, where: str = "the artifact") -> Task:
    """The task whose artifacts are of ``kind``.

    Raises:
        ArtifactError: no task of this rnnkit reads that kind.
    """
    for task in TASKS.values():
        if task.artifact_kind == kind:
            return task
    raise ArtifactError(
        f"{where} holds a model of kind {kind!r}, which no task of this rnnkit reads"
    )
