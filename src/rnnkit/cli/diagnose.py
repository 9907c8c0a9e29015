"""``rnnkit diagnose RUN [--data ...]``: where a trained model's gradients vanish.

Measures :func:`rnnkit.train.diagnostics.diagnose_batch` on a batch of real labelled sequences
(the run's own test data, or ``--data``): ‖∂L/∂h_t‖ against distance from the loss per layer,
the share of saturated gates, the spectral radius of each W_hh, and the effective memory length
in words. Writes ``gradient_norms.png`` and ``diagnosis.md`` into ``--out`` (default:
``RUN/diagnostics``, a new folder: nothing of the run is written over).

Classification runs (one label per sequence, the loss at the last step) are supported; other
kinds are refused with the reason.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "diagnose",
        help="long-range diagnostics of a trained classifier (gradient norms by distance)",
        description=__doc__.split("\n\n")[1],
        parents=parents,
    )
    p.add_argument("run_dir", metavar="RUN", help="a run directory or its model.safetensors")
    p.add_argument("--data", help="labelled data to measure on (default: the run's test data)")
    p.add_argument("--batch", type=int, default=64, help="sequences measured [default: 64]")
    p.add_argument("--fraction", type=float, default=0.01,
                   help="memory length threshold: share of the gradient at the end [0.01]")
    p.add_argument("--out", help="folder for gradient_norms.png and diagnosis.md "
                   "[default: RUN/diagnostics]")
    p.set_defaults(run=run)


def diagnose_run(path: str, data: Any = None, *, batch: int = 64,
                 fraction: float = 0.01) -> Any:
    """The :class:`~rnnkit.train.diagnostics.Diagnosis` of a classification run on up to
    ``batch`` labelled sequences of ``data`` (None: its own test data).

    Raises:
        ValueError: not a classification run, a bidirectional model, bad ``batch``.
    """
    from rnnkit.api import load_with_task
    from rnnkit.data.bucketing import BucketLoader
    from rnnkit.tasks.classify import LoadedClassifier, read_for
    from rnnkit.tasks.ensemble import Ensemble
    from rnnkit.train.diagnostics import diagnose_batch

    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    task, loaded = load_with_task(path)
    if not isinstance(loaded, LoadedClassifier):
        raise ValueError(
            f"RUN must be a classification run (its loss sits at each sequence's last step, "
            f"the distance diagnose measures from), got a {task.name} run"
        )
    if isinstance(loaded.model, Ensemble):  # the gradients are one network's
        raise ValueError(
            f"RUN must hold one network: diagnose follows the gradients of one model, but "
            f"this run is an ensemble of {loaded.model.size} (trained with ensemble="
            f"{loaded.model.size}); diagnose a run trained with ensemble=1 (the default)"
        )
    part = read_for(loaded, data, labelled=True)
    if part.labels is None:
        raise ValueError("data must have a label column to measure the loss")
    pre = loaded.preprocessing
    inputs = pre.inputs(part)[:batch]
    targets = pre.labels.encode(part.labels, argument="labels")[:batch]
    loader = BucketLoader(inputs, targets, batch_size=len(inputs), shuffle=False)
    return diagnose_batch(loaded.model, next(iter(loader.batches(0))), fraction=fraction)


def run(args: argparse.Namespace) -> int:
    from rnnkit.runs import write_text
    from rnnkit.train.diagnostics import plot_gradient_norms

    run_path = Path(args.run_dir)
    out = Path(args.out) if args.out else (
        (run_path if run_path.is_dir() else run_path.parent) / "diagnostics"
    )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"--out must be a new or empty folder, got {str(out)!r} (it has files)")
    d = diagnose_run(args.run_dir, args.data, batch=args.batch, fraction=args.fraction)
    out.mkdir(parents=True, exist_ok=True)
    plot = plot_gradient_norms([(0, d, False)], out / "gradient_norms.png",
                               title=f"{run_path.name}: gradient reaching back in time")
    text = d.describe()
    write_text(out / "diagnosis.md", f"# Diagnosis of `{args.run_dir}`\n\n{text}\n\n"
               f"![gradient norms](gradient_norms.png)\n")
    print(text)
    print(f"\n{plot}, {out / 'diagnosis.md'}")
    return 0
