"""``rnnkit predict``: predictions of a saved model for new data, written as CSV."""

from __future__ import annotations

import argparse
import sys

from rnnkit.cli.outputs import run_files
from rnnkit.core.files import check_output


def run(args: argparse.Namespace) -> int:
    from rnnkit.api import load_with_task, predict

    # Checked before the model is loaded: a bad -o fails at once, and never over the run's files
    # or the input.
    protected = [*run_files(args.model), ("the input INPUT", args.input)]
    if args.future is not None:
        protected.append(("the --future file", args.future))
    out = check_output(args.output, protected=protected)
    data = args.input
    extra = {k: v for k, v in (("beam_size", args.beam_size),
                               ("source_column", args.source_column),
                               ("attention_plot", args.attention_plot)) if v is not None}
    if extra:
        if args.attention_plot is not None:
            check_output(args.attention_plot, what="--attention-plot",
                         protected=[*protected, ("--output", args.output)])
        data = {"data": args.input, **extra}
    task, loaded = load_with_task(args.model)  # the artifact is read and verified once
    if extra and not getattr(task, "decoding_options", False):
        raise ValueError(
            "--beam-size, --source-column and --attention-plot are for translate and summarize "
            f"models, got a {task.name!r} model"
        )
    # Forecasting options go only where given, so other tasks' predict is called as before.
    names = ("future", "new_series", "quantiles")
    options = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if options and task.name != "forecast":
        flags = ", ".join("--" + k.replace("_", "-") for k in options)
        raise ValueError(f"{flags}: for forecasting models, got a {task.name!r} model")
    frame = predict(loaded, data, on_bad_rows=args.on_bad_rows, **options)
    if "output" in frame.columns and "source" in frame.columns \
            and str(args.output).lower().endswith(".txt"):
        # A translation into a .txt file: one output line per input line, nothing else.
        out.write_text("".join(f"{line}\n" for line in frame["output"]))
    else:
        out.write_text(frame.to_csv(index=False))
    # With '-o -' standard output holds the CSV and nothing else.
    print(f"wrote {len(frame)} rows to {out.given}", file=sys.stderr if out.to_stdout else None)
    return 0


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "predict",
        help="predict with a saved model, write CSV",
        description="Predict with a trained model (a run directory or its model.safetensors) "
        "for INPUT, read in the same format as the training data, and write the predictions "
        "as CSV keeping the input's identifying columns. Forecasters forecast the horizon "
        "after the last row of each series, with prediction intervals; classifiers write the "
        "label and every class probability.\n\n"
        "Examples:\n  rnnkit predict runs/my-forecast recent.csv -o forecast.csv\n"
        "  rnnkit predict runs/my-classifier/model.safetensors reviews.csv -o labels.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("model", metavar="RUN_OR_ARTIFACT", help="run directory or model.safetensors")
    p.add_argument("input", metavar="INPUT", help="data file (or bundled dataset name)")
    p.add_argument(
        "-o", "--output", required=True,
        help="CSV file to write ('-': standard output); never a file of the run or the input",
    )
    p.add_argument(
        "--on-bad-rows",
        choices=("error", "skip"),
        help="rows the model cannot use (e.g. a series it was not trained on): 'error' refuses "
        "the file, 'skip' leaves them out with a warning (default: the model's own setting)",
    )
    p.add_argument(
        "--future",
        metavar="FILE",
        help="forecasters with future-known covariates: their values for the horizon after "
        "each series' last row (time column, series column and those covariates)",
    )
    p.add_argument(
        "--new-series",
        choices=("refuse", "history"),
        help="forecasters: a series the model was not trained on is refused ('refuse') or "
        "forecast from its own history ('history'; default: the model's own setting)",
    )
    p.add_argument(
        "--quantiles",
        metavar="Q,Q,...",
        help="forecasters: write these quantile levels, e.g. 0.1,0.5,0.9, one column each "
        "(<target>_q0.1, ...), instead of the interval's lower and upper columns",
    )
    p.add_argument("--beam-size", type=int,
                   help="translate, summarize: beams of the search (1: greedy; default: the "
                   "model's); a .txt output gets one line per input line")
    p.add_argument("--source-column", help="translate, summarize: the source column of a table")
    p.add_argument("--attention-plot", metavar="FILE.png",
                   help="translate, summarize: also write attention heatmaps of the first "
                   "examples to this PNG")
    p.set_defaults(run=run)
