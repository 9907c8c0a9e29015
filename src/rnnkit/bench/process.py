"""Running a measurement in a fresh Python process (``python -m rnnkit.bench.probe ...``).

Memory peaks and first-use compile times only mean something in a process that has not already
allocated or compiled; the child's answer is the JSON object on the last line of its stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import rnnkit

PROBE_MODULE = "rnnkit.bench.probe"


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus ``extra``, with this rnnkit first on ``PYTHONPATH``.

    So the child measures the same rnnkit as the parent, not whichever one is installed.
    """
    env = dict(os.environ, **(extra or {}))
    root = str(Path(rnnkit.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def run_probe(
    args: Sequence[str], what: str, extra_env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> dict[str, Any]:
    """Run :mod:`rnnkit.bench.probe` with ``args`` in a new interpreter; its JSON answer.

    Raises ``RuntimeError`` naming ``what`` (with the child's stderr) if the child fails.
    """
    done = subprocess.run(
        [sys.executable, "-m", PROBE_MODULE, *args],
        capture_output=True, text=True, timeout=timeout, check=False, env=child_env(extra_env),
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])
