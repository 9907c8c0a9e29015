"""``rnnkit train``: train a model for a task and write a run directory.

The options depend on the task, so the command is parsed in two stages: first ``--task`` and
``--config`` (whose file may name the task), then the task's own options and the training
options, each with the help text of its config dataclass.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import signal
import sys
import threading
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rnnkit.config import Option, describe_type, options_of, read_toml

if TYPE_CHECKING:
    from rnnkit.runs import RunInterrupted
    from rnnkit.train.launch import LaunchOptions


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
    run.add_argument(
        "--resume",
        metavar="RUN",
        help="continue an interrupted run (e.g. runs/NAME) from its last checkpoint, with the "
        "options of its own config.toml; only --epochs (raised), --max-time, --quiet, --plots "
        "and --checkpoint-every may be given with it",
    )
    launcher = parser.add_argument_group(
        "distributed (data-parallel over processes through torchrun; see docs/training.md)")
    launcher.add_argument("--nproc", type=int, metavar="N",
                          help="start N training processes on this machine (one per GPU, or a "
                          "few per machine on CPUs) through torchrun; batch-size is per process")
    launcher.add_argument("--nnodes", type=int, default=1, metavar="M",
                          help="machines taking part (run the same command on each) [default: 1]")
    launcher.add_argument("--node-rank", type=int, default=0, metavar="R",
                          help="this machine's number, 0 to M-1 [default: 0]")
    launcher.add_argument("--master-addr", metavar="HOST",
                          help="address of the machine of node rank 0 (needed with --nnodes > 1)")
    launcher.add_argument("--master-port", type=int, metavar="PORT",
                          help="a free port on that machine [default: 29500; one machine: any "
                          "free port]")
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
    pre.add_argument("--resume")
    known, _ = pre.parse_known_args(argv)
    task = known.task
    if task is None and known.config is not None:
        task = read_toml(known.config).get("task")
    stored = Path(known.resume or "") / "config.toml"
    if task is None and known.resume is not None and stored.is_file():
        task = read_toml(stored).get("task")  # the run's task decides which options exist
    parser = task_parser(task or "forecast", parents)
    args = parser.parse_args(argv)
    args.command, args.run, args.argv = "train", run, list(argv)
    return args


class Terminated(KeyboardInterrupt):
    """SIGTERM during ``rnnkit train``: unwinds like Ctrl-C (history and files are closed on
    the way out) and is reported with exit code 143."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__("terminated")


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signum)


def _launch_options(args: argparse.Namespace) -> LaunchOptions | None:
    """The ``--nproc`` launch asked for, or None: none asked, or this process is one that
    such a launch started (its flags were for the launcher)."""
    from rnnkit.train.launch import LAUNCHED_ENV, LaunchOptions

    given = [flag for flag, value, default in (
        ("--nproc", args.nproc, None), ("--nnodes", args.nnodes, 1),
        ("--node-rank", args.node_rank, 0), ("--master-addr", args.master_addr, None),
        ("--master-port", args.master_port, None)) if value != default]
    if not given or os.environ.get(LAUNCHED_ENV) == "1":
        return None
    if args.nproc is None:
        raise ValueError(f"rnnkit train: {', '.join(given)} need(s) --nproc N (processes per "
                         "machine), got no --nproc")
    if "WORLD_SIZE" in os.environ:
        raise ValueError(
            f"rnnkit train: {', '.join(given)} launch(es) processes, but this process was "
            f"already started by torchrun (WORLD_SIZE={os.environ['WORLD_SIZE']}); drop "
            "--nproc and the other launcher flags, or run rnnkit train without torchrun"
        )
    return LaunchOptions(args.nproc, args.nnodes, args.node_rank, args.master_addr,
                         args.master_port)


def run(args: argparse.Namespace) -> int:
    from rnnkit.api import get_task, task_option_classes, train
    from rnnkit.runs import RunInterrupted
    from rnnkit.train.distributed import launched_rank
    from rnnkit.train.launch import launch

    launching = _launch_options(args)
    if launching is not None:
        return launch(launching, args.argv)

    names = set(options_of(task_option_classes(get_task(args.task))))
    options = {k: v for k, v in vars(args).items() if k in names}
    where = {"config": args.config, "name": args.name} if args.resume else {}
    handles = threading.current_thread() is threading.main_thread()  # signal() needs it
    previous = signal.signal(signal.SIGTERM, _terminate) if handles else None
    try:
        if args.resume:
            outcome = train(
                args.task, resume=args.resume, **{k: v for k, v in where.items() if v}, **options
            )
        else:
            outcome = train(
                args.task, args.config, runs_root=args.runs_dir, name=args.name, **options
            )
    except RunInterrupted as stop:
        print(_interrupted_message(stop), file=sys.stderr)
        return 128 + int(stop.signum)  # 130 for SIGINT, 143 for SIGTERM, as shells report
    except Terminated as stop:  # while the data were read, or once the model was saved
        if launched_rank() != 0:  # torchrun stops the others when one process fails
            print(f"rnnkit train: process {launched_rank()} terminated (SIGTERM): torchrun "
                  "stops every process of a distributed run when one fails or is killed; "
                  "rank 0 says where the run is", file=sys.stderr)
        else:
            print("rnnkit train: terminated (SIGTERM) outside training: there is nothing to "
                  "resume", file=sys.stderr)
        return 128 + stop.signum
    finally:
        if handles:
            signal.signal(signal.SIGTERM, previous)
    if launched_rank() != 0:  # under torchrun rank 0 reports the run
        return 0
    if outcome.result.training.quiet:
        print(outcome.run_dir)
    else:
        print()
        print(outcome.summary)
        print(f"Run directory: {outcome.run_dir}")
    return 0


def _interrupted_message(stop: RunInterrupted) -> str:
    """Where the checkpoint is and the exact command that continues the run."""
    run_dir, checkpoint = stop.run_dir, stop.checkpoint
    name = signal.Signals(stop.signum).name
    if (run_dir / "member-0").is_dir():  # --ensemble N: members have no common checkpoint
        return (
            f"rnnkit train: interrupted ({name}); the run directory {run_dir} is kept, but it "
            "holds an ensemble (--ensemble), and ensemble runs cannot be resumed: train it again"
        )
    command = f"rnnkit train --resume {shlex.quote(str(run_dir))}"
    if checkpoint is not None:
        saved = f"The last checkpoint is {checkpoint}."
    else:
        saved = (
            "No checkpoint was written yet (the first comes at the end of epoch 1, or after "
            "--checkpoint-every N updates), so resuming starts the training over."
        )
    return (
        f"rnnkit train: interrupted ({name}); the run directory {run_dir} is kept. {saved} "
        f"Continue the run with:\n  {command}"
    )


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``train`` for the command list; its options are parsed by :func:`parse_args`."""
    p = sub.add_parser(
        "train",
        help="train a model on a file or a bundled dataset (rnnkit train --help)",
        add_help=False,
        parents=parents,
    )
    p.set_defaults(run=run)
