"""Runs that stop and continue: ``rnnkit train --resume RUN`` after SIGKILL and SIGTERM ends
with the model an uninterrupted run makes (bit for bit); a run that fails on its options or
data leaves no folder behind; the help shows each task's own training defaults."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import rnnkit
from rnnkit.api import training_options
from rnnkit.config import ConfigError
from rnnkit.data import BatchLoader, adding_problem
from rnnkit.data.registry import load_dataset
from rnnkit.models import SequenceRegressor
from rnnkit.tasks.pipeline import fit_model
from rnnkit.tasks.registry import get_task
from rnnkit.train import TrainConfig

# Enough updates (30 epochs x a few batches, a checkpoint every 3) that a kill lands in the
# middle of training; one thread so that every run splits its sums the same way.
OPTIONS = [
    "--task", "forecast", "--data", "sun.csv", "--time-column", "year", "--targets",
    "sunspots", "--hidden-size", "8", "--epochs", "30", "--early-stopping", "100",
    "--checkpoint-every", "3", "--quiet", "--plots", "false",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rnnkit", *args], capture_output=True, text=True, cwd=cwd,
        env=ENV, timeout=600,
    )


def start(name: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "train", *OPTIONS, "--name", name], cwd=cwd, env=ENV,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def stop_once_checkpointed(process: subprocess.Popen, run: Path, signum: int) -> str:
    """Send ``signum`` as soon as the run has a resumable checkpoint, while it still trains;
    returns what it printed on stderr."""
    last = run / "last.safetensors"
    while not last.exists() and process.poll() is None:
        time.sleep(0.005)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=600)
    assert last.exists(), stderr
    assert not (run / "model.safetensors").exists(), "the run finished before it was stopped"
    return stderr


def same_tensors(a: Path, b: Path) -> None:
    left, right = load_file(a), load_file(b)
    assert left.keys() == right.keys()
    for key in left:
        assert torch.equal(left[key], right[key]), key


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resume")
    load_dataset("sunspots").to_csv(root / "sun.csv", index=False)
    return root


@pytest.fixture(scope="module")
def reference(workdir) -> Path:
    """The run never interrupted."""
    result = cli("train", *OPTIONS, "--name", "reference", cwd=workdir)
    assert result.returncode == 0, result.stderr
    return workdir / "runs" / "reference"


def test_sigkill_then_resume_is_bit_identical(workdir, reference) -> None:
    run = workdir / "runs" / "killed"
    stop_once_checkpointed(start("killed", workdir), run, signal.SIGKILL)
    evaluated = cli("evaluate", str(run), cwd=workdir)  # not finished: says how to continue
    assert evaluated.returncode == 2
    assert f"rnnkit train --resume {run}" in evaluated.stderr
    checkpoint = cli("evaluate", str(run / "last.safetensors"), cwd=workdir)
    assert checkpoint.returncode == 2 and "is a training checkpoint" in checkpoint.stderr

    resumed = cli("train", "--resume", str(run), "--quiet", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    same_tensors(run / "model.safetensors", reference / "model.safetensors")
    mine = rnnkit.load(run).model.state_dict()
    assert all(torch.equal(v, rnnkit.load(reference).model.state_dict()[k])
               for k, v in mine.items())
    trained = json.loads((run / "metrics.json").read_text())
    expected = json.loads((reference / "metrics.json").read_text())
    assert trained["test"] == expected["test"]
    assert trained["training"]["best_epoch"] == expected["training"]["best_epoch"]
    finished = cli("train", "--resume", str(run), cwd=workdir)
    assert finished.returncode == 2 and "has finished" in finished.stderr


def test_sigterm_prints_where_and_how_to_resume(workdir, reference) -> None:
    run = workdir / "runs" / "terminated"
    process = start("terminated", workdir)
    stderr = stop_once_checkpointed(process, run, signal.SIGTERM)
    assert process.returncode == 143, stderr
    assert "interrupted (SIGTERM)" in stderr
    assert f"The last checkpoint is {Path('runs') / 'terminated' / 'last.safetensors'}" in stderr
    assert f"rnnkit train --resume {Path('runs') / 'terminated'}" in stderr
    assert "Traceback" not in stderr

    resumed = cli("train", "--resume", "runs/terminated", "--quiet", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    same_tensors(run / "model.safetensors", reference / "model.safetensors")


def test_resume_refuses_options_that_change_the_model_or_data(workdir, tmp_path) -> None:
    run = tmp_path / "runs" / "half"
    run.mkdir(parents=True)
    (run / "config.toml").write_text(
        'task = "forecast"\n[forecast]\ndata = "sun.csv"\ntime_column = "year"\n'
        'targets = ["sunspots"]\nhidden_size = 8\n[training]\nepochs = 30\n'
    )
    changed = cli("train", "--resume", str(run), "--hidden-size", "16", cwd=workdir)
    assert changed.returncode == 2
    assert "hidden_size (the run has 8, got 16)" in changed.stderr
    lower = cli("train", "--resume", str(run), "--epochs", "5", cwd=workdir)
    assert lower.returncode == 2 and "epochs may only be raised" in lower.stderr
    with pytest.raises(ValueError, match="name cannot be given with resume"):
        rnnkit.train(resume=run, name="other")
    with pytest.raises(ValueError, match="resume must be a run directory"):
        rnnkit.train(resume=run / "config.toml")
    with pytest.raises(ValueError, match="the run trained the task 'forecast', got task='tag'"):
        rnnkit.train("tag", resume=run)


def test_resume_refuses_data_that_changed_since_the_run_started(workdir, tmp_path) -> None:
    run = tmp_path / "runs" / "half"
    run.mkdir(parents=True)
    config = (
        f'task = "forecast"\n[forecast]\ndata = "{workdir / "sun.csv"}"\ntime_column = "year"\n'
        'targets = ["sunspots"]\nhidden_size = 8\n[training]\nepochs = 3\nquiet = true\n'
    )
    (run / "config.toml").write_text(config)
    from rnnkit.data.provenance import identify_test_data

    record = identify_test_data(workdir / "sun.csv")
    record["source"]["sha256"] = "0" * 64  # as if the file had other bytes when the run began
    (run / "data.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="are not the ones it started with: the data source"):
        rnnkit.train(resume=run)
    assert sorted(p.name for p in run.iterdir()) == ["config.toml", "data.json"]
    assert (run / "config.toml").read_text() == config  # nothing rewritten


def test_failed_runs_leave_no_folder_and_the_name_stays_free(workdir, tmp_path) -> None:
    runs = tmp_path / "runs"
    with pytest.raises(ValueError, match=r"missing\.csv"):
        rnnkit.train("forecast", runs_root=runs, name="try", data=str(tmp_path / "missing.csv"))
    assert not (runs / "try").exists()
    short = tmp_path / "short.csv"
    load_dataset("sunspots").head(12).to_csv(short, index=False)
    failed = cli(
        "train", "--task", "forecast", "--data", str(short), "--time-column", "year",
        "--targets", "sunspots", "--runs-dir", str(runs), "--name", "try", cwd=workdir,
    )
    assert failed.returncode == 2, failed.stderr
    assert not (runs / "try").exists()
    with pytest.raises(ConfigError, match="bogus"):
        rnnkit.train("forecast", runs_root=runs, name="try", data="sun.csv", bogus=1)
    assert not (runs / "try").exists()
    (runs / "taken").mkdir(parents=True)
    (runs / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="already exists and is not empty"):
        rnnkit.train("forecast", runs_root=runs, name="taken", data=str(short))
    assert (runs / "taken" / "notes.txt").read_text() == "mine"


def test_best_weights_survive_a_resume_with_more_epochs(tmp_path) -> None:
    """Train up to the best epoch, then resume the checkpoint to 8 epochs: the same model,
    best epoch and history as 8 epochs in one go (the best weights come from before the
    interruption, so a resume that forgot them would end with other weights)."""
    x, y = adding_problem(256, 12, seed=0)

    def loaders() -> tuple[BatchLoader, BatchLoader]:
        return (BatchLoader(x[:192], y[:192], batch_size=32, target_at="last", seed=0),
                BatchLoader(x[192:], y[192:], batch_size=64, target_at="last", shuffle=False))

    def model() -> SequenceRegressor:
        torch.manual_seed(0)
        return SequenceRegressor(2, 8, cell="gru")

    # The 'best' epoch is the one of the highest validation loss: not the last, as it falls.
    config = TrainConfig(epochs=8, lr=1e-2, monitor_mode="max", quiet=True, plots=False)
    one = copy.deepcopy(config)
    one.out_dir = str(tmp_path / "one")
    whole_model = model()
    whole = fit_model(whole_model, *loaders(), one)
    best = whole.best.epoch
    assert best is not None and best < 7  # the case that matters: a best epoch not the last

    first = copy.deepcopy(config)  # interrupted right after its best epoch
    first.epochs, first.out_dir = best + 1, str(tmp_path / "two")
    fit_model(model(), *loaders(), first)
    again = copy.deepcopy(config)
    again.out_dir = first.out_dir
    resumed_model = model()
    resumed = fit_model(resumed_model, *loaders(), again,
                        resume=tmp_path / "two" / "last.safetensors")
    assert resumed.best.epoch == whole.best.epoch
    assert len(resumed.trainer.history.epochs) == 8
    for key, value in whole_model.state_dict().items():
        assert torch.equal(value, resumed_model.state_dict()[key]), key


@pytest.mark.parametrize("task", ["forecast", "classify", "tag"])
def test_help_shows_the_task_training_defaults(task) -> None:
    spec = get_task(task)
    options = training_options(spec)
    for name, value in spec.training_defaults(None).items():
        assert options[name].default == value, name
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit", "train", "--task", task, "--help"],
        capture_output=True, text=True, env=ENV, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    epochs = spec.training_defaults(None).get("epochs", 10)
    assert f"passes over the training data. [int; default: {epochs}]" in text
    assert "--resume RUN" in text
