"""``rnnkit export``: a trained model as an ONNX graph, verified against rnnkit, with its
preprocessing and a numpy + onnxruntime runner beside it."""

from __future__ import annotations

import argparse
import json
import sys

from rnnkit.export.quantize import DEFAULT_INT8_TOLERANCE


def run(args: argparse.Namespace) -> int:
    from rnnkit.export import export

    report = export(
        args.model,
        args.output,
        format=args.format,
        opset=args.opset,
        streaming=args.streaming,
        tolerance=args.tolerance,
        int8=args.int8,
        int8_tolerance=args.int8_tolerance,
        data=args.data,
    )
    # With --json standard output holds the JSON report and nothing else.
    for line in report.lines():
        print(line, file=sys.stderr if args.json else None)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1, default=str))
    return 0


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="export a trained model to ONNX (with state, optional int8), verified",
        description="Export a trained model (a run directory or its model.safetensors) to "
        "ONNX. The graph takes the inputs, lengths and initial states and returns the "
        "predictions and final states, with dynamic batch and time axes (--streaming: one step, "
        "state in and state out). Before anything is written, onnxruntime is run beside rnnkit "
        "on fresh inputs of a new batch size and length, and the measured difference is "
        "printed; beyond --tolerance the export fails. Beside MODEL.onnx it writes MODEL.json "
        "(the preprocessing: scalers, vocabulary, labels) and rnnkit_runner.py, which predicts "
        "with only numpy and onnxruntime (see docs/deployment.md).\n\n"
        "Examples:\n  rnnkit export runs/my-classifier -o classifier.onnx\n"
        "  rnnkit export runs/my-tagger --streaming -o tagger.step.onnx\n"
        "  rnnkit export runs/my-forecast --int8",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("model", metavar="RUN_OR_ARTIFACT", help="run directory or model.safetensors")
    p.add_argument("--format", default="onnx", choices=("onnx",), help="export format (onnx)")
    p.add_argument(
        "-o", "--output",
        help="the .onnx file to write (default: model.onnx, or model.streaming.onnx, in the run "
        "directory); never a file of the run",
    )
    p.add_argument("--opset", type=int, default=None, help="ONNX opset, 14-23 (default 18)")
    p.add_argument(
        "--streaming", action="store_true",
        help="export one step (state in, state out) for a caller's loop; unidirectional models",
    )
    p.add_argument(
        "--tolerance", type=float, default=1e-5,
        help="largest accepted max |onnx - rnnkit| / (1 + |rnnkit|) (default 1e-5, float32)",
    )
    p.add_argument(
        "--int8", action="store_true",
        help="also write MODEL.int8.onnx (dynamic int8 quantisation) and report its size, "
        "latency and validation metric against float32",
    )
    p.add_argument(
        "--int8-tolerance", type=float, default=None,
        help="largest accepted loss of the task metric for the int8 model, in the "
        f"metric's units (default {DEFAULT_INT8_TOLERANCE}); beyond it the int8 model is "
        "written as MODEL.int8.rejected.onnx and the command says so",
    )
    p.add_argument(
        "--data", default=None,
        help="labelled data to compare int8 against float32 on (default: the run's own "
        "evaluation data, as 'rnnkit evaluate' reads it)",
    )
    p.add_argument(
        "--json", action="store_true",
        help="print the report as one JSON object on standard output (the lines go to stderr)",
    )
    p.set_defaults(run=run)
