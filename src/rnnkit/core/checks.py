"""Argument checks shared by every configuration and constructor.

Each check comes in two forms:

* ``*_problem(name, value, ...)`` returns the problem as text ("lr must be a number in (0.0, inf),
  got -1") or ``None``; configurations collect these so that one error lists every problem;
* ``check_*(name, value, ..., owner=...)`` raises ``ValueError`` with that text (prefixed by
  ``owner: `` when given) and otherwise returns the value.

:func:`choice_problems` and :func:`int_problems` check several attributes of one object at once
(the task configurations' tables). Bools never count as numbers here: ``True`` is not an epoch
count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def choice_problem(name: str, value: Any, allowed: Sequence[Any]) -> str | None:
    """'name must be one of [...], got x' unless ``value`` is in ``allowed``.

    ``None`` in ``allowed`` is accepted but not listed (it means 'take the default')."""
    if value in allowed:
        return None
    shown = [a for a in allowed if a is not None]
    return f"{name} must be one of {shown}, got {value!r}"


def int_problem(name: str, value: Any, low: int, *, optional: bool = False) -> str | None:
    """'name must be [None or ]an int >= low, got x' unless ``value`` is such an int."""
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        kind = "None or " if optional else ""
        return f"{name} must be {kind}an int >= {low}, got {value!r}"
    return None


def number_problem(name: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
                   optional: bool = False, low_open: bool = False,
                   high_open: bool = False) -> str | None:
    """'name must be [None or ]a number in [low, high], got x' unless ``value`` is a finite
    int or float in that interval (``low_open``/``high_open`` exclude the ends; an infinite end
    is always open)."""
    if optional and value is None:
        return None
    ok = (
        not isinstance(value, bool) and isinstance(value, (int, float))
        and math.isfinite(value)
        and (value > low if low_open else value >= low)
        and (value < high if high_open else value <= high)
    )
    if ok:
        return None
    lo = "(" if low_open or low == -math.inf else "["
    hi = ")" if high_open or high == math.inf else "]"
    kind = "None or " if optional else ""
    return f"{name} must be {kind}a number in {lo}{low}, {high}{hi}, got {value!r}"


def _raise(problem: str | None, owner: str | None) -> None:
    if problem is not None:
        raise ValueError(f"{owner}: {problem}" if owner else problem)


def check_choice(name: str, value: T, allowed: Sequence[Any], *, owner: str | None = None) -> T:
    """``value`` if it is one of ``allowed``; else ``ValueError`` (see :func:`choice_problem`)."""
    _raise(choice_problem(name, value, allowed), owner)
    return value


def check_int(name: str, value: T, low: int, *, optional: bool = False,
              owner: str | None = None) -> T:
    """``value`` if it is an int >= ``low`` (or None when ``optional``); else ``ValueError``."""
    _raise(int_problem(name, value, low, optional=optional), owner)
    return value


def check_number(name: str, value: T, low: float = -math.inf, high: float = math.inf, *,
                 optional: bool = False, low_open: bool = False, high_open: bool = False,
                 owner: str | None = None) -> T:
    """``value`` if it is a finite number in the interval; else ``ValueError``."""
    _raise(number_problem(name, value, low, high, optional=optional, low_open=low_open,
                          high_open=high_open), owner)
    return value


def check_positive(name: str, value: T, *, optional: bool = False,
                   owner: str | None = None) -> T:
    """``value`` if it is a finite number > 0 (or None when ``optional``); else ``ValueError``."""
    return check_number(name, value, 0.0, optional=optional, low_open=True, owner=owner)


def choice_problems(obj: Any, table: Sequence[tuple[str, Sequence[Any]]]) -> list[str]:
    """:func:`choice_problem` of each ``(name, allowed)`` on ``getattr(obj, name)``."""
    found = (choice_problem(name, getattr(obj, name), allowed) for name, allowed in table)
    return [p for p in found if p is not None]


def int_problems(obj: Any, table: Sequence[tuple[str, int, bool]]) -> list[str]:
    """:func:`int_problem` of each ``(name, low, optional)`` on ``getattr(obj, name)``."""
    found = (int_problem(name, getattr(obj, name), low, optional=optional)
             for name, low, optional in table)
    return [p for p in found if p is not None]
