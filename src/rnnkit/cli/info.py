"""``rnnkit info``: versions, threads, and which backend serves which call (and why)."""

from __future__ import annotations

import argparse
import platform

import torch

import rnnkit
from rnnkit.functional import cell_names, get_cell
from rnnkit.kernels import LayerCall, cost_model, explain, select_backend


def info_text() -> str:
    """The report that ``rnnkit info`` prints."""
    lines = [
        f"rnnkit {rnnkit.__version__}",
        f"python {platform.python_version()} on {platform.machine()} ({platform.system()})",
        f"torch {torch.__version__}, threads {torch.get_num_threads()}",
        "",
        "backends (most preferred first) for a float32 CPU training call:",
    ]
    for mode in cell_names():
        for proj in (False, True) if get_cell(mode).supports_proj else (False,):
            call = LayerCall(mode, "cpu", torch.float32, True, proj, True, False, True)
            chosen = select_backend(call).name
            lines.append(f"  {call.describe():<40} -> {chosen}")
            for name, reason in explain(call):
                if reason is not None:
                    lines.append(f"      {name}: not used: {reason}")
    lines += ["", "backend='auto' between numba and torch on the CPU, by call shape:"]
    lines += cost_model.describe(cost_model.current(measure=False))  # never calibrates here
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    print(info_text())
    return 0


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "info",
        help="versions, threads and backends",
        description="Print versions, thread count, and which backend serves each kind of "
        "layer call, with the reason each other backend is not used, and "
        "whether backend='auto' has a cost-model calibration for this machine (with its "
        "verdicts on a few shapes).\n\nExample: rnnkit info",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.set_defaults(run=run)
