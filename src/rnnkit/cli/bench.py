"""``rnnkit bench``: rnnkit's CPU kernels against torch (speed, streaming latency, memory)."""

from __future__ import annotations

import argparse
import sys

from rnnkit.bench import KINDS, format_report, report_json, run_benchmarks
from rnnkit.core.files import check_output


def run(args: argparse.Namespace) -> int:
    def progress(message: str) -> None:
        if not args.silent:
            print(f"# {message}", file=sys.stderr, flush=True)

    # Checked before minutes of timing, and written the safe way (temp file + rename).
    output = check_output(args.json, what="--json") if args.json else None
    if args.calibrate:
        return _run_calibrate(args, output, progress)
    if args.minimal:
        return _run_minimal(args, output, progress)
    if args.variants:
        return _run_variants(args, output, progress)
    if args.random is not None:
        return _run_random(args, output, progress)
    report = run_benchmarks(
        quick=args.quick,
        kinds=args.layers,
        memory=not args.no_memory,
        compile_times=args.compile_times,
        progress=progress,
    )
    print(format_report(report, markdown=args.markdown))
    if output is not None:
        output.write_bytes(report_json(report).encode("utf-8"))
    return 0


def _run_minimal(args: argparse.Namespace, output, progress) -> int:
    """``--minimal``: minGRU/minLSTM against torch's LSTM and GRU at the issue's shape."""
    import dataclasses
    import json
    import os

    from rnnkit.bench.minimal import MINIMAL_SHAPE, format_minimal, time_minimal

    progress(f"minimal cells at (B, T, F, H) = {MINIMAL_SHAPE}")
    load = os.getloadavg()
    results = time_minimal(MINIMAL_SHAPE, repeats=3 if args.quick else 7)
    print(format_minimal(results, MINIMAL_SHAPE, markdown=args.markdown))
    print(f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    if output is not None:
        payload = {"shape": MINIMAL_SHAPE, "load_before": load, "load_after": os.getloadavg(),
                   "results": [dataclasses.asdict(r) for r in results]}
        output.write_bytes(json.dumps(payload, indent=2).encode("utf-8"))
    return 0


def _run_variants(args: argparse.Namespace, output, progress) -> int:
    """``--variants``: layer-norm, zoneout and recurrent-dropout LSTM against the same cell as
    a torch.nn loop."""
    import dataclasses
    import json
    import os

    from rnnkit.bench.variants import VARIANT_SHAPE, format_variants, time_variants

    progress(f"LSTM variants at (B, T, F, H) = {VARIANT_SHAPE}")
    load = os.getloadavg()
    results = time_variants(VARIANT_SHAPE, repeats=3 if args.quick else 7)
    print(format_variants(results, VARIANT_SHAPE, markdown=args.markdown))
    print(f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    if output is not None:
        payload = {"shape": VARIANT_SHAPE, "load_before": load, "load_after": os.getloadavg(),
                   "results": [{**dataclasses.asdict(r), "ratio": r.ratio} for r in results]}
        output.write_bytes(json.dumps(payload, indent=2).encode("utf-8"))
    return 0


def _run_calibrate(args: argparse.Namespace, output, progress) -> int:
    """``--calibrate``: (re)measure backend='auto''s cost model on this machine and save it."""
    import os

    from rnnkit.kernels import cost_model

    progress(f"timing numba and torch on {len(cost_model.CALIBRATION_SHAPES)} shapes x 12 "
             "(cell, training, lengths) keys")
    load = os.getloadavg()
    model = cost_model.recalibrate()
    print("\n".join(cost_model.describe(model)))
    print(f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    if output is not None:
        output.write_bytes(model.to_json().encode("utf-8"))
    return 0


def _run_random(args: argparse.Namespace, output, progress) -> int:
    """``--random N``: N shapes drawn with ``--seed``; the worst ratio and the losing shapes."""
    import dataclasses
    import json
    import os

    from rnnkit.bench.random_shapes import format_random, run_random

    if args.random < 1:
        raise ValueError(f"--random must be a positive number of shapes, got {args.random}")
    if not args.max_gflop > 0:
        raise ValueError(f"--max-gflop must be positive, got {args.max_gflop}")
    from rnnkit.kernels import cost_model

    auto = not args.no_auto
    if auto and cost_model.enabled():
        # Calibrated (or loaded) before the first timing, so that no case is charged for it.
        print("\n".join(cost_model.describe(cost_model.current())))
    load = os.getloadavg()
    results = run_random(args.random, args.seed, args.max_gflop,
                         repeats=3 if args.quick else 5, progress=progress, auto=auto)
    print(format_random(results, args.seed, markdown=args.markdown))
    print(f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    if output is not None:
        payload = {"seed": args.seed, "max_gflop": args.max_gflop, "load_before": load,
                   "load_after": os.getloadavg(),
                   "results": [{**dataclasses.asdict(r.case), "torch_ms": r.torch_ms,
                                "rnnkit_ms": r.rnnkit_ms, "ratio": r.ratio, "auto_ms": r.auto_ms,
                                "auto_ratio": r.auto_ratio, "auto_backend": r.auto_backend}
                               for r in results]}
        output.write_bytes(json.dumps(payload, indent=2).encode("utf-8"))
    return 0


def _names(kinds: tuple[str, ...]) -> str:
    """'RNN, LSTM and GRU' for the help text."""
    return " and ".join([", ".join(kinds[:-1]), kinds[-1]] if len(kinds) > 1 else kinds)


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench",
        help="time rnnkit's kernels against torch",
        description=f"Time torch.nn and rnnkit.nn (numba backend) {_names(KINDS)}, inference "
        "and training, over the benchmark grid, interleaved in one process (medians); print "
        "ms, the torch/rnnkit ratio, GFLOP/s and the share of the sgemm peak measured in the "
        "same run; then streaming latency per step at B = 1 and the peak memory of a training "
        "step.\n\nExamples:\n  rnnkit bench --quick\n  rnnkit bench --markdown --compile-times "
        "--json bench.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="two grid shapes, fewer repeats, one memory probe (about a minute)",
    )
    p.add_argument(
        "--layers",
        nargs="+",
        choices=KINDS,
        default=list(KINDS),
        metavar="LAYER",
        help=f"layers to time, from {', '.join(KINDS)} (default: all)",
    )
    p.add_argument(
        "--no-memory",
        action="store_true",
        help="skip the memory probes (each runs in a fresh process)",
    )
    p.add_argument(
        "--compile-times",
        action="store_true",
        help="also time the kernels' first compilation and the cached load",
    )
    p.add_argument(
        "--minimal",
        action="store_true",
        help="only time MinGRU/MinLSTM against torch's LSTM and GRU at B=16, T=1000, F=64, "
        "H=256 (inference and training)",
    )
    p.add_argument(
        "--variants",
        action="store_true",
        help="only time LSTM(layer_norm=True), LSTM(zoneout=0.1) and "
        "LSTM(recurrent_dropout=0.25) against the same cells written as torch.nn modules in a "
        "Python loop, at B=16, T=100, F=32, H=128",
    )
    p.add_argument(
        "--random",
        type=int,
        metavar="N",
        help="instead of the grid, time N shapes drawn log-uniformly (B 1-512, T 1-2000, F 1-512, "
        "H 16-1024, every layer, inference/training, lengths, bidirectional) and report the "
        "worst ratio and the shapes where rnnkit is slower, for backend='numba' and "
        "backend='auto'",
    )
    p.add_argument(
        "--no-auto",
        action="store_true",
        help="with --random, time only backend='numba' against torch (not backend='auto')",
    )
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="only (re)measure the cost model behind backend='auto' on this machine (numba vs "
        "torch on a few shapes per cell; seconds on a quiet machine) and save it to the cache",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    p.add_argument(
        "--max-gflop",
        type=float,
        default=2.0,
        metavar="X",
        help="with --random, skip shapes whose matrix products exceed X GFLOP (default 2)",
    )
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--json", metavar="PATH", help="also write the raw numbers to PATH")
    p.add_argument("--silent", action="store_true", help="no progress lines on stderr")
    p.set_defaults(run=run)
