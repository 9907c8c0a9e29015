"""Data-parallel training: two gloo processes launched by torchrun end with the weights of one
process on the combined batch; metrics are reduced over ranks; only rank 0 writes files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from rnnkit.io.state import load_state

SCRIPT = Path(__file__).parent / "scripts" / "ddp_run.py"


def _run(command: list[str], timeout: float = 180.0) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """One torchrun launch (2 ranks × batch 8) and one single process (batch 16); each trains
    with full and with truncated BPTT."""
    root = tmp_path_factory.mktemp("ddp")
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
          str(SCRIPT), str(root / "ddp"), "8"])
    _run([sys.executable, str(SCRIPT), str(root / "single"), "16"])
    return root


@pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                    reason="needs torch.distributed with gloo")
@pytest.mark.parametrize("bptt", ["full", "truncated"])
def test_two_gloo_processes_match_one_process_on_the_combined_batch(runs, bptt):
    ddp, single = runs / "ddp" / bptt, runs / "single" / bptt
    want, got = load_state(single / "final.safetensors"), load_state(ddp / "final.safetensors")
    initial = load_state(single / "initial.safetensors")
    assert max(float((want[k] - initial[k]).abs().max()) for k in want) > 1e-2  # it trained
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=2e-5, msg=name)

    # Losses and metrics are summed over ranks before dividing: the same values as one process
    # that sees all the data.
    rows = {run: json.loads((run / "history.json").read_text())["epochs"] for run in (ddp, single)}
    for a, b in zip(rows[ddp], rows[single], strict=True):
        for key in ("train_loss", "val_loss", "val_mse", "val_solved"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), key

    assert (ddp / "written-1.txt").read_text() == ""  # rank 1 wrote nothing
    assert set((ddp / "written-0.txt").read_text().split()) == {
        "best.safetensors", "last.safetensors", "history.json", "history.csv", "steps.csv"}
