"""``rnnkit tune``: choose options by cross-validation, then train the chosen model.

A thin layer over :func:`rnnkit.tune.tune`: ``--search`` specs, the folds, and fixed options
(``--data``, ``--set NAME=VALUE``, or a ``--config`` TOML file as for ``rnnkit train``).
"""

from __future__ import annotations

import argparse
import sys

EXAMPLES = """Examples:
  rnnkit tune --task classify --data basic-motions --search hidden_size=16,32,64 --cv 3
  rnnkit tune --task classify --data basic-motions --search hidden_size=16,64 \\
      --search lr=1e-4..1e-2:log --trials 20 --cv 5 --metric macro_f1
  rnnkit tune --task forecast --data sunspots --search hidden_size=16,32 --cv 3
  rnnkit tune --resume runs/tune-classify-basic-motions-20260101-120000
  rnnkit tune ... --storage postgresql://user@host/db --name shared   (one study, many machines)
"""


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tune",
        help="choose options (hidden size, learning rate, ...) by cross-validation",
        description="Cross-validate every setting of --search, report mean ± std of the metric "
        "over the folds, choose a setting (the smaller model when the difference is within "
        "noise) and train it on all the training data as a normal run directory (final/). "
        "Folds respect the data: stratified for classification, grouped with --group-column, "
        "rolling origin for forecasting; preprocessing is fit inside each fold. The study is "
        "kept in SQLite inside the run directory: a killed tune continues with --resume.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("--task", help="forecast, classify, tag, ... (default: the config's task, "
                   "else forecast)")
    p.add_argument("--data", help="the data: a file or a bundled dataset name")
    p.add_argument("--search", action="append", default=[], metavar="NAME=A,B|LOW..HIGH[:log]",
                   help="an option to search: a list of values, or a range for the TPE "
                   "sampler (repeat for several options)")
    p.add_argument("--cv", type=int, default=3, help="number of folds [default: 3]")
    p.add_argument("--trials", type=int, help="settings to try when a range is searched "
                   "[default: 20]; a grid tries all")
    p.add_argument("--metric", help="fold score (default: the task's headline: accuracy, mase)")
    p.add_argument("--group-column", help="keep each value of this column in one fold")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="fixed",
                   help="a fixed task or training option, e.g. --set epochs=20 (repeatable)")
    p.add_argument("--config", metavar="FILE.toml", help="fixed options from a TOML file")
    p.add_argument("--workers", default="auto",
                   help="parallel worker processes, or 'auto' (one per core) [default: auto]")
    p.add_argument("--storage", metavar="URL", help="Optuna storage URL shared by workers on "
                   "several machines [default: sqlite study.db in the run directory]")
    p.add_argument("--name", help="run directory name (default: tune-<task>-<data>-<time>)")
    p.add_argument("--runs-dir", default="runs", help="folder holding run directories")
    p.add_argument("--resume", metavar="RUN", help="continue an interrupted tune")
    p.add_argument("--seed", type=int, default=0, help="fold and sampler seed [default: 0]")
    p.add_argument("--no-final", action="store_true", help="skip the final model")
    p.add_argument("--quiet", action="store_true", help="print only the run directory")
    p.set_defaults(run=run)


def fixed_options(items: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` items as a dict (values stay text: converted as for ``rnnkit train``)."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set must be NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        out[name.strip().replace("-", "_")] = value.strip()
    return out


def run(args: argparse.Namespace) -> int:
    from rnnkit.tune import tune

    workers: int | str = args.workers
    if workers != "auto":
        try:
            workers = int(workers)
        except ValueError:
            raise ValueError(f"--workers must be a positive integer or 'auto', got "
                             f"{args.workers!r}") from None
    options = fixed_options(args.fixed)
    if args.data is not None:
        options["data"] = args.data
    if args.resume:
        given = [f for f in ("task", "data", "metric", "group_column", "config", "trials")
                 if getattr(args, f) is not None] + (["search"] if args.search else [])
        if given or options:
            raise ValueError(f"--resume continues a tune with its own options; do not give "
                             f"{['--' + g.replace('_', '-') for g in given] or ['--set']}")
        result = tune(resume=args.resume, workers=workers, storage=args.storage,
                      final=not args.no_final, quiet=args.quiet)
    else:
        result = tune(
            args.task, args.search, cv=args.cv, trials=args.trials, metric=args.metric,
            group_column=args.group_column, config=args.config, runs_root=args.runs_dir,
            name=args.name, storage=args.storage, workers=workers, final=not args.no_final,
            quiet=args.quiet, seed=args.seed, **options,
        )
    if args.quiet:
        print(result.run_dir)
    else:
        print()
        print(f"Tuning run directory: {result.run_dir}", file=sys.stdout)
    return 0
