"""``rnnkit benchmark``: rnnkit's default configuration on a public benchmark suite, beside
baselines from maintained libraries and published numbers (:mod:`rnnkit.suite`)."""

from __future__ import annotations

import argparse
import sys

from rnnkit.suite.datasets import SUITES, suite_entries


def suites_text() -> str:
    """Each suite and its datasets."""
    lines = []
    for name, entries in SUITES.items():
        lines.append(f"{name}: " + ", ".join(e.name for e in entries))
    return "\n".join(lines)


def _names(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def run(args: argparse.Namespace) -> int:
    if args.list:
        print(suites_text())
        return 0
    from rnnkit.suite.runner import run_suite

    if args.suite is None:
        raise ValueError(f"--suite must name a suite ({', '.join(SUITES)}), got none")
    datasets = _names(args.datasets)
    suite_entries(args.suite, datasets)  # an unknown suite or dataset fails before any output
    out = args.out or f"benchmark-{args.suite}"

    def progress(line: str) -> None:
        if not args.silent:
            print(line, file=sys.stderr, flush=True)

    report = run_suite(
        args.suite,
        out,
        seeds=args.seeds,
        datasets=datasets,
        max_time=args.max_time,
        progress=progress,
        ensemble=args.ensemble,
    )
    print(report.render(markdown=args.markdown))
    print(f"wrote {out}/results.md and {out}/results.json", file=sys.stderr)
    return 0


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "benchmark",
        help="run the default configuration on a public benchmark suite",
        description="Train rnnkit's DEFAULT configuration, unchanged (only the data options "
        "are set), on the datasets of a suite — public datasets read out of installed pip "
        "packages, nothing downloaded — with several seeds; score it beside seasonal naive, "
        "statsforecast's AutoETS/AutoTheta/AutoARIMA (forecasting) or rnnkit's and aeon's "
        "baselines (classification) and published numbers; print one table with wins/ties/"
        "losses and mean rank, and write it as Markdown and JSON. Baselines whose package is "
        "missing are skipped with a note (pip install 'rnnkit[bench]').\n\n"
        f"Suites:\n{suites_text()}\n\nExamples:\n  rnnkit benchmark --suite smoke --seeds 1\n"
        "  rnnkit benchmark --suite forecast-classic --seeds 3 --max-time 2m --out results/fc\n"
        "  rnnkit benchmark --suite classify-ucr --datasets GunPoint,ArrowHead",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("--suite", metavar="NAME", help=f"the suite: {', '.join(SUITES)}")
    p.add_argument("--list", action="store_true", help="list the suites and their datasets")
    p.add_argument(
        "--datasets", metavar="A,B", help="only these datasets of the suite (comma-separated)"
    )
    p.add_argument("--seeds", type=int, default=3, help="runs per dataset (seeds 0 … N−1)")
    p.add_argument("--ensemble", type=int, default=1, metavar="N",
                   help="each run an ensemble of N members (rnnkit train --ensemble; "
                   "max-time is per member) (default: 1, a single model)")
    p.add_argument(
        "--max-time",
        default="5m",
        metavar="DURATION",
        help="time budget of each training run, e.g. 90s or 5m (default: 5m)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="a new or empty folder for results.md, results.json and the runs "
        "(default: ./benchmark-SUITE)",
    )
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--silent", action="store_true", help="no progress lines on stderr")
    p.set_defaults(run=run)
