"""TensorBoard logging: the event files are written, readable with tensorboard's own reader,
and hold the values of the run's history (not just the right names)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

from rnnkit.train import TrainConfig, Trainer
from rnnkit.train.tensorboard import LOG_FOLDER, TensorBoardLogger
from tests.train.helpers import adding_loader, regressor


def _read(folder):
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def test_event_files_hold_the_history_values(tmp_path):
    torch.manual_seed(0)
    model = regressor("gru")
    config = TrainConfig(epochs=2, lr=1e-2, clip_norm=0.05, out_dir=str(tmp_path), quiet=True,
                         plots=False, tensorboard=True)
    trainer = Trainer(model, config)
    history = trainer.fit(adding_loader(n=48, batch_size=16), adding_loader(n=16, seed=1))
    acc = _read(tmp_path / LOG_FOLDER)
    tags = acc.Tags()
    scalars = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in tags["scalars"]}
    # Per update: one point per optimiser update, the values of history.steps.
    assert [s for s, _ in scalars["update/loss"]] == list(range(6))
    assert [v for _, v in scalars["update/loss"]] == pytest.approx(history.steps["loss"])
    assert [v for _, v in scalars["update/grad_norm"]] == pytest.approx(
        history.steps["grad_norm"])
    assert [v for _, v in scalars["update/clipped"]] == [1.0] * 6  # clip_norm=0.05 clips all
    assert [v for _, v in scalars["update/lr"]] == pytest.approx(history.steps["lr"])
    # Per epoch (1-based): the history rows.
    for key in ("train_loss", "val_loss", "lr", "clipped_share"):
        name = key if key in history.epochs[0] else f"train_{key}"
        assert [s for s, _ in scalars[f"epoch/{name}"]] == [1, 2]
        assert [v for _, v in scalars[f"epoch/{name}"]] == pytest.approx(
            [row[name] for row in history.epochs])
    # Histograms of every parameter and its gradient, per epoch.
    names = [n for n, _ in model.named_parameters()]
    for n in names:
        weights = acc.Histograms(f"weights/{n}")
        grads = acc.Histograms(f"gradients/{n}")
        assert [h.step for h in weights] == [1, 2] and [h.step for h in grads] == [1, 2]
        p = dict(model.named_parameters())[n].detach()
        assert weights[-1].histogram_value.num == p.numel()
        assert weights[-1].histogram_value.sum == pytest.approx(float(p.sum()), rel=1e-4,
                                                                 abs=1e-4)


def test_hooks_are_removed_after_fit(tmp_path):
    model = regressor("lstm")
    logger = TensorBoardLogger(tmp_path / "tb")
    Trainer(model, TrainConfig(epochs=1, quiet=True), callbacks=[logger]).fit(
        adding_loader(n=16, batch_size=16))
    assert logger._hooks == [] and logger._grads == {}
    assert any((tmp_path / "tb").iterdir())


def test_a_missing_tensorboard_names_the_extra(monkeypatch):
    import sys

    from rnnkit.train import tensorboard as tb

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(tb.TensorBoardDependencyError, match=r"pip install rnnkit\[tensorboard\]"):
        tb.summary_writer_class()


def test_train_command_flag_writes_event_files(tmp_path):
    from rnnkit.cli import main

    code = main(["train", "--task", "classify", "--data", "digits", "--epochs", "1",
                 "--hidden-size", "8", "--max-train", "200", "--quiet", "--plots", "false",
                 "--tensorboard", "--runs-dir", str(tmp_path), "--name", "tb"])
    assert code == 0
    acc = _read(tmp_path / "tb" / LOG_FOLDER)
    assert "epoch/val_accuracy" in acc.Tags()["scalars"]
    assert len(acc.Scalars("update/loss")) >= 1
