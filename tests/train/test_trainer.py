"""The trainer's ladder and callbacks: reproducibility, early stopping, checkpoints, history,
plots, progress, quiet mode, optimisers, schedules, configuration and protocol errors."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from rnnkit.train import (
    ConfigError,
    EarlyStopping,
    LRSchedule,
    PlateauReducer,
    PlotDependencyError,
    ProgressBar,
    ProtocolError,
    TrainConfig,
    Trainer,
    build_optimizer,
    load_checkpoint,
)
from tests.train.helpers import adding_loader, regressor, weights

QUIET = {"quiet": True, "plots": False}


def test_one_seed_makes_a_run_bit_for_bit_repeatable():
    def run(seed):
        model = regressor("lstm", num_layers=2, dropout=0.2)  # dropout draws from the RNG
        history = Trainer(model, TrainConfig(epochs=2, lr=0.01, seed=seed, **QUIET)).fit(
            adding_loader(n=48, seed=seed))
        return weights(model), history.steps["loss"]

    first, again, other = run(0), run(0), run(1)
    assert first[1] == again[1]
    assert all(torch.equal(first[0][k], again[0][k]) for k in first[0])
    assert first[1] != other[1]


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    # 'max' on a falling val_loss never improves after the first epoch.
    stopper = EarlyStopping("val_loss", patience=2, mode="max")
    trainer = Trainer(regressor("gru"), TrainConfig(epochs=10, lr=0.02, **QUIET),
                      callbacks=[stopper])
    history = trainer.fit(adding_loader(n=32), adding_loader(n=32, seed=1, shuffle=False))
    assert [row["epoch"] for row in history.epochs] == [0, 1, 2]
    assert stopper.stopped_epoch == 2 and trainer.stop_training


def test_early_stopping_from_the_config_needs_validation_data():
    with pytest.raises(ValueError, match="monitor='val_loss', which needs validation data"):
        Trainer(regressor(), TrainConfig(early_stopping=2, **QUIET)).fit(adding_loader())


def test_best_and_last_checkpoints_and_history_files(tmp_path):
    config = TrainConfig(epochs=4, lr=0.02, out_dir=str(tmp_path), quiet=True, plots=False,
                         monitor="val_mse")
    model = regressor("lstm", tolerance=0.1)
    history = Trainer(model, config).fit(adding_loader(n=64),
                                         adding_loader(n=32, seed=1, shuffle=False))
    best_epoch = min(range(4), key=lambda e: history.epochs[e]["val_mse"])
    best = load_checkpoint(tmp_path / "best.safetensors")
    assert best["progress"]["epoch"] == best_epoch + 1  # written at the end of that epoch
    last = load_checkpoint(tmp_path / "last.safetensors")
    assert last["progress"] == {"epoch": 4, "batch": 0, "step": 16, "stop": False, "world_size": 1}
    assert all(torch.equal(last["model"][k], v) for k, v in weights(model).items())

    document = json.loads((tmp_path / "history.json").read_text())
    assert document["config"]["monitor"] == "val_mse"
    assert document["config"]["strategy"] == "full"
    assert [r["val_mse"] for r in document["epochs"]] == pytest.approx(history.column("val_mse"))
    assert document["steps"]["loss"] == pytest.approx(history.steps["loss"])
    with (tmp_path / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    expected = {"train_loss", "val_loss", "val_mse", "val_solved", "lr", "clipped_share"}
    assert expected <= set(rows[0])
    assert float(rows[2]["val_loss"]) == pytest.approx(history.epochs[2]["val_loss"])
    with (tmp_path / "steps.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 16


def test_learning_curves_png_is_written(tmp_path):
    config = TrainConfig(epochs=2, out_dir=str(tmp_path), quiet=True, clip_norm=0.5)
    Trainer(regressor(tolerance=0.1), config).fit(adding_loader(n=32),
                                                  adding_loader(n=16, seed=1))
    png = (tmp_path / "learning_curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_a_missing_matplotlib_fails_at_the_start_with_the_fix(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    trainer = Trainer(regressor(), TrainConfig(epochs=1, out_dir=str(tmp_path), quiet=True))
    with pytest.raises(PlotDependencyError, match=r'pip install "rnnkit\[plot\]" \(or set '
                       r"TrainConfig\(plots=False\)\)"):
        trainer.fit(adding_loader())
    assert trainer.step == 0  # failed before training, not after


def test_quiet_mode_prints_nothing(capsys):
    Trainer(regressor(), TrainConfig(epochs=2, **QUIET)).fit(adding_loader())
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_progress_shows_loss_metric_speed_eta_and_an_epoch_summary(capsys):
    bar = ProgressBar(mininterval=0)  # redraw every batch: the run is faster than tqdm's 0.1 s
    Trainer(regressor(tolerance=0.1), TrainConfig(epochs=2, plots=False), callbacks=[bar]).fit(
        adding_loader(n=64), adding_loader(n=16, seed=1))
    shown = capsys.readouterr()
    for piece in ("epoch 1/2", "loss=", "mse=", "seq/s=", "<"):  # "<" is tqdm's ETA: [00:01<00:02]
        assert piece in shown.err, piece  # the bar, on stderr
    summary = shown.out.splitlines()  # one line per epoch, on stdout
    assert [line.split("  ")[0] for line in summary] == ["epoch 1/2", "epoch 2/2"]
    assert "train_loss" in summary[1] and "val_mse" in summary[1] and "clipped 0%" in summary[1]


def test_max_steps_ends_the_run_and_counts_the_partial_epoch():
    trainer = Trainer(regressor(), TrainConfig(epochs=5, max_steps=6, **QUIET))
    history = trainer.fit(adding_loader(n=64))  # 4 batches per epoch
    assert trainer.step == 6 and history.num_steps == 6
    assert [row["updates"] for row in history.epochs] == [4.0, 2.0]


@pytest.mark.parametrize("name,cls", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
                                      ("sgd", torch.optim.SGD), ("rmsprop", torch.optim.RMSprop)])
def test_optimisers_decay_weight_matrices_only_and_train(name, cls):
    model = regressor("lstm")
    config = TrainConfig(optimizer=name, lr=0.01, weight_decay=0.1, epochs=1, **QUIET)
    optimizer = build_optimizer(model, config)
    assert type(optimizer) is cls
    decayed = {id(p) for g in optimizer.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    for pname, p in model.named_parameters():
        assert (id(p) in decayed) == (p.dim() >= 2), pname
    if name in ("sgd", "rmsprop"):
        assert optimizer.param_groups[0]["momentum"] == 0.9
    before = weights(model)
    Trainer(model, config).fit(adding_loader(n=32))
    assert any(not torch.equal(before[k], v) for k, v in weights(model).items())


def test_schedules_are_pure_functions_of_the_update():
    step = LRSchedule(TrainConfig(lr=0.1, schedule="step", step_size=10, gamma=0.5), 100)
    assert [step(s) for s in (0, 9, 10, 25)] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    warm = LRSchedule(TrainConfig(lr=0.1, warmup_steps=4), 100)
    assert [warm(s) for s in (0, 1, 3, 50)] == pytest.approx([0.025, 0.05, 0.1, 0.1])
    cosine = LRSchedule(TrainConfig(lr=0.1, schedule="cosine", min_lr=0.01, warmup_steps=2), 12)
    assert cosine(2) == pytest.approx(0.1)
    assert cosine(7) == pytest.approx(0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * 5 / 9)))
    assert cosine(11) == pytest.approx(0.01) and cosine(50) == pytest.approx(0.01)


def test_the_schedule_drives_every_update_and_is_logged():
    config = TrainConfig(epochs=2, lr=0.1, schedule="step", step_size=3, gamma=0.1,
                         warmup_steps=2, **QUIET)
    history = Trainer(regressor(), config).fit(adding_loader(n=64))
    assert history.steps["lr"] == pytest.approx([0.05, 0.1, 0.1, 0.01, 0.01, 0.01, 1e-3, 1e-3])


def test_reduce_on_plateau_scales_after_patience_bad_epochs():
    plateau = PlateauReducer(patience=2, factor=0.5)
    changes = [plateau.update(v) for v in (1.0, 0.9, 0.95, 0.93, 0.92, 0.8)]
    assert changes == [False, False, False, True, False, False]
    assert plateau.scale == 0.5


def test_reduce_on_plateau_in_a_run_lowers_the_logged_learning_rate():
    config = TrainConfig(epochs=4, lr=0.01, plateau_patience=1, plateau_factor=0.1,
                         monitor="val_loss", monitor_mode="max", **QUIET)  # never "improves"
    history = Trainer(regressor(), config).fit(adding_loader(n=32), adding_loader(n=16, seed=2))
    # each row holds the rate its epoch ran with; the cut comes after a bad epoch
    assert history.column("lr") == pytest.approx([0.01, 0.01, 1e-3, 1e-4])


def test_config_reports_every_problem_at_once_and_suggests_names():
    with pytest.raises(ConfigError) as caught:
        TrainConfig(epochs=0, lr=-1.0, bptt="partial", k1=5, k2=2, optimizer="adamax")
    message = str(caught.value)
    for piece in ("5 problems", "epochs must be an int >= 1, got 0", "lr must be a number in "
                  "(0.0, inf), got -1.0", "bptt must be one of ['full', 'truncated', "
                  "'stateful'], got 'partial'", "k2 must be >= k1", "optimizer must be one of"):
        assert piece in message, piece
    with pytest.raises(ConfigError, match=r"unknown option\(s\) 'learning_rate', 'clipnorm' "
                       r"\(did you mean 'clip_norm'\?\)"):
        TrainConfig.from_dict({"learning_rate": 0.1, "clipnorm": 1.0})
    assert TrainConfig.from_dict(TrainConfig(lr=0.5).to_dict()) == TrainConfig(lr=0.5)


def test_models_outside_the_protocol_are_refused_with_what_is_missing():
    with pytest.raises(ProtocolError, match=r"has no loss\(outputs, batch\) method"):
        Trainer(torch.nn.LSTM(2, 3), TrainConfig(**QUIET))

    class BadMetrics(type(regressor())):
        def metrics(self, outputs, batch):
            return {"mse": 0.5}

    model = BadMetrics(2, 4)
    with pytest.raises(ProtocolError, match=r"metric 'mse' must be a \(sum, count\) pair"):
        Trainer(model, TrainConfig(epochs=1, **QUIET)).fit(adding_loader())


def test_fit_names_a_missing_resume_file_and_a_wrong_loader(tmp_path):
    trainer = Trainer(regressor(), TrainConfig(**QUIET))
    with pytest.raises(FileNotFoundError, match=r"resume checkpoint .*nope\.safetensors"):
        trainer.fit(adding_loader(), resume=tmp_path / "nope.safetensors")
    with pytest.raises(TypeError, match="train must be a loader with __len__"):
        trainer.fit([1, 2, 3])
