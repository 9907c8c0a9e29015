"""Data for the training engine: batches, resumable loaders and synthetic tasks.

* :mod:`rnnkit.data.batching` — :class:`SequenceBatch` (what the trainer consumes),
  :class:`BatchLoader` (whole padded sequences, seeded shuffle) and :class:`StreamLoader`
  (long series as parallel stateful streams);
* :mod:`rnnkit.data.synthetic` — seeded generators of synthetic long-range tasks (adding
  problem, copy memory, temporal order, sequential digits).
"""

from rnnkit.data import (
    action_datasets,  # noqa: F401  (registers the action datasets of the data directory)
    classification_datasets,  # noqa: F401  (registers classify/tag datasets)
    series_datasets,  # noqa: F401  (registers the forecasting datasets)
)
from rnnkit.data.batching import BatchLoader, Loader, SequenceBatch, StreamLoader
from rnnkit.data.synthetic import (
    ADDING_SOLVED_TOLERANCE,
    ADDING_ZERO_MSE,
    adding_problem,
    copy_memory,
    copy_memory_baseline,
    sequential_digits,
    temporal_order,
)

__all__ = [
    "ADDING_SOLVED_TOLERANCE",
    "ADDING_ZERO_MSE",
    "BatchLoader",
    "Loader",
    "SequenceBatch",
    "StreamLoader",
    "adding_problem",
    "copy_memory",
    "copy_memory_baseline",
    "sequential_digits",
    "temporal_order",
]
