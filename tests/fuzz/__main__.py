"""The long fuzzing run: ``python -m tests.fuzz --examples 5000 [pytest options]``.

Runs the suite of ``tests/fuzz`` under the ``long`` Hypothesis profile (random, not derandomized,
``--examples`` inputs per reader) instead of the small reproducible CI profile. A failure prints
the smallest input Hypothesis found; add it to the reader's tests when you fix it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--examples", type=int, default=5000,
                        help="inputs per fuzzed reader (default 5000)")
    args, rest = parser.parse_known_args(argv)
    if args.examples < 1:
        parser.error(f"--examples must be at least 1, got {args.examples}")
    os.environ["RNNKIT_FUZZ_PROFILE"] = "long"
    os.environ["RNNKIT_FUZZ_EXAMPLES"] = str(args.examples)
    return int(pytest.main(["-q", "-p", "no:cacheprovider", str(Path(__file__).parent), *rest]))


if __name__ == "__main__":
    sys.exit(main())
