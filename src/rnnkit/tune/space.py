"""The search space of ``rnnkit tune``: ``--search`` specs read into typed parameters.

Two forms, for any option of the task's config or of the training config::

    hidden_size=32,64,128      a list: every value is tried (grid search when all are lists)
    lr=1e-4..1e-2:log          a range: the optimiser (Optuna's TPE sampler) picks values,
    num_layers=1..3            uniformly, or uniformly in log space with ':log'; an int option
                               gives integers

Values are converted with the option's own type, as on the ``rnnkit train`` command line, so a
bad value is refused before anything is trained.
"""

from __future__ import annotations

import itertools
import math
import re
import typing
from dataclasses import dataclass
from typing import Any

from rnnkit.config import coerce, describe_type, options_of
from rnnkit.core.suggest import did_you_mean

#: LOW..HIGH with an optional ':scale' (numbers may hold '.', never '..').
_RANGE = re.compile(r"^(?P<lo>.+?)\.\.(?P<hi>[^:]+)(?::(?P<scale>.*))?$")


@dataclass(frozen=True)
class Param:
    """One searched option.

    Attributes:
        name: the option (e.g. 'hidden_size', 'lr').
        choices: the values of a list, in the order given (None for a range).
        low, high: the bounds of a range (inclusive).
        log: sample a range uniformly in log space.
        integer: a range of integers.
    """

    name: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    @property
    def is_list(self) -> bool:
        return self.choices is not None

    def spec(self) -> str:
        """The ``--search`` text that gives this parameter."""
        if self.choices is not None:
            return f"{self.name}=" + ",".join(str(v) for v in self.choices)
        return f"{self.name}={self.low:g}..{self.high:g}" + (":log" if self.log else "")

    def suggest(self, trial: Any) -> Any:
        """A value from an Optuna trial (a fixed value when the trial was enqueued with one)."""
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log)


def _base(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, __import__("types").UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def parse_param(spec: str, option_classes: list[type]) -> Param:
    """The :class:`Param` of one ``--search`` spec, typed by the option it names.

    Raises:
        ValueError: no '=', an unknown option (with the closest name), a value of the wrong
            type, a range on an option that is not a number, or bounds out of order.
    """
    if not isinstance(spec, str) or "=" not in spec:
        raise ValueError(
            f"search must be NAME=A,B,C or NAME=LOW..HIGH[:log], got {spec!r}"
        )
    name, text = (s.strip() for s in spec.split("=", 1))
    name = name.replace("-", "_")
    options = options_of(option_classes)
    if name not in options:
        raise ValueError(f"search: unknown option {name!r}{did_you_mean(name, options)}")
    tp = options[name].type
    base = _base(tp)
    if typing.get_origin(base) in (list, tuple):
        raise ValueError(
            f"search: {name} takes a list ({describe_type(tp)}); only single-valued options "
            "can be searched"
        )
    match = _RANGE.match(text.strip()) if ".." in text else None
    if match is not None:
        if base not in (int, float):
            raise ValueError(
                f"search: a range LOW..HIGH needs a numeric option, but {name} is "
                f"{describe_type(tp)}; list its values instead ({name}=A,B,C)"
            )
        scale = (match["scale"] or "").lower()
        if scale not in ("", "log", "linear"):
            raise ValueError(f"search: {name}: the scale after ':' must be 'log' or 'linear', "
                             f"got {match['scale']!r}")
        try:
            low, high = coerce(base, match["lo"].strip()), coerce(base, match["hi"].strip())
        except ValueError as err:
            raise ValueError(f"search: {name}: {err} in {text!r}") from err
        if not low < high:
            raise ValueError(f"search: {name}: LOW must be below HIGH, got {low!r}..{high!r}")
        if scale == "log" and low <= 0:
            raise ValueError(f"search: {name}: a log range needs LOW > 0, got {low!r}")
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"search: {name}: bounds must be finite, got {text!r}")
        return Param(name, low=low, high=high, log=scale == "log", integer=base is int)
    items = [v.strip() for v in text.split(",")]
    if not items or any(not v for v in items):
        raise ValueError(f"search: {name}: expected values A,B,C or a range LOW..HIGH, got "
                         f"{text!r}")
    try:
        values = tuple(coerce(tp, v) for v in items)
    except ValueError as err:
        raise ValueError(f"search: {name}: {err}") from err
    if len(set(values)) != len(values):
        raise ValueError(f"search: {name}: each value once, got {text!r}")
    return Param(name, choices=values)


@dataclass(frozen=True)
class SearchSpace:
    """The searched options, in the order given."""

    params: tuple[Param, ...]

    @classmethod
    def parse(cls, specs: list[str] | tuple[str, ...], option_classes: list[type]) -> SearchSpace:
        """Every ``--search`` spec; all problems are reported at once.

        Raises:
            ValueError: no spec, a bad spec, or an option searched twice.
        """
        if isinstance(specs, str):
            specs = [specs]
        if not specs:
            raise ValueError("search: give at least one NAME=A,B,C or NAME=LOW..HIGH[:log]")
        params, problems = [], []
        for spec in specs:
            try:
                params.append(parse_param(spec, option_classes))
            except ValueError as err:
                problems.append(str(err))
        names = [p.name for p in params]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append(f"search: each option once, got {twice} more than once")
        if problems:
            raise ValueError("; ".join(problems))
        return cls(tuple(params))

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def is_grid(self) -> bool:
        """Every parameter is a list: the settings are the grid's points."""
        return all(p.is_list for p in self.params)

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of the lists (only for :attr:`is_grid`), the first option slowest."""
        lists = [p.choices for p in self.params]
        return [dict(zip(self.names, combo, strict=True)) for combo in itertools.product(*lists)]

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {p.name: p.suggest(trial) for p in self.params}

    def specs(self) -> list[str]:
        return [p.spec() for p in self.params]
