"""``rnnkit train`` under torchrun: two gloo processes end with the weights of one process on the
same global batch, in one run directory written by rank 0; a killed rank stops the whole run
with a clear message, and ``--resume`` continues it with two processes or with one.

Every run is a subprocess (torchrun's, or ``rnnkit train --nproc 2``, or one process), pinned
to one thread as torchrun pins its workers, so that their float sums split the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file

from rnnkit.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="needs torch.distributed with gloo",
)

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
ENV.pop("WORLD_SIZE", None)
ENV.pop("RNNKIT_LAUNCHED", None)

# Small models, two epochs, no dropout, the same seed: batch B per process in the 2-process run
# and 2B in the single one, so that every update sees the same global batch.
FORECAST = ["--task", "forecast", "--data", "sunspots", "--hidden-size", "8", "--epochs", "2",
            "--plots", "false"]
# The classifier's conv branch normalises with batch statistics summed over the processes
# (masked batch norm, synced like SyncBatchNorm). Its conv biases feed that batch norm, which
# cancels them: their gradient is zero up to float32 rounding, which Adam would normalise into
# full-size steps that differ between any two summation orders; SGD keeps rounding at its size.
CLASSIFY = ["--task", "classify", "--data", "basic-motions", "--hidden-size", "8",
            "--epochs", "2", "--dropout", "0", "--plots", "false", "--optimizer", "sgd",
            "--lr", "0.05"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
RNNKIT = [sys.executable, "-m", "rnnkit"]


def _run(command: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """Forecaster: torchrun's own command line; classifier: ``rnnkit train --nproc 2``; each
    beside one process on twice the per-process batch. Each in a folder of its own."""
    out = {}
    for key, command in {
        "forecast-2": [*TORCHRUN, "-m", "rnnkit", "train", *FORECAST, "--batch-size", "6"],
        "forecast-1": [*RNNKIT, "train", *FORECAST, "--batch-size", "12"],
        "classify-2": [*RNNKIT, "train", "--nproc", "2", *CLASSIFY, "--batch-size", "4"],
        "classify-1": [*RNNKIT, "train", *CLASSIFY, "--batch-size", "8"],
    }.items():
        cwd = tmp_path_factory.mktemp(key)
        done = _run([*command, "--name", "run"], cwd)
        out[key] = (cwd, done)
    return out


@pytest.mark.parametrize("task", ["forecast", "classify"])
def test_two_processes_write_one_run_directory_with_one_set_of_files(runs, task):
    (two, launched), (one, _) = runs[f"{task}-2"], runs[f"{task}-1"]
    assert [p.name for p in (two / "runs").iterdir()] == ["run"]
    files = sorted(p.name for p in (two / "runs" / "run").iterdir())
    assert files == sorted(p.name for p in (one / "runs" / "run").iterdir())
    assert "model.safetensors" in files and "summary.md" in files
    assert not [p for p in two.rglob("*") if p.name.endswith(".tmp")]
    # rank 0 alone reports: the summary's title and the run directory are printed once
    assert launched.stdout.count("Run directory: runs/run") == 1
    assert launched.stdout.count(f"# rnnkit {task} run `run`") == 1
    assert "run directory: runs/run (2 processes, gloo)" in launched.stdout


@pytest.mark.parametrize("task", ["forecast", "classify"])
def test_two_processes_match_one_process_on_the_same_global_batch(runs, task):
    """Equal per-rank batches, DDP's gradient average = the gradient of the global batch's
    mean loss; only the order of float32 sums differs (relative 1e-7 per update), so after
    two epochs the weights agree to rtol 1e-4 / atol 1e-5 and every update's loss to 1e-5."""
    two, one = runs[f"{task}-2"][0] / "runs" / "run", runs[f"{task}-1"][0] / "runs" / "run"
    pairs = {
        "last update": (load_checkpoint(one / "last.safetensors")["model"],
                        load_checkpoint(two / "last.safetensors")["model"]),
        "artifact": (load_file(one / "model.safetensors"), load_file(two / "model.safetensors")),
    }
    for what, (want, got) in pairs.items():
        assert want and sorted(got) == sorted(want), what
        for key in want:
            torch.testing.assert_close(got[key], want[key], rtol=1e-4, atol=1e-5,
                                       msg=f"{what}: {key}")
    h1 = json.loads((one / "history.json").read_text())
    h2 = json.loads((two / "history.json").read_text())
    assert len(h2["epochs"]) == len(h1["epochs"]) == 2
    assert h2["steps"]["loss"] == pytest.approx(h1["steps"]["loss"], rel=1e-5)
    for a, b in zip(h2["epochs"], h1["epochs"], strict=True):
        assert a["updates"] == b["updates"]  # the same number of updates per epoch
        for key in ("train_loss", "val_loss"):
            assert a[key] == pytest.approx(b[key], rel=1e-4), key
    # it trained: the losses moved
    assert h1["epochs"][1]["train_loss"] != pytest.approx(h1["epochs"][0]["train_loss"],
                                                         rel=1e-3)
    m1 = json.loads((one / "metrics.json").read_text())
    m2 = json.loads((two / "metrics.json").read_text())
    assert m2["training"]["best_epoch"] == m1["training"]["best_epoch"]


def _rank_pid(launcher: int, rank: int) -> int | None:
    """The process torchrun started for ``rank`` (a child of the agent, RANK in its env)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = next(int(line.split()[1]) for line in status.splitlines()
                    if line.startswith("PPid:"))
        if ppid == launcher and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_a_killed_rank_stops_the_run_and_resume_continues_it(tmp_path):
    options = ["--task", "forecast", "--data", "sunspots", "--hidden-size", "8", "--epochs",
               "400", "--max-time", "300s", "--early-stopping", "1000", "--checkpoint-every",
               "3", "--quiet", "--plots", "false", "--name", "k"]
    launcher = subprocess.Popen([*RNNKIT, "train", "--nproc", "2", *options], cwd=tmp_path,
                                env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    run = tmp_path / "runs" / "k"
    try:
        while not (run / "last.safetensors").exists() and launcher.poll() is None:
            time.sleep(0.02)
        victim = _rank_pid(launcher.pid, 1)
        assert victim is not None and launcher.poll() is None
        os.kill(victim, signal.SIGKILL)
        _, err = launcher.communicate(timeout=120)  # the survivor does not hang
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.communicate()
    assert launcher.returncode == 128 + signal.SIGKILL
    assert "process 1 of the distributed run was killed by signal 9" in err
    # Rank 0's own paragraph: either it noticed the lost peer first, or torchrun's SIGTERM
    # reached it first (the agent stops the survivors); which one wins is a race.
    assert ("lost contact with another process" in err
            or "rnnkit train: interrupted (SIGTERM)" in err)
    assert f"rnnkit train --resume {Path('runs') / 'k'}" in err
    assert not (run / "model.safetensors").exists()

    checkpoint = load_checkpoint(run / "last.safetensors")  # written by rank 0
    done = checkpoint["progress"]["step"]
    assert done >= 3 and checkpoint["progress"]["world_size"] == 2
    before = checkpoint["history"]["steps"]["loss"]
    shutil.copytree(run, tmp_path / "runs" / "k1")
    resumed = {"k": ["--nproc", "2"], "k1": []}  # the same 2 processes, and one process
    for name, launch in resumed.items():
        _run([*RNNKIT, "train", *launch, "--resume", f"runs/{name}", "--max-time", "2s"],
             tmp_path)
        folder = tmp_path / "runs" / name
        assert (folder / "model.safetensors").is_file()
        steps = json.loads((folder / "history.json").read_text())["steps"]
        # continued from the checkpoint: its updates kept as they were, later ones added
        assert steps["loss"][:done] == before[:done]
        assert steps["step"][done:] == list(range(done, len(steps["step"])))
        assert len(steps["step"]) > done
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["training"]["stopped_by"] == "time budget 2s reached"
