"""``rnnkit evaluate``: score a saved model on labelled data (or its own test data)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnkit.runs import write_json


def run(args: argparse.Namespace) -> int:
    from rnnkit.api import evaluate, task_of_artifact

    task = task_of_artifact(args.model)
    metrics = evaluate(args.model, args.data)
    formatter = getattr(task.module, "format_evaluation", None)
    print(formatter(metrics) if formatter else json.dumps(metrics, indent=2, default=str))
    if args.output:
        out = Path(args.output)
        if not out.parent.is_dir():
            raise ValueError(f"--output's folder must exist, got {str(out.parent)!r}")
        write_json(out, metrics)
        print(f"wrote {out}")
    return 0


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a saved model on labelled data",
        description="Score a trained model (a run directory or its model.safetensors) on "
        "labelled data in the training format, or on its own test data when DATA is left "
        "out. Forecasters are backtested beside the naive baselines.\n\n"
        "Examples:\n  rnnkit evaluate runs/forecast-seattle-weather-20261127-101500\n"
        "  rnnkit evaluate runs/my-run/model.safetensors new_data.csv -o metrics.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("model", metavar="RUN_OR_ARTIFACT", help="run directory or model.safetensors")
    p.add_argument(
        "data",
        nargs="?",
        help="labelled data file or bundled dataset name (default: the model's own test data)",
    )
    p.add_argument("-o", "--output", help="also write the metrics to this JSON file")
    p.set_defaults(run=run)
