"""Synthetic sequence-to-sequence tasks for learning tests: small, exact and seeded.

Each task maps a source string to the one correct target string, so exact-match accuracy is
the measure and a model that learned the task reaches 100%:

* ``'reversal'`` — a string of 3–10 characters from digits and lower-case letters, reversed:
  ``'a3kx' -> 'xk3a'``;
* ``'addition'`` — two numbers in 0–999 and their sum: ``'123+456' -> '579'``;
* ``'dates'`` — a date from 1950-01-01 to 2049-12-31 written in one of
  :data:`DATE_FORMATS` human formats (``'3 March 2021'``, ``'03/03/21'``,
  ``'March 3rd, 2021'``, ...) -> ISO 8601 ``'2021-03-03'``. Numeric formats are day first
  (European ``dd/mm/yy``), and a two-digit year ``yy`` is 19yy for 50–99 and 20yy for 00–49,
  so every source has exactly one reading.

Sources are written without spaces: a character tokeniser suits them. All examples of a
dataset have distinct sources, so no validation or test source is seen in training. The same
``seed`` and sizes give the same data on every machine (numpy's PCG64 generator).

From Python: ``synthetic_pairs('addition', 100, seed=1)`` or ``synthetic_splits('dates')``;
through :func:`rnnkit.data.parallel.read_parallel` with the task's name.

:func:`copy_names_splits` makes the copy task of the pointer-generator's learning test and
measurement (not a bundled name): ``'… name is X …' -> 'hello X'`` with every name used once and
the validation names never in training, so only copying can produce them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np

from rnnkit.core.suggest import did_you_mean
from rnnkit.data.parallel import ParallelCorpus, ParallelSplits

#: Default (train, val, test) sizes: enough for a small model to learn each task in seconds
#: to a few minutes on a CPU, small enough to generate in well under a second.
DEFAULT_SIZES: dict[str, tuple[int, int, int]] = {
    "reversal": (4000, 400, 400),
    "addition": (20000, 1000, 1000),
    "dates": (8000, 500, 500),
}
REVERSAL_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
REVERSAL_LENGTHS = (3, 10)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FIRST_DATE = dt.date(1950, 1, 1)
LAST_DATE = dt.date(2049, 12, 31)


def _ordinal(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return f"{day}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


#: How dates are written in the sources (each picked with equal chance).
DATE_FORMATS: dict[str, Callable[[dt.date], str]] = {
    "d Month yyyy": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "dd/mm/yy": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year % 100:02d}",
    "Month dth, yyyy": lambda d: f"{MONTHS[d.month - 1]} {_ordinal(d.day)}, {d.year}",
    "Mon d, yyyy": lambda d: f"{MONTHS[d.month - 1][:3]} {d.day}, {d.year}",
    "d.m.yyyy": lambda d: f"{d.day}.{d.month}.{d.year}",
    "dd-Mon-yyyy": lambda d: f"{d.day:02d}-{MONTHS[d.month - 1][:3].upper()}-{d.year}",
    "dth of Month yyyy": lambda d: f"{_ordinal(d.day)} of {MONTHS[d.month - 1]} {d.year}",
    "Weekday, Month d, yyyy": lambda d: (
        f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}"
    ),
    "month d yyyy": lambda d: f"{MONTHS[d.month - 1].lower()} {d.day} {d.year}",
    "yyyymmdd": lambda d: f"{d.year:04d}{d.month:02d}{d.day:02d}",
    "dd/mm/yyyy": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
}


def _reversal(rng: np.random.Generator) -> tuple[str, str]:
    n = int(rng.integers(REVERSAL_LENGTHS[0], REVERSAL_LENGTHS[1] + 1))
    s = "".join(REVERSAL_ALPHABET[i] for i in rng.integers(0, len(REVERSAL_ALPHABET), n))
    return s, s[::-1]


def _addition(rng: np.random.Generator) -> tuple[str, str]:
    a, b = (int(x) for x in rng.integers(0, 1000, 2))
    return f"{a}+{b}", str(a + b)


_FORMAT_LIST = list(DATE_FORMATS.values())
_DAYS = (LAST_DATE - FIRST_DATE).days + 1


def _dates(rng: np.random.Generator) -> tuple[str, str]:
    day = FIRST_DATE + dt.timedelta(days=int(rng.integers(0, _DAYS)))
    write = _FORMAT_LIST[int(rng.integers(0, len(_FORMAT_LIST)))]
    return write(day), day.isoformat()


_MAKERS: dict[str, Callable[[np.random.Generator], tuple[str, str]]] = {
    "reversal": _reversal, "addition": _addition, "dates": _dates,
}
#: The synthetic task names.
SYNTHETIC_TASKS = tuple(_MAKERS)


def _check_name(name: str) -> None:
    if name not in _MAKERS:
        raise ValueError(
            f"task must be one of {list(_MAKERS)}, got {name!r}{did_you_mean(name, _MAKERS)}"
        )


def synthetic_pairs(name: str, n: int, *, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` (source, target) pairs of task ``name`` with distinct sources, seeded.

    Raises:
        ValueError: unknown task, ``n`` < 1, or more examples than the task has distinct
            sources within a generous number of draws.
    """
    _check_name(name)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    make = _MAKERS[name]
    rng = np.random.default_rng(seed)
    seen: dict[str, str] = {}
    draws = 0
    while len(seen) < n:
        draws += 1
        if draws > 20 * n + 1000:
            raise ValueError(
                f"n must be at most the number of distinct {name} examples reachable, got {n} "
                f"({len(seen)} distinct after {draws - 1} draws)"
            )
        source, target = make(rng)
        seen.setdefault(source, target)
    return list(seen), list(seen.values())


def synthetic_splits(name: str, *, seed: int = 0,
                     sizes: tuple[int, int, int] | None = None) -> ParallelSplits:
    """Train, val and test of task ``name`` (default sizes :data:`DEFAULT_SIZES`), disjoint
    in their sources, deterministic given ``seed``."""
    _check_name(name)
    sizes = DEFAULT_SIZES[name] if sizes is None else tuple(sizes)  # type: ignore[assignment]
    if len(sizes) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1
                              for s in sizes):
        raise ValueError(f"sizes must be three ints >= 1 (train, val, test), got {sizes!r}")
    sources, targets = synthetic_pairs(name, sum(sizes), seed=seed)
    parts = []
    start = 0
    for split, size in zip(("train", "val", "test"), sizes, strict=True):
        parts.append(ParallelCorpus(
            sources[start:start + size], [(t,) for t in targets[start:start + size]],
            f"synthetic {name}/{split} (seed {seed})",
        ))
        start += size
    return ParallelSplits(*parts)


#: Words around the name in the copy task's sources.
NAME_FILLERS = ("please", "tell", "the", "team", "that", "we", "met", "today", "and", "call",
                "soon")
_CONSONANTS, _VOWELS = "bcdfgklmnprstvz", "aeiou"


def copy_names_splits(train: int = 300, val: int = 60, *, seed: int = 0) -> ParallelSplits:
    """The 'repeat the name' copy task: ``'<1–3 fillers> name is X <0–2 fillers>'`` ->
    ``'hello X'``, X a random pronounceable 5-letter name (CVCVC; 84,375 possible), each name
    used in one example only, so no validation name occurs in training (a word vocabulary
    fitted on training lacks them all). Words are separated by single spaces: use a word
    tokenizer. No test split."""
    for name, value in (("train", train), ("val", val)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    rng = np.random.default_rng(seed)
    names: dict[str, None] = {}
    while len(names) < train + val:
        letters = [_CONSONANTS, _VOWELS, _CONSONANTS, _VOWELS, _CONSONANTS]
        names.setdefault("".join(str(rng.choice(list(pool))) for pool in letters))
    pool = list(names)
    parts = []
    for split, chosen in (("train", pool[:train]), ("val", pool[train:])):
        sources, targets = [], []
        for x in chosen:
            before = " ".join(rng.choice(NAME_FILLERS, size=int(rng.integers(1, 4))))
            after = " ".join(rng.choice(NAME_FILLERS, size=int(rng.integers(0, 3))))
            sources.append(f"{before} name is {x} {after}".strip())
            targets.append((f"hello {x}",))
        parts.append(ParallelCorpus(sources, targets, f"synthetic copy names/{split} "
                                                      f"(seed {seed})"))
    return ParallelSplits(parts[0], parts[1], None)
