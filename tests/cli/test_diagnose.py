"""``rnnkit diagnose RUN``: measured on a trained classifier, refused where it cannot apply."""

import numpy as np
import pytest

from rnnkit.cli import main


def _npz(path, n=40, t=12):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, t, 2)).astype(np.float32)
    x[:, 0, 0] += (2 * y - 1) * 2.0  # the class is told at the first step only
    np.savez(path, x=x, y=y)
    return path


def test_diagnose_a_classifier_run(tmp_path, capsys):
    data = _npz(tmp_path / "first.npz")
    assert main(["train", "--task", "classify", "--data", str(data), "--epochs", "2",
                 "--conv-branch", "false", "--baselines", "false", "--min-updates", "0",
                 "--cell", "gru", "--runs-dir", str(tmp_path / "runs"), "--name", "c",
                 "--quiet"]) == 0
    capsys.readouterr()
    run = tmp_path / "runs" / "c"
    assert main(["diagnose", str(run), "--batch", "8"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Layer 1 (gru): the gradient of the loss with respect to the state ")
    assert "effective memory length" in out and "Spectral radius of W_hh: r " in out
    assert (run / "diagnostics" / "gradient_norms.png").read_bytes()[:4] == b"\x89PNG"
    assert "Layer 1 (gru)" in (run / "diagnostics" / "diagnosis.md").read_text()
    # A second diagnosis never writes over the first.
    assert main(["diagnose", str(run)]) == 2
    assert "--out must be a new or empty folder" in capsys.readouterr().err


def test_diagnose_refuses_a_forecaster(tmp_path, capsys):
    assert main(["train", "--task", "forecast", "--data", "sunspots", "--epochs", "1",
                 "--hidden-size", "4", "--runs-dir", str(tmp_path / "runs"), "--name", "f",
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(tmp_path / "runs" / "f")]) == 2
    err = capsys.readouterr().err
    assert "RUN must be a classification run" in err and "got a forecast run" in err


@pytest.mark.parametrize("batch", ["0"])
def test_diagnose_bad_batch(tmp_path, capsys, batch):
    assert main(["diagnose", str(tmp_path), "--batch", batch, "--out", str(tmp_path / "o")]) == 2
    assert "batch must be a positive integer, got 0" in capsys.readouterr().err


def test_train_measures_diagnostics_while_it_trains(tmp_path, capsys):
    import json

    data = _npz(tmp_path / "first.npz")
    assert main(["train", "--task", "classify", "--data", str(data), "--epochs", "3",
                 "--conv-branch", "false", "--baselines", "false", "--min-updates", "0",
                 "--cell", "gru", "--diagnostics-every", "2", "--clip-norm", "1e-6",
                 "--runs-dir", str(tmp_path / "runs"), "--name", "c", "--quiet"]) == 0
    capsys.readouterr()
    run = tmp_path / "runs" / "c"
    d = json.loads((run / "metrics.json").read_text())["diagnostics"]
    assert d["epoch"] == 2 and list(d["memory_length_by_epoch"]) == ["2"]  # every 2 of 3
    assert d["clipped_epochs"] == [2]  # a norm of 1e-6 clips every update
    assert 0 <= d["memory_length"][0] <= 11 and set(d["spectral_radius"][0]) == {"r", "z", "n"}
    assert (run / "gradient_norms.png").read_bytes()[:4] == b"\x89PNG"
    summary = (run / "summary.md").read_text()
    assert "## Long-range diagnostics" in summary
    assert f"effective memory length {d['memory_length'][0]} steps" in summary


@pytest.mark.parametrize(("options", "message"), [
    (["--task", "forecast", "--data", "sunspots"],
     "diagnostics_every applies to tasks whose loss sits at each sequence's last step "
     "(classify), got task 'forecast'"),
    (["--task", "classify", "--bidirectional", "true"],
     "the diagnostics need a unidirectional recurrent stack"),
])
def test_train_refuses_diagnostics_it_cannot_measure_and_leaves_no_run(
        tmp_path, capsys, options, message):
    if "classify" in options:
        options = [*options, "--data", str(_npz(tmp_path / "d.npz")), "--conv-branch", "false"]
    runs = tmp_path / "runs"
    assert main(["train", *options, "--epochs", "1", "--diagnostics-every", "1",
                 "--runs-dir", str(runs), "--name", "x", "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not (runs / "x").exists()  # nothing was trained: no half-made run to trip over
