"""``rnnkit train``: train a model for a task and write a run directory.

The options depend on the task, so the command is parsed in two stages: first ``--task`` and
``--config`` (whose file may name the task), then the task's own options and the training
options, each with the help text of its config dataclass.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Sequence

from rnnkit.config import Option, describe_type, options_of, read_toml


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _help(option: Option) -> str:
    text = (option.help or f"({describe_type(option.type)})").replace("``", "'")
    if option.default is dataclasses.MISSING:
        return text + " (required)"
    default = option.default
    if isinstance(default, (list, tuple)):
        default = ",".join(str(v) for v in default) if default else "none"
    return f"{text} [{describe_type(option.type)}; default: {default}]".replace("%", "%%")


def _base_type(tp: object) -> object:
    """``X`` for ``X | None``, else ``tp``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def _metavar(tp: object) -> str:
    """How a value of type ``tp`` is written on the command line."""
    tp = _base_type(tp)
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        return "A,B,..."
    if origin is typing.Literal:
        return "{" + ",".join(str(a) for a in typing.get_args(tp)) + "}"
    return {int: "INT", float: "NUMBER", bool: "BOOL"}.get(tp, "TEXT")  # type: ignore[call-overload]


def _add_options(group: argparse._ArgumentGroup, options: dict[str, Option]) -> None:
    for name, option in options.items():
        kwargs: dict = {"dest": name, "default": argparse.SUPPRESS, "help": _help(option)}
        kwargs["metavar"] = _metavar(option.type)
        if _base_type(option.type) is bool:  # '--quiet' alone is true; '--quiet false' works
            kwargs.update(nargs="?", const="true")
        group.add_argument(_flag(name), **kwargs)


def task_parser(
    task_name: str, parents: Sequence[argparse.ArgumentParser] = ()
) -> argparse.ArgumentParser:
    """The full parser of ``rnnkit train`` for one task."""
    from rnnkit.api import get_task, tasks, training_options

    task = get_task(task_name)
    examples = "\n".join(f"  {e}" for e in task.examples)
    parser = argparse.ArgumentParser(
        prog="rnnkit train",
        description=f"Train a model for the task {task.name!r} ({task.description}) and write "
        "a run directory: config.toml, model.safetensors, metrics.json, history, plots, "
        "checkpoints and summary.md. Options come from --config (a TOML file) and from "
        "flags, flags winning; every invalid option is reported at once.\n\n"
        f"Examples:\n{examples}\n\nOther tasks: {', '.join(sorted(tasks()))} "
        "(see rnnkit train --task NAME --help).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=list(parents),
    )
    run = parser.add_argument_group("run")
    run.add_argument("--task", default=task.name, choices=sorted(tasks()), help="what to train")
    run.add_argument("--config", metavar="FILE.toml", help="read options from this TOML file")
    run.add_argument("--name", help="run directory name (default: <task>-<data>-<timestamp>)")
    run.add_argument(
        "--runs-dir", default="runs", help="folder holding run directories [default: runs]"
    )
    _add_options(parser.add_argument_group(f"{task.name} options"), options_of([task.config_class]))
    _add_options(parser.add_argument_group("training options"), training_options(task))
    return parser


def parse_args(
    argv: Sequence[str], parents: Sequence[argparse.ArgumentParser]
) -> argparse.Namespace:
    """Parse ``rnnkit train ARGV`` in two stages (task first, then its options)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--task")
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    task = known.task
    if task is None and known.config is not None:
        task = read_toml(known.config).get("task")
    parser = task_parser(task or "forecast", parents)
    args = parser.parse_args(argv)
    args.command, args.run = "train", run
    return args


def run(args: argparse.Namespace) -> int:
    from rnnkit.api import get_task, task_option_classes, train

    names = set(options_of(task_option_classes(get_task(args.task))))
    options = {k: v for k, v in vars(args).items() if k in names}
    outcome = train(args.task, args.config, runs_root=args.runs_dir, name=args.name, **options)
    if outcome.result.training.quiet:
        print(outcome.run_dir)
    else:
        print()
        print(outcome.summary)
        print(f"Run directory: {outcome.run_dir}")
    return 0


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``train`` for the command list; its options are parsed by :func:`parse_args`."""
    p = sub.add_parser(
        "train",
        help="train a model on a file or a bundled dataset (rnnkit train --help)",
        add_help=False,
        parents=parents,
    )
    p.set_defaults(run=run)
