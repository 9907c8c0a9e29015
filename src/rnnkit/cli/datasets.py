"""``rnnkit datasets``: list the bundled real datasets, or describe one."""

from __future__ import annotations

import argparse
import importlib.metadata

import rnnkit.data  # noqa: F401 - importing the data package registers the bundled datasets
from rnnkit.data.registry import DatasetInfo, get_dataset, list_datasets


def _installed(info: DatasetInfo) -> bool:
    """Whether the dataset can be read here: its package is installed, or, for a set staged
    in the data directory (``details['folder']``), that folder is in one of the data dirs."""
    folder = info.details.get("folder")
    if folder is not None:
        from rnnkit.data.lm_corpus import data_dirs

        return any((d / folder).is_dir() for d in data_dirs())
    try:
        importlib.metadata.distribution(info.package)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _state(info: DatasetInfo) -> str:
    if info.details.get("folder") is not None:
        return "found" if _installed(info) else (
            "not in the data directory ($RNNKIT_DATA); see docs/datasets.md")
    return "installed" if _installed(info) else "package not installed"


def datasets_text(name: str | None = None, task: str | None = None) -> str:
    """The table of bundled datasets (optionally of one task), or one dataset's description."""
    if name is not None:
        info = get_dataset(name)
        lines = [
            f"{info.name} ({info.task})",
            f"  {info.description}",
            f"  package: {info.package} ({_state(info)})",
            f"  source: {info.source}",
        ]
        lines += [f"  {key}: {value}" for key, value in info.details.items()]
        return "\n".join(lines)
    rows = list_datasets(task)
    width = max((len(d.name) for d in rows), default=4)
    lines = [f"{'name':<{width}}  {'task':<8}  {'package':<18}  description"]
    for d in rows:
        mark = "" if _installed(d) else f"  [{_state(d)}]"
        lines.append(f"{d.name:<{width}}  {d.task:<8}  {d.package:<18}  {d.description}{mark}")
    lines.append("")
    lines.append("Describe one with: rnnkit datasets NAME")
    return "\n".join(lines)


def _parallel_text(name: str | None) -> str:
    """The sequence-to-sequence sets (read from the data directory or made up, not from a
    package's registry entry): the listing's last section, or one set's line."""
    from rnnkit.data.parallel import PARALLEL_DATASETS

    if name is not None:
        return f"{name} (seq2seq)\n  {PARALLEL_DATASETS[name]}\n  see docs/datasets.md"
    width = max(len(n) for n in PARALLEL_DATASETS)
    lines = ["", "", "Sequence-to-sequence (read by rnnkit.data.parallel.read_parallel; get the "
             "'(download)' ones with: rnnkit datasets download multi30k|aeslc):"]
    lines += [f"{n:<{width}}  {d}" for n, d in PARALLEL_DATASETS.items()]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from rnnkit.data.parallel import PARALLEL_DATASETS

    if args.name == "download":
        from rnnkit.data.download import download, print_progress

        if args.what is None:
            raise ValueError("rnnkit datasets download needs a dataset: multi30k or aeslc")
        download(args.what, directory=args.dir, base_url=args.mirror, force=args.force,
                 progress=print_progress)
        return 0
    if args.what is not None:
        raise ValueError(f"rnnkit datasets takes one dataset name, got also {args.what!r}")
    if args.name in PARALLEL_DATASETS:
        print(_parallel_text(args.name))
        return 0
    text = datasets_text(args.name, args.task)
    print(text + (_parallel_text(None) if args.name is None and args.task is None else ""))
    return 0


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "datasets",
        help="list and describe the bundled real datasets",
        description="List the real datasets that rnnkit reads out of installed packages (no "
        "download), or describe one: its source, licence, shape and columns.\n\n"
        "Examples:\n  rnnkit datasets\n  rnnkit datasets --task forecast\n"
        "  rnnkit datasets seattle-weather\n  rnnkit datasets download multi30k",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("name", nargs="?", help="a dataset to describe (default: list them all), "
                   "or 'download'")
    p.add_argument("what", nargs="?", help="after 'download': multi30k or aeslc")
    p.add_argument("--dir", help="download: the data directory (default: $RNNKIT_DATA, else "
                   "~/.cache/rnnkit/data)")
    p.add_argument("--force", action="store_true",
                   help="download: replace existing files whose content differs")
    p.add_argument("--mirror", help="download: a web folder laid out like the data directory "
                   "(default: $RNNKIT_DATA_URL, else the upstream sources)")
    p.add_argument("--task", choices=["forecast", "classify", "tag"], help="only this task's")
    p.set_defaults(run=run)
