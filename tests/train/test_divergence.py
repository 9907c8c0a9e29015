"""The divergence guard: NaN in the data or a huge learning rate stops training with a message
that names the update, the last finite loss and what to try; the last checkpoint still loads."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.data import BatchLoader, adding_problem
from rnnkit.train import DivergenceError, TrainConfig, Trainer, load_checkpoint, load_weights
from tests.train.helpers import regressor, weights


def test_nan_in_the_data_stops_training_and_the_last_checkpoint_loads(tmp_path):
    x, y = adding_problem(64, 10, seed=0)
    # Unshuffled batches of 16: sequence 40 sits in batch 2 of every epoch.
    x[40, 3, 0] = float("nan")
    loader = BatchLoader(x, y, batch_size=16, shuffle=False, target_at="last")
    model = regressor("lstm")
    config = TrainConfig(epochs=3, lr=0.01, quiet=True, out_dir=str(tmp_path), plots=False,
                         checkpoint_every=1)
    trainer = Trainer(model, config)
    with pytest.raises(DivergenceError) as caught:
        trainer.fit(loader)
    err = caught.value
    message = str(err)
    assert err.step == 2
    assert "Training diverged at update 2 (epoch 0, batch 2): the loss is nan" in message
    assert f"the last finite loss was {err.last_finite_loss:.6g} at update 1" in message
    assert math.isfinite(err.last_finite_loss)
    assert "a lower learning rate (it is 0.01 now)" in message
    assert "gradient clipping (e.g. TrainConfig(clip_norm=1.0))" in message
    assert "checking the data for NaN/Inf values" in message
    assert "The weights were not updated with this step" in message
    assert (f"the last good checkpoint is {tmp_path / 'last.safetensors'}, written after "
            "2 update(s)") in message

    # The guard fired before the optimiser step: the model in memory is still the good one,
    # and the checkpoint on disk holds it.
    state = load_checkpoint(tmp_path / "last.safetensors")
    assert state["progress"] == {"epoch": 0, "batch": 2, "step": 2, "stop": False, "world_size": 1}
    fresh = regressor("lstm", seed=7)
    load_weights(tmp_path / "last.safetensors", fresh)
    for name, tensor in weights(model).items():
        assert torch.isfinite(tensor).all()
        assert torch.equal(weights(fresh)[name], tensor), name
    # the history of the failed run is written for inspection
    assert (tmp_path / "steps.csv").read_text().count("\n") == 3  # header + 2 updates


def test_a_huge_learning_rate_trips_the_guard_and_the_checkpoint_before_it_loads(tmp_path):
    x, y = adding_problem(96, 10, seed=1)
    loader = BatchLoader(x, y * 1e3, batch_size=8, target_at="last")  # large targets, large grads
    model = regressor("rnn")
    config = TrainConfig(epochs=5, optimizer="sgd", lr=1e6, momentum=0.0, quiet=True,
                         out_dir=str(tmp_path), plots=False, checkpoint_every=1)
    # The loss explodes (finite, over 1e6 × the first loss) before anything becomes NaN.
    with pytest.raises(DivergenceError, match=r"Training diverged at update 1 .*: the loss is "
                       r"[\d.e+]+, more than 1e\+06 times the first update's loss") as caught:
        Trainer(model, config).fit(loader)
    err = caught.value
    assert "a learning rate 10 to 1000 times lower (--lr, TrainConfig.lr; it is 1e+06 now)" \
        in str(err)
    assert err.checkpoint == str(tmp_path / "last.safetensors")
    assert (f"the last checkpoint, {err.checkpoint} (written after 1 update(s)), already holds "
            "the weights that give this loss: start over rather than resume from it") in str(err)
    state = load_checkpoint(err.checkpoint)
    assert state["progress"]["step"] <= err.step
    assert all(torch.isfinite(t).all() for t in state["model"].values())
    load_weights(err.checkpoint, regressor("rnn", seed=3))


@pytest.mark.parametrize("bad,expected", [
    # NaN makes the very first loss NaN.
    (float("nan"), r"the loss is nan; no finite loss was seen before it\."),
    # Inf saturates the gates: the loss stays finite, the gradient does not.
    (float("inf"), r"the gradient norm is nan; the last finite loss was [\d.]+ at update 0\."),
], ids=["nan-loss", "inf-gradient"])
def test_the_first_update_can_fail_on_the_loss_or_on_the_gradient(bad, expected):
    x, y = adding_problem(16, 6, seed=0)
    x[0, 0, 0] = bad
    loader = BatchLoader(x, y, batch_size=16, target_at="last")
    with pytest.raises(DivergenceError, match=expected + r".*a smaller clip_norm \(it is 0\.5\)"
                       r".*no checkpoint was written \(set out_dir to keep one\)"):
        Trainer(regressor("lstm"), TrainConfig(epochs=1, quiet=True, clip_norm=0.5)).fit(loader)


def test_before_the_first_checkpoint_the_message_says_when_they_are_written(tmp_path):
    x, y = adding_problem(32, 6, seed=0)
    x[20, 0, 0] = float("nan")
    loader = BatchLoader(x, y, batch_size=8, shuffle=False, target_at="last")
    config = TrainConfig(epochs=1, quiet=True, out_dir=str(tmp_path), plots=False)
    with pytest.raises(DivergenceError, match=r"no checkpoint has been written yet \(they are "
                       r"written at the end of each epoch and, with checkpoint_every, within"):
        Trainer(regressor("lstm"), config).fit(loader)
