"""``rnnkit evaluate``: score a saved model on labelled data (or its own test data)."""

from __future__ import annotations

import argparse
import json
import sys

from rnnkit.cli.outputs import run_files
from rnnkit.core.files import check_output
from rnnkit.runs import jsonable, strict_json


def run(args: argparse.Namespace) -> int:
    from rnnkit.api import evaluate_loaded, load_with_task

    # Checked before the model is loaded: a bad -o fails at once, and never over the run's files
    # or the data.
    data = _data(args)
    out = None
    if args.output is not None:
        out = check_output(
            args.output, protected=[*run_files(args.model), ("the input DATA", args.data),
                                    ("the input --data", args.data_option),
                                    ("the input --target-data", args.target_data)]
        )
    task, loaded = load_with_task(args.model)  # the artifact is read and verified once
    if isinstance(data, dict) and not getattr(task, "decoding_options", False):
        raise ValueError(
            "--target-data, --source-column, --target-column and --beam-size are for "
            f"translate and summarize models, got a {task.name!r} model"
        )
    if args.new_series is not None and task.name != "forecast":
        raise ValueError(f"--new-series: for forecasting models, got a {task.name!r} model")
    # The options go through rnnkit.evaluate, so the command and the API score alike.
    metrics = evaluate_loaded(task, loaded, data, on_bad_rows=args.on_bad_rows,
                              new_series=args.new_series)
    to_stdout = out is not None and out.to_stdout  # then stdout holds the JSON and nothing else
    if args.json and not to_stdout:  # standard output holds the JSON object and nothing else
        print(json.dumps(strict_json(metrics), default=_plain, allow_nan=False))
    elif not args.json:
        print(task.format_evaluation(metrics), file=sys.stderr if to_stdout else None)
    if out is not None:
        # On standard output, strict JSON as with --json (NaN as null) for every parser; a file
        # keeps the format of metrics.json.
        document = strict_json(metrics) if to_stdout else metrics
        out.write_text(json.dumps(document, indent=2, sort_keys=True, default=jsonable) + "\n")
        if not args.json:
            print(f"wrote {out.given}", file=sys.stderr if to_stdout else None)
    return 0


def _data(args: argparse.Namespace) -> object:
    """DATA (positional or --data), with the sequence-to-sequence options as a dict."""
    if args.data is not None and args.data_option is not None:
        raise ValueError(f"give the data once, as DATA or --data, got {args.data!r} and "
                         f"--data {args.data_option!r}")
    data = args.data if args.data is not None else args.data_option
    extra = {k: v for k, v in (("target_data", args.target_data),
                               ("source_column", args.source_column),
                               ("target_column", args.target_column),
                               ("beam_size", args.beam_size)) if v is not None}
    return {"data": data, **extra} if extra else data


def _plain(value: object) -> object:
    if hasattr(value, "tolist"):  # numpy and torch values
        return value.tolist()
    return str(value)


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a saved model on labelled data",
        description="Score a trained model (a run directory or its model.safetensors) on "
        "labelled data in the training format, or on its own test data when DATA is left "
        "out. Forecasters are backtested beside the naive baselines.\n\n"
        "Examples:\n  rnnkit evaluate runs/forecast-seattle-weather-20261127-101500\n"
        "  rnnkit evaluate runs/my-run/model.safetensors new_data.csv -o metrics.json\n"
        "  rnnkit evaluate runs/my-run --json | jq .model\n"
        "  rnnkit evaluate runs/stores all_stores.csv --new-series history  # by_group",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("model", metavar="RUN_OR_ARTIFACT", help="run directory or model.safetensors")
    p.add_argument(
        "data",
        nargs="?",
        help="labelled data file or bundled dataset name (default: the model's own test data)",
    )
    p.add_argument("--data", dest="data_option", metavar="DATA",
                   help="the same as DATA (translate, summarize: the source file)")
    p.add_argument("--target-data", help="translate, summarize: the line-aligned target file")
    p.add_argument("--source-column", help="translate, summarize: a table's source column")
    p.add_argument("--target-column",
                   help="translate, summarize: a table's reference column(s), comma-separated")
    p.add_argument("--beam-size", type=int,
                   help="translate, summarize: beams of the search (1: greedy; default: the "
                   "model's)")
    p.add_argument(
        "--on-bad-rows",
        choices=("error", "skip"),
        help="rows the model cannot use (e.g. a series it was not trained on, or a new series "
        "too short for --new-series history): 'error' refuses the file, 'skip' leaves them out "
        "with a warning (default: the model's own setting)",
    )
    p.add_argument(
        "--new-series",
        choices=("refuse", "history"),
        help="forecasters: a series the model was not trained on is refused, or forecast from "
        "its own history (its scalers fitted on its rows before the validation period) and "
        "scored apart: metrics by_group 'seen' and 'unseen' (default: the model's own setting)",
    )
    p.add_argument(
        "-o", "--output",
        help="also write the metrics to this JSON file ('-': standard output, then the table "
        "goes to standard error); never a file of the run or the data",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the metrics as one JSON object on standard output, and nothing else",
    )
    p.set_defaults(run=run)
