"""Learning: an LSTM solves the adding problem (T = 50) where an Elman RNN with the same budget
does not (predicting 0 scores MSE 2/3)."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data import ADDING_ZERO_MSE, BatchLoader, adding_problem
from rnnkit.models import SequenceRegressor
from rnnkit.train import TrainConfig, Trainer


def _test_mse(cell: str, length: int, sequences: int, epochs: int) -> float:
    x, y = adding_problem(sequences, length, seed=1)
    xt, yt = adding_problem(1000, length, seed=2)
    torch.manual_seed(0)
    model = SequenceRegressor(2, 16, cell=cell, forget_bias=1.0 if cell == "lstm" else None)
    trainer = Trainer(model, TrainConfig(epochs=epochs, lr=1e-2, clip_norm=1.0, quiet=True))
    trainer.fit(BatchLoader(x, y, batch_size=32, target_at="last", seed=0))
    test = BatchLoader(xt, yt, batch_size=500, target_at="last", shuffle=False)
    return trainer.evaluate(test)["test_loss"]


@pytest.mark.slow
def test_lstm_learns_the_adding_problem_where_an_elman_rnn_does_not():
    # T = 50, 2,000 sequences, 10 epochs of 63 batches. Observed over seeds 0-5: LSTM
    # 0.003-0.012, Elman 0.67-0.81 (it stays at the trivial answer).
    lstm = _test_mse("lstm", 50, 2000, 10)
    elman = _test_mse("rnn", 50, 2000, 10)
    assert lstm < 0.1 * ADDING_ZERO_MSE
    assert elman > 0.4 * ADDING_ZERO_MSE
    assert elman > 10 * lstm
