"""Saved state without pickle: round trips, atomic replacement, format checks, exact resume."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from safetensors import safe_open

from rnnkit.io.state import (
    StateFormatError,
    flatten_state,
    load_state,
    save_state,
    unflatten_state,
)
from rnnkit.train import (
    Callback,
    ModelCheckpoint,
    TrainConfig,
    Trainer,
    load_checkpoint,
    load_weights,
)
from rnnkit.train.seeding import rng_state, set_rng_state
from tests.train.helpers import adding_loader, regressor, weights


def _tree():
    return {
        "weights": {"w": torch.randn(3, 4), "b": torch.arange(5, dtype=torch.int64)},
        "optimizer": {"state": {0: {"step": torch.tensor(3.0), "m": torch.ones(2)}},
                      "param_groups": [{"lr": 0.1, "params": [0], "betas": (0.9, 0.999)}]},
        "numbers": [1, 2.5, float("nan"), float("inf"), -float("inf"), None, True, "text"],
        "array": np.arange(6, dtype=np.uint32).reshape(2, 3),
        "half": torch.randn(2).to(torch.bfloat16),
        "empty": torch.zeros(0, 3),
        "tricky": {"__tensor__": "not a reference", "a/b": torch.zeros(1),
                   "a": {"b": torch.ones(1)}},
    }


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, dict):
        return (isinstance(b, dict) and list(a) == list(b)
                and all(_equal(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_equal(x, y) for x, y in zip(a, b, strict=True)))
    return type(a) is type(b) and a == b


def test_flatten_and_unflatten_round_trip_every_kind_of_leaf():
    tree = _tree()
    tensors, skeleton = flatten_state(tree)
    json.dumps(skeleton, allow_nan=False)  # the skeleton is strict JSON
    assert "weights/w" in tensors and "optimizer/state/0/m" in tensors
    assert _equal(unflatten_state(tensors, skeleton), tree)


def test_save_and_load_round_trip_through_one_plain_safetensors_file(tmp_path):
    tree = _tree()
    path = save_state(tmp_path / "s.safetensors", tree, kind="test")
    assert _equal(load_state(path, kind="test"), tree)
    with safe_open(str(path), framework="pt") as f:  # readable by any safetensors reader
        assert "weights/w" in set(f.keys())
        assert json.loads(f.metadata()["skeleton"])["numbers"][2] == {"__float__": "nan"}


def test_unsupported_leaves_are_named_by_their_path():
    with pytest.raises(TypeError, match=r"leaf at 'config/when' must be a tensor"):
        flatten_state({"config": {"when": object()}})


def test_wrong_kind_and_foreign_files_are_refused(tmp_path):
    path = save_state(tmp_path / "s.safetensors", {"a": 1}, kind="state")
    with pytest.raises(StateFormatError, match="expected a 'checkpoint' file, got a 'state'"):
        load_state(path, kind="checkpoint")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(StateFormatError, match=r"expected an 'rnnkit\.state' file"):
        load_state(tmp_path / "plain.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(StateFormatError, match="is not a safetensors file"):
        load_state(tmp_path / "junk.safetensors")


def test_a_failed_write_leaves_the_previous_file_intact_and_no_temporary(tmp_path, monkeypatch):
    path = save_state(tmp_path / "s.safetensors", {"v": torch.ones(3)})
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_state(path, {"v": torch.zeros(3)})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.safetensors"]


def test_rng_states_survive_a_file_round_trip(tmp_path):
    import random

    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    np.random.normal()  # leave a cached gaussian in numpy's state
    saved = rng_state()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    path = save_state(tmp_path / "rng.safetensors", saved)
    torch.rand(10), np.random.rand(10), random.random()  # move every generator on
    set_rng_state(load_state(path))
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert got[2] == expected[2]


class _Crash(Exception):
    pass


class _CrashAt(Callback):
    """Raise at the end of the batch that completes update ``step`` (a crash in the middle)."""

    def __init__(self, step: int) -> None:
        self.at = step

    def on_batch_end(self, trainer) -> None:
        if trainer.step >= self.at:
            raise _Crash(f"crash after update {trainer.step}")


def test_resuming_in_process_from_a_mid_epoch_checkpoint_gives_identical_weights(tmp_path):
    # test_resume.py kills a real process; this pins the same property in-process, with
    # dropout consuming the torch RNG on every update. 8 batches per epoch.
    loader = adding_loader(n=64, batch_size=8)
    options = {"epochs": 3, "lr": 0.01, "quiet": True, "plots": False}

    def model(seed=0):
        return regressor("lstm", num_layers=2, dropout=0.3, seed=seed)

    full = model()
    Trainer(full, TrainConfig(**options)).fit(loader)

    crashed = model()
    run = tmp_path / "run"
    callbacks = [ModelCheckpoint(run, every_steps=3), _CrashAt(13)]
    with pytest.raises(_Crash):
        Trainer(crashed, TrainConfig(**options), callbacks=callbacks).fit(loader)
    progress = load_checkpoint(run / "last.safetensors")["progress"]
    assert (progress["epoch"], progress["batch"], progress["step"]) == (1, 3, 11)

    resumed = model(seed=123)  # other initial weights: everything must come from the file
    trainer = Trainer(resumed, TrainConfig(out_dir=str(run), **options))
    history = trainer.fit(loader, resume=True)
    assert history.num_steps == 24 and [r["epoch"] for r in history.epochs] == [0, 1, 2]
    for name, tensor in weights(full).items():
        assert torch.equal(tensor, weights(resumed)[name]), name


def test_load_weights_restores_only_the_model(tmp_path):
    model = regressor("gru")
    trainer = Trainer(model, TrainConfig(epochs=1, quiet=True, out_dir=str(tmp_path),
                                         plots=False))
    trainer.fit(adding_loader(n=32))
    other = regressor("gru", seed=9)
    progress = load_weights(tmp_path / "last.safetensors", other)
    assert progress == {"epoch": 1, "batch": 0, "step": 2, "stop": False, "world_size": 1}
    for name, tensor in weights(model).items():
        assert torch.equal(tensor, weights(other)[name])
