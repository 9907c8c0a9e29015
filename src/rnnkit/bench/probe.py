"""Entry point of the fresh-process measurements; prints one JSON object on stdout.

    python -m rnnkit.bench.probe memory IMPL KIND B T F H   # IMPL: torch or rnnkit
    python -m rnnkit.bench.probe compile

Started by :func:`rnnkit.bench.process.run_probe`; nothing imports this module, so running it
with ``-m`` does not find it already loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from rnnkit.bench.compiletime import prepare_kernels
from rnnkit.bench.memory import step_peak_mb


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnkit.bench.probe")
    sub = parser.add_subparsers(dest="probe", required=True)
    memory = sub.add_parser("memory", help="peak extra MB of one training step")
    memory.add_argument("impl", choices=("torch", "rnnkit"))
    memory.add_argument("kind")
    for name in ("batch", "steps", "features", "hidden"):
        memory.add_argument(name, type=int)
    sub.add_parser("compile", help="seconds to prepare every float32 kernel")
    args = parser.parse_args(argv)
    if args.probe == "memory":
        result = {"mb": step_peak_mb(
            args.impl, args.kind, (args.batch, args.steps, args.features, args.hidden))}
    else:
        result = prepare_kernels()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
