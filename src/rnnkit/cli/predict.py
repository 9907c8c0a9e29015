"""``rnnkit predict``: predictions of a saved model for new data, written as CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.runs import write_text


def run(args: argparse.Namespace) -> int:
    from rnnkit.api import predict

    out = Path(args.output)
    if out.is_dir():
        raise ValueError(f"--output must be a file path, got the folder {str(out)!r}")
    if not out.parent.is_dir():
        raise ValueError(f"--output's folder must exist, got {str(out.parent)!r}")
    frame = predict(args.model, args.input)
    write_text(out, frame.to_csv(index=False))  # atomic: an existing file is never half-written
    print(f"wrote {len(frame)} rows to {out}")
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
    p.add_argument("-o", "--output", required=True, help="CSV file to write")
    p.set_defaults(run=run)
