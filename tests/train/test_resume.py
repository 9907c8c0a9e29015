"""Kill-and-resume: a real training process killed with SIGKILL mid-epoch, then resumed, ends
with exactly the weights of a run that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rnnkit.io.state import load_state
from rnnkit.train import load_checkpoint

SCRIPT = Path(__file__).parent / "scripts" / "resume_run.py"


def _run(out: Path, *args: str, timeout: float = 120.0) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), str(out), *args], capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]


def _epochs_without_time(out: Path) -> list[dict]:
    rows = json.loads((out / "history.json").read_text())["epochs"]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_a_run_killed_mid_epoch_and_resumed_ends_with_identical_weights(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _run(straight)

    # 12 batches per epoch, a checkpoint every 4 updates: the last one before the pause at
    # update 18 is update 16 (epoch 1, batch 4); updates 17 and 18 are lost with the process.
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(killed), "--pause-at", "18"],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not (killed / "paused").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run ended before pausing: {(tmp_path / 'killed.log').read_text()}")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    log.close()
    progress = load_checkpoint(killed / "last.safetensors")["progress"]
    assert (progress["epoch"], progress["batch"], progress["step"]) == (1, 4, 16)
    assert not (killed / "final.safetensors").exists()

    _run(killed, "--resume")
    want = load_state(straight / "final.safetensors")
    got = load_state(killed / "final.safetensors")
    assert list(got) == list(want)
    for name in want:
        assert torch.equal(got[name], want[name]), name
    assert _epochs_without_time(killed) == _epochs_without_time(straight)
