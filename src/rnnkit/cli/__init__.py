"""The ``rnnkit`` command: a thin argparse layer over importable functions.

Every subcommand module has ``add_parser(subparsers)``, which registers its options and sets
``run(args) -> exit code``. Errors a user can fix (bad options, unreadable files, bad data) are
printed as one paragraph with exit code 2 and no traceback; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rnnkit.cli import bench, benchmark, datasets, demo, evaluate, info, predict, train
from rnnkit.errors import RNNKitError

SUBCOMMANDS = [train, evaluate, predict, datasets, bench, info, demo, benchmark]

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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rnnkit`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        if argv and argv[0] == "train":  # its options depend on --task: parsed in two stages
            args = train.parse_args(argv[1:], [common_options()])
        else:
            args = parser.parse_args(argv)
    except USER_ERRORS as err:  # e.g. an unreadable --config file while choosing the task
        print(f"rnnkit: error: {err}", file=sys.stderr)
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"rnnkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        if args.debug:
            raise
        print(f"rnnkit {args.command}: error: {err}", file=sys.stderr)
        print("(run again with --debug for the full traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
