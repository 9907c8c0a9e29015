"""``rnnkit datasets``: list the bundled real datasets, or describe one."""

from __future__ import annotations

import argparse
import importlib.metadata

import rnnkit.data  # noqa: F401 - importing the data package registers the bundled datasets
from rnnkit.data.registry import DatasetInfo, get_dataset, list_datasets


def _installed(info: DatasetInfo) -> bool:
    try:
        importlib.metadata.distribution(info.package)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def datasets_text(name: str | None = None, task: str | None = None) -> str:
    """The table of bundled datasets (optionally of one task), or one dataset's description."""
    if name is not None:
        info = get_dataset(name)
        lines = [
            f"{info.name} ({info.task})",
            f"  {info.description}",
            f"  package: {info.package} ({'installed' if _installed(info) else 'NOT installed'})",
            f"  source: {info.source}",
        ]
        lines += [f"  {key}: {value}" for key, value in info.details.items()]
        return "\n".join(lines)
    rows = list_datasets(task)
    width = max((len(d.name) for d in rows), default=4)
    lines = [f"{'name':<{width}}  {'task':<8}  {'package':<18}  description"]
    for d in rows:
        mark = "" if _installed(d) else "  [package not installed]"
        lines.append(f"{d.name:<{width}}  {d.task:<8}  {d.package:<18}  {d.description}{mark}")
    lines.append("")
    lines.append("Describe one with: rnnkit datasets NAME")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    print(datasets_text(args.name, args.task))
    return 0


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "datasets",
        help="list and describe the bundled real datasets",
        description="List the real datasets that rnnkit reads out of installed packages (no "
        "download), or describe one: its source, licence, shape and columns.\n\n"
        "Examples:\n  rnnkit datasets\n  rnnkit datasets --task forecast\n"
        "  rnnkit datasets seattle-weather",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("name", nargs="?", help="a dataset to describe (default: list them all)")
    p.add_argument("--task", choices=["forecast", "classify", "tag"], help="only this task's")
    p.set_defaults(run=run)
