"""The ``rnnkit`` command: a thin argparse layer over importable functions.

Every subcommand module has ``add_parser(subparsers)``, which registers its options and sets
``run(args) -> exit code``. Errors a user can fix (bad options, unreadable files, bad data) are
printed as one paragraph with exit code 2 and no traceback; ``--debug`` shows the traceback.
A misspelt command or flag is caught before argparse sees it, with a "did you mean ...?" from
:func:`rnnkit.core.suggest.did_you_mean` (argparse itself only says "unrecognized arguments").
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Iterable, Sequence

from rnnkit.cli import (
    bench,
    benchmark,
    datasets,
    demo,
    diagnose,
    evaluate,
    generate,
    info,
    predict,
    train,
    tune,
)
from rnnkit.cli import export as export_command
from rnnkit.core.suggest import did_you_mean
from rnnkit.errors import ConfigError, RNNKitError

SUBCOMMANDS = [
    train, evaluate, predict, generate, datasets, bench, info, demo, benchmark, tune, diagnose,
    export_command,
]

#: What counts as the user's error (exit code 2) rather than a bug in rnnkit.
USER_ERRORS = (RNNKitError, ValueError, OSError)


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", help="show the full traceback when something fails"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks with fast BPTT on the CPU: from a CSV or text "
        "file to a trained, evaluated, saved model.",
        epilog="Run 'rnnkit COMMAND --help' for the options of a command.",
    )
    common = common_options()
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub, [common])
    return parser


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every flag ``parser`` accepts ('-o', '--output', '--help', ...)."""
    return [flag for action in parser._actions for flag in action.option_strings]


def unknown_flag(args: Sequence[str], flags: Iterable[str]) -> str | None:
    """The problem with the first ``--flag`` in ``args`` that no flag in ``flags`` accepts, with
    the closest flag suggested; None when every one is known.

    A flag is known when it is one of ``flags`` or the start of one (argparse accepts
    unambiguous abbreviations, '--ta' for '--task'; an ambiguous one is left to argparse). Values
    after a lone ``--`` are positional, never flags.
    """
    flags = list(flags)
    for token in args:
        if token == "--":
            break
        if not token.startswith("--"):
            continue
        name = token.split("=", 1)[0]
        if not any(flag.startswith(name) for flag in flags):
            long_flags = [f for f in flags if f.startswith("--")]
            return f"unrecognized option {name!r}{did_you_mean(name, long_flags, quote=False)}"
    return None


def _flags_of(command: str, parser: argparse.ArgumentParser) -> list[str]:
    """The flags of ``command``. ``train`` is parsed by its own task-dependent parser
    (:func:`rnnkit.cli.train.task_parser`): its flags are those of every task, so that this check
    never needs to know which task a command line chose."""
    if command != "train":
        return option_strings(_subparsers(parser)[command])
    from rnnkit.api import tasks

    flags: set[str] = set()
    for name in tasks():
        flags.update(option_strings(train.task_parser(name, [common_options()])))
    return sorted(flags)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise RuntimeError("the rnnkit parser has no subcommands")  # a bug in build_parser


def usage_problem(argv: Sequence[str], parser: argparse.ArgumentParser) -> tuple[str, str] | None:
    """(who, problem) for a misspelt command or flag in ``argv``, or None.

    Only the mistakes argparse reports without a suggestion are found here; everything else
    (missing arguments, bad values) stays argparse's to report.
    """
    if not argv or argv[0].startswith("-"):
        return None
    command, commands = argv[0], _subparsers(parser)
    if command not in commands:
        return "rnnkit", (
            f"argument COMMAND: invalid choice: {command!r}"
            f"{did_you_mean(command, commands, quote=False)}; choose from "
            + ", ".join(commands)
        )
    problem = unknown_flag(argv[1:], _flags_of(command, parser))
    if problem is None:
        return None
    return f"rnnkit {command}", f"{problem}; see 'rnnkit {command} --help'"


def _other_torchrun_rank() -> bool:
    """Whether this process is a torchrun rank other than 0 (``RANK`` set, not 0)."""
    return "WORLD_SIZE" in os.environ and os.environ.get("RANK", "0").strip() not in ("", "0")


def _parse(argv: list[str], parser: argparse.ArgumentParser) -> argparse.Namespace | int:
    """The parsed arguments, or the exit code 2 after printing what is wrong with them."""
    try:
        problem = usage_problem(argv, parser)
    except USER_ERRORS as err:  # e.g. a task whose options cannot be listed
        print(f"rnnkit: error: {err}", file=sys.stderr)
        return 2
    if problem is not None:
        who, text = problem
        print(f"{who}: error: {text}", file=sys.stderr)
        return 2
    try:
        if argv and argv[0] == "train":  # its options depend on --task: parsed in two stages
            return train.parse_args(argv[1:], [common_options()])
        return parser.parse_args(argv)
    except USER_ERRORS as err:  # e.g. an unreadable --config file while choosing the task
        print(f"rnnkit: error: {err}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rnnkit`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if _other_torchrun_rank():
        # Every rank parses the same arguments: rank 0 says what is wrong with them, once.
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            try:
                args = _parse(argv, parser)
            except SystemExit as stop:  # argparse's own errors, --help
                return stop.code if isinstance(stop.code, int) else 2
    else:
        args = _parse(argv, parser)
    if isinstance(args, int):
        return args
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"rnnkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        if args.debug:
            raise
        if isinstance(err, ConfigError) and _other_torchrun_rank():
            return 2  # the same arguments gave rank 0 the same error, which it prints
        print(f"rnnkit {args.command}: error: {err}", file=sys.stderr)
        print("(run again with --debug for the full traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
