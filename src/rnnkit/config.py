"""Typed configuration from TOML files and command-line flags, checked all at once.

A configuration is one or more dataclasses (e.g. a task's options and
:class:`rnnkit.train.TrainConfig`) seen as one flat namespace of option names. Values come from a
TOML file and from flags, flags overriding the file. Every unknown name and every value of the
wrong type is collected and reported together in one :class:`ConfigError`, each unknown name with
the closest valid one ("did you mean hidden_size?").

Each option's help text is read from its dataclass's docstring, from lines of the form
``name: text`` or ``name, other: text`` (continuation lines indented deeper), so documentation
and ``--help`` cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rnnkit.core.checks import choice_problems, int_problems
from rnnkit.core.suggest import did_you_mean
from rnnkit.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


__all__ = [
    "ConfigError",
    "Option",
    "build_configs",
    "choice_problems",
    "coerce",
    "collect_options",
    "describe_type",
    "field_help",
    "int_problems",
    "join_problems",
    "options_of",
    "read_toml",
    "to_toml",
]


@dataclasses.dataclass(frozen=True)
class Option:
    """One configurable option: its name, owning dataclass, resolved type, default and help."""

    name: str
    owner: type
    type: Any
    default: Any
    help: str

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


def options_of(classes: Sequence[type]) -> dict[str, Option]:
    """Option name -> :class:`Option`, over all ``classes`` (the first class owning a name wins)."""
    out: dict[str, Option] = {}
    for cls in classes:
        hints = typing.get_type_hints(cls)
        helps = field_help(cls)
        # Keyword-only fields (mixins such as the file options) after the class's own.
        for f in sorted(dataclasses.fields(cls), key=lambda f: bool(f.kw_only)):
            if f.name.startswith("_") or f.name in out or not f.init:
                continue
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = dataclasses.MISSING
            out[f.name] = Option(f.name, cls, hints[f.name], default, helps.get(f.name, ""))
    return out


def field_help(cls: type) -> dict[str, str]:
    """Help text per field, parsed from ``cls``'s docstring (``name: text`` lines); fields
    inherited from a dataclass base take their help from that base's docstring."""
    helps: dict[str, str] = {}
    for base in reversed(cls.__mro__[1:]):
        if dataclasses.is_dataclass(base):
            helps.update(_docstring_help(base))
    helps.update(_docstring_help(cls))
    return helps


def _docstring_help(cls: type) -> dict[str, str]:
    doc = cls.__doc__ or ""
    names = {f.name for f in dataclasses.fields(cls)}
    helps: dict[str, str] = {}
    current: list[str] = []
    indent = 0
    for line in doc.splitlines():
        stripped = line.strip()
        match = re.match(r"^([a-z_][a-z0-9_]*(?:,\s*[a-z_][a-z0-9_]*)*):\s*(.*)$", stripped)
        keys = [k.strip() for k in match.group(1).split(",")] if match else []
        if match and keys and all(k in names for k in keys):
            current = keys
            indent = len(line) - len(line.lstrip())
            for k in keys:
                helps[k] = match.group(2)
        elif current and stripped and len(line) - len(line.lstrip()) > indent:
            for k in current:
                helps[k] += " " + stripped
        else:
            current = []
    return helps


def describe_type(tp: Any) -> str:
    """A short human name for a field type: 'int', 'float or None', 'list of str'."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        named = [describe_type(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or None" if type(None) in args else "")
    if origin in (list, tuple, Sequence):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return "list of " + (describe_type(args[0]) if args else "values")
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def coerce(tp: Any, value: Any) -> Any:
    """``value`` as type ``tp`` (from TOML or from a flag string); raises ``ValueError``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            if type(None) in args:
                return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(arg, value)
            except ValueError:
                continue
        raise ValueError(f"expected {describe_type(tp)}, got {value!r}")
    if origin in (list, tuple, Sequence):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        items = value
        if isinstance(value, str):
            items = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(items, (list, tuple)):
            raise ValueError(f"expected {describe_type(tp)}, got {value!r}")
        converted = [coerce(args[0], v) if args else v for v in items]
        return tuple(converted) if origin is tuple else converted
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ValueError(f"expected one of {list(allowed)}, got {value!r}")
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ValueError(f"expected a bool (true or false), got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ValueError(f"expected an int, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        raise ValueError(f"expected an int, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f"expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"expected a string, got {value!r}")
    return value


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; tables are flattened (``[train] epochs = 3`` is ``epochs``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {str(path)!r}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {err}") from err
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):  # sections only group options for readability
            flat.update(value)
        else:
            flat[key] = value
    return flat


def collect_options(
    classes: Sequence[type],
    file_values: Mapping[str, Any] | None = None,
    flag_values: Mapping[str, Any] | None = None,
) -> dict[type, dict[str, Any]]:
    """File values overridden by flag values, converted to each option's type, per class.

    Raises:
        ConfigError: listing every unknown option (with the closest valid name) and every value
            of the wrong type.
    """
    options = options_of(classes)
    merged: dict[str, tuple[Any, str]] = {}
    for source, values in (("config file", file_values or {}), ("flag", flag_values or {})):
        for key, value in values.items():
            merged[key.replace("-", "_")] = (value, source)
    problems: list[str] = []
    per_class: dict[type, dict[str, Any]] = {cls: {} for cls in classes}
    for key, (value, source) in merged.items():
        if key not in options:
            hint = did_you_mean(key, options, quote=False)
            problems.append(f"unknown option {key!r} in {source}{hint}")
            continue
        option = options[key]
        try:
            per_class[option.owner][key] = coerce(option.type, value)
        except ValueError as err:
            problems.append(f"{key}: {err} (from {source})")
    if problems:
        raise ConfigError(join_problems(problems))
    return per_class


def build_configs(
    classes: Sequence[type],
    file_values: Mapping[str, Any] | None = None,
    flag_values: Mapping[str, Any] | None = None,
) -> list[Any]:
    """Instances of ``classes`` from file values overridden by flag values.

    Raises:
        ConfigError: every unknown option and wrong type (see :func:`collect_options`), then
            every problem the dataclasses' own checks find.
    """
    per_class = collect_options(classes, file_values, flag_values)
    problems: list[str] = []
    instances = []
    for cls in classes:
        try:
            instances.append(cls(**per_class[cls]))
        except (TypeError, ValueError) as err:  # a check failed, or a required option is missing
            problems.append(str(err))
    if problems:
        raise ConfigError(join_problems(problems))
    return instances


def join_problems(problems: list[str]) -> str:
    if len(problems) == 1:
        return f"invalid configuration: {problems[0]}"
    return f"invalid configuration, {len(problems)} problems:\n" + "\n".join(
        f"  - {p}" for p in problems
    )


def to_toml(values: Mapping[str, Any]) -> str:
    """Write flat option values as TOML (None values are written as comments)."""

    def literal(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(literal(x) for x in v) + "]"
        raise TypeError(f"cannot write {type(v).__name__} to TOML")

    lines = []
    for key, value in values.items():
        if value is None:
            lines.append(f"# {key} = (not set)")
        else:
            lines.append(f"{key} = {literal(value)}")
    return "\n".join(lines) + "\n"
