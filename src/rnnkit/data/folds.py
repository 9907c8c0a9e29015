"""Cross-validation folds that respect the data: stratified, grouped, and rolling-origin.

A task's ``prepare(config, training, say, fold=...)`` (see :mod:`rnnkit.tasks.pipeline`) uses a
:class:`Fold` to replace its usual train / validation / test split with one fold of K:

* the *development pool* is the data without its test split (the bundled dataset's fixed test
  marks, ``test_data``, or the held-out ``test_fraction``): cross-validation never sees the
  test data, which stays for the final model;
* fold i of K holds out one K-th of the pool as that fold's *scoring* part (stored as the
  ``test`` part of the fold), and the task splits the rest into training and validation
  (validation drives early stopping and the best epoch) exactly as it would the whole data;
* the task fits its preprocessing (vocabulary, normaliser, scalers) on the fold's training part
  only, so nothing of the held-out fold leaks into the model.

How the pool is cut:

* labelled sequences (classification): stratified K-fold, each class spread over the folds in
  its proportion (``sklearn.model_selection.StratifiedKFold``, shuffled with the fold's seed);
* with ``group_column``: grouped K-fold (``GroupKFold``): every group (speaker, subject,
  series) lies wholly in one fold, so a model is never scored on a group it trained on;
* other sequences (tagging): shuffled K-fold;
* time series (forecasting): rolling origin (``TimeSeriesSplit``) over the distinct timestamps
  of the development period: fold i trains on everything before its scoring block and is scored
  on the block, so no fold ever trains on the future of what it is scored on;
* one long text (language models): K contiguous blocks of the training text (cut at line ends
  where the block has any): block i is scored, the blocks before and after it train, and the
  last part of those validates — the real validation text is never seen by a fold.

scikit-learn makes the folds; it is part of the ``tune`` extra (``pip install rnnkit[tune]``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.core.suggest import did_you_mean

INSTALL = 'pip install "rnnkit[tune]"'


@dataclass(frozen=True)
class Fold:
    """Fold ``index`` (0-based) of ``k``-fold cross-validation.

    Attributes:
        k: number of folds (at least 2).
        index: which fold is held out for scoring, 0 ≤ index < k.
        seed: shuffles the stratified and plain K-fold assignment (the same for every fold of
            one cross-validation, so the K folds partition the pool).
        group_column: a column of the data's rows whose values must not be split between
            folds (None: no grouping).
    """

    k: int
    index: int
    seed: int = 0
    group_column: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 2:
            raise ValueError(f"cv (the number of folds) must be an integer >= 2, got {self.k!r}")
        if not isinstance(self.index, int) or not 0 <= self.index < self.k:
            raise ValueError(f"fold index must be in [0, {self.k}), got {self.index!r}")


def _sklearn_model_selection() -> Any:
    try:
        from sklearn import model_selection
    except ImportError as err:  # pragma: no cover - the extra is installed in CI
        raise ImportError(
            f"cross-validation folds need scikit-learn, which is not installed: {INSTALL}"
        ) from err
    return model_selection


def fold_indices(
    n: int,
    fold: Fold,
    *,
    labels: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(training, held-out) indices of ``fold`` over ``n`` items, each sorted.

    ``groups`` (grouped K-fold) wins over ``labels`` (stratified K-fold); with neither the
    items are shuffled into K folds.

    Raises:
        ValueError: fewer items, classes members or groups than folds (the message says which).
    """
    ms = _sklearn_model_selection()
    k = fold.k
    if n < k:
        raise ValueError(f"cv must be at most the number of sequences to cross-validate ({n}), "
                         f"got {k}")
    x = np.zeros((n, 1))
    if groups is not None:
        groups = np.asarray([str(g) for g in groups])
        distinct = len(set(groups.tolist()))
        if distinct < k:
            raise ValueError(
                f"cv must be at most the number of groups in group column "
                f"{fold.group_column!r} ({distinct}), got {k}"
            )
        splits = list(ms.GroupKFold(n_splits=k).split(x, groups=groups))
    elif labels is not None:
        keys = np.asarray([str(v) for v in labels])
        names, counts = np.unique(keys, return_counts=True)
        if counts.min() < k:
            smallest = str(names[int(np.argmin(counts))])
            raise ValueError(
                f"cv must be at most the size of the smallest class for stratified folds "
                f"(class {smallest!r} has {int(counts.min())} sequences outside the test "
                f"split), got {k}"
            )
        splitter = ms.StratifiedKFold(n_splits=k, shuffle=True, random_state=fold.seed)
        splits = list(splitter.split(x, keys))
    else:
        splits = list(ms.KFold(n_splits=k, shuffle=True, random_state=fold.seed).split(x))
    train, held = splits[fold.index]
    return np.sort(train), np.sort(held)


def group_values(data: Any, column: str) -> np.ndarray:
    """The values of ``column`` in ``data.frame`` (one row per sequence).

    Raises:
        ValueError: the data has no such per-sequence column (the message lists those it has).
    """
    frame = getattr(data, "frame", None)
    if frame is None or column not in frame.columns:
        have = [] if frame is None else [str(c) for c in frame.columns]
        raise ValueError(
            f"group_column must be a column of the data's rows, got {column!r}; the rows have "
            f"{have}{did_you_mean(column, have)}"
        )
    return frame[column].to_numpy()


def pool_rows(n: int, test_rows: np.ndarray | None) -> np.ndarray:
    """Row numbers 0..n-1 outside ``test_rows`` (None: every row), sorted."""
    rows = np.arange(n)
    return rows if test_rows is None else np.setdiff1d(rows, np.asarray(test_rows))


def pool_fold(
    data: Any, pool: np.ndarray, fold: Fold, *, stratify: bool
) -> tuple[Any, Any]:
    """(training pool, held-out fold) of ``data.subset(pool)`` for ``fold``.

    ``stratify``: use ``data.labels`` for stratified folds (unless the fold is grouped).
    """
    part = data.subset(pool)
    groups = group_values(part, fold.group_column) if fold.group_column else None
    labels = part.labels if stratify else None
    train, held = fold_indices(len(part), fold, labels=labels, groups=groups)
    return part.subset(train), part.subset(held)


def fold_parts(
    data: Any,
    split: Any,
    config: Any,
    seed: int,
    test: Any,
    fold: Fold | None,
    *,
    stratify: bool,
) -> dict[str, Any]:
    """A task's 'train'/'val'/'test' parts of ``data`` through its ``split(data, config, seed,
    test)``; with a ``fold`` (cross-validation), the fold's held-out part of the data outside
    the test split is the 'test' part, so no fold ever sees the real test split."""
    from rnnkit.data.provenance import Rows

    if fold is None:
        return split(data, config, seed, test)
    test_rows = None if test is not None else split(Rows.of(data), config, seed, None)["test"].rows
    pool, held = pool_fold(data, pool_rows(len(data), test_rows), fold, stratify=stratify)
    return split(pool, config, seed, held)


def rolling_origin(
    table: Any, test_start: Any, fold: Fold, val_fraction: float
) -> tuple[Any, Any]:
    """(table, :class:`~rnnkit.data.windows.TimeSplit`) of a forecasting ``fold``.

    The development period is every distinct timestamp before ``test_start``; it is cut by
    ``TimeSeriesSplit(k)`` into a growing training period and a scoring block of
    ⌊U_dev / (k + 1)⌋ timestamps. The returned table ends with fold's block (nothing later is
    kept, so no window can read it); its split puts validation at the last ``val_fraction`` of
    the fold's training timestamps and the test period at the block.

    Raises:
        ValueError: too few timestamps for ``k`` folds.
    """
    from rnnkit.data.windows import TimeSplit

    ms = _sklearn_model_selection()
    times = table.frame[table.time_column].to_numpy()
    unique = np.unique(times)
    dev = unique[unique < np.asarray(test_start, dtype=unique.dtype)]
    if len(dev) < 2 * (fold.k + 1):
        raise ValueError(
            f"cv must leave at least 2 timestamps per rolling-origin block: the development "
            f"period before the test split has {len(dev)} timestamps, too few for cv={fold.k}"
        )
    train, held = list(ms.TimeSeriesSplit(n_splits=fold.k).split(dev))[fold.index]
    n_val = round(len(train) * val_fraction)
    block_start = dev[held[0]]
    val_start = dev[len(train) - n_val] if n_val else block_start
    keep = times <= dev[held[-1]]
    frame = table.frame[keep].reset_index(drop=True)
    return dataclasses.replace(table, frame=frame), TimeSplit(val_start, block_start)


def text_block_fold(text: str, fold: Fold, val_fraction: float) -> tuple[str, str, str]:
    """(train, val, held-out) texts of a language model's ``fold`` of ``text``.

    ``text`` (the training text; the validation text stays out of cross-validation) is cut into
    ``fold.k`` contiguous blocks of about equal length, each border moved back to just after the
    last line end in the block's second half when there is one, so blocks hold whole lines.
    Block ``fold.index`` is held out for scoring; the blocks before and after it, joined, are the
    fold's pool, whose last ``val_fraction`` of characters validate (the cut ``read_corpus``
    makes). Contiguous blocks, not shuffled lines, because a language model's neighbouring
    lines are not independent: shuffling would score it on text it has nearly seen.

    Raises:
        ValueError: a text too short for ``fold.k`` blocks of at least 2 characters each.
    """
    n = len(text)
    if n < 2 * fold.k:
        raise ValueError(
            f"cv must leave at least 2 characters per contiguous block: the training text has "
            f"{n} characters, too few for cv={fold.k}"
        )
    borders = [0]
    for i in range(1, fold.k):
        target = i * n // fold.k
        line_end = text.rfind("\n", (borders[-1] + target) // 2, target)
        borders.append(line_end + 1 if line_end > borders[-1] else target)
    borders.append(n)
    start, end = borders[fold.index], borders[fold.index + 1]
    pool = text[:start] + text[end:]
    split = int(len(pool) * (1 - val_fraction)) if val_fraction > 0 else len(pool)
    return pool[:split], pool[split:], text[start:end]
