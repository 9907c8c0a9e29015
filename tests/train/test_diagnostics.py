"""Long-range diagnostics: ∂L/∂h_t by distance, saturated gates, spectral radius, the callback."""

import numpy as np
import pytest
import torch

from rnnkit.data import BatchLoader, adding_problem
from rnnkit.models import SequenceRegressor
from rnnkit.train import TrainConfig, Trainer
from rnnkit.train.diagnostics import Diagnosis, GradientDiagnostics, diagnose_batch


def one_batch(n=16, t=12, seed=0):
    x, y = adding_problem(n, t, seed=seed)
    return next(iter(BatchLoader(x, y, batch_size=n, target_at="last", shuffle=False).batches(0)))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "mingru", "minlstm"])
def test_the_unrolled_stack_is_the_model_and_its_state_gradients_are_total(cell):
    torch.manual_seed(0)
    model = SequenceRegressor(2, 6, cell=cell, num_layers=2)
    batch = one_batch()
    with torch.no_grad():
        out, _ = model(batch.inputs)
        expected = float(model.loss(out, batch))
    d = diagnose_batch(model, batch)
    assert d.loss == pytest.approx(expected, rel=1e-5)
    assert all(p.grad is None for p in model.parameters())  # the model is left untouched
    # For the top layer, ∂L/∂h at distance 0 is the head's weight times dL/dŷ; at distance
    # 1 it can only come through the recurrence, so it must be non-zero (a gradient taken
    # from the layer's output tensor alone would be 0 there).
    top = d.grad_norm[1]
    assert top[0] > 0 and top[1] > 0
    # Independent check of the top layer at distance 0: dL/dŷ_b = 2 (ŷ_b − y_b) / B per
    # sample, and ∂L/∂h_T = W_head^T dL/dŷ.
    with torch.no_grad():
        pred = model.predict(batch.inputs)[:, 0]
        dl = 2 * (pred - batch.targets[:, -1].float()) / len(pred)
        want = (dl[:, None] * model.head.weight[0][None, :]).norm(dim=1).mean()
    assert top[0] == pytest.approx(float(want), rel=1e-4)


def test_variable_lengths_are_measured_from_each_sequence_end():
    torch.manual_seed(0)
    model = SequenceRegressor(2, 4, cell="lstm")
    x, y = adding_problem(4, 10, seed=1)
    short = BatchLoader(x[:, :6].contiguous(), y, batch_size=4, target_at="last",
                        shuffle=False)
    d_short = diagnose_batch(model, next(iter(short.batches(0))))
    # The same sequences padded to 10 steps with lengths 6 give the same profile for d < 6.
    padded = torch.cat([x[:, :6], torch.zeros(4, 4, 2)], dim=1)
    from rnnkit.data.batching import SequenceBatch

    full = next(iter(short.batches(0)))
    batch = SequenceBatch(inputs=padded, targets=torch.cat(
        [full.targets, torch.zeros(4, 4, dtype=full.targets.dtype)], dim=1),
        mask=torch.cat([full.mask, torch.zeros(4, 4, dtype=torch.bool)], dim=1),
        lengths=torch.full((4,), 6))
    d_padded = diagnose_batch(model, batch)
    np.testing.assert_allclose(d_padded.grad_norm[0][:6], d_short.grad_norm[0], rtol=1e-5)
    assert (d_padded.grad_norm[0][6:] == 0).all()  # no sequence reaches that far back


def test_saturation_and_spectral_radius_from_known_weights():
    model = SequenceRegressor(2, 3, cell="rnn")
    batch = one_batch()
    with torch.no_grad():
        model.backbone.weight_hh_l0.copy_(torch.diag(torch.tensor([0.5, -0.25, 0.1])))
        model.backbone.weight_ih_l0.fill_(0.0)
        model.backbone.bias_ih_l0.fill_(0.0)
        model.backbone.bias_hh_l0.fill_(0.0)
    d = diagnose_batch(model, batch)
    assert d.spectral_radius[0] == {"W_hh": pytest.approx(0.5)}
    assert d.saturation == [0.0]  # every state is exactly 0
    with torch.no_grad():
        model.backbone.weight_ih_l0.fill_(100.0)  # tanh pinned at ±1 whenever an input is ≠ 0
    d = diagnose_batch(model, batch)
    assert d.saturation[0] > 0.95
    lstm = SequenceRegressor(2, 3, cell="lstm")
    with torch.no_grad():
        lstm.backbone.bias_ih_l0.fill_(20.0)  # every sigmoid gate at 1
    d = diagnose_batch(lstm, batch)
    assert d.saturation == [pytest.approx(1.0)]
    assert sorted(d.spectral_radius[0]) == ["f", "g", "i", "o"]


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_a_cell_without_w_hh_reports_its_carry_factor(cell):
    # h_t = a_t ⊙ h_{t−1} + b_t with gates from x_t only: with W_ih = 0 and zero gate biases
    # every gate is σ(0) = 1/2, so a_t = 1 − z = 1/2 (minGRU) and f / (f + i) = 1/2 (minLSTM).
    model = SequenceRegressor(2, 3, cell=cell)
    batch = one_batch()
    with torch.no_grad():
        model.backbone.weight_ih_l0.fill_(0.0)
        model.backbone.bias_ih_l0.fill_(0.0)
    d = diagnose_batch(model, batch)
    assert d.spectral_radius[0] == {"mean a_t": pytest.approx(0.5)}
    assert d.saturation == [0.0]
    assert "mean carry factor a_t 0.500" in d.describe()
    with torch.no_grad():
        model.backbone.bias_ih_l0[:3].fill_(20.0)  # first gate (z or f) pinned at 1
    d = diagnose_batch(model, batch)
    gates = 1 if cell == "mingru" else 2
    assert d.saturation == [pytest.approx(1.0 / gates)]
    # minGRU: z = 1 forgets everything (a = 0); minLSTM: f = 1, i = 1/2 keeps 2/3.
    assert d.spectral_radius[0]["mean a_t"] == pytest.approx(0.0 if cell == "mingru" else 2 / 3,
                                                             abs=1e-6)


def test_memory_length_and_its_words():
    d = Diagnosis("lstm", [np.array([1.0, 0.5, 0.05, 0.009, 0.001])], [0.1], [{"f": 0.9}],
                  loss=1.0, fraction=0.01)
    assert d.memory_length() == 2
    text = d.describe()
    assert "falls below 1% of its value at the last step after 2 steps" in text
    assert "Saturated gates: 10.0%" in text and "f 0.90" in text
    assert Diagnosis("rnn", [np.array([1.0, 0.9])], [0.0], [{}], 1.0).memory_length() == 1


def test_bad_arguments_are_named():
    batch = one_batch()
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\), got 1.5"):
        diagnose_batch(SequenceRegressor(2, 3), batch, fraction=1.5)
    with pytest.raises(ValueError, match=r"must contain an rnnkit\.nn recurrent layer, got Linear"):
        diagnose_batch(torch.nn.Linear(2, 1), batch)
    with pytest.raises(ValueError, match="every must be a positive integer, got 0"):
        GradientDiagnostics(batch, every=0)


def test_callback_records_epochs_and_writes_the_plot(tmp_path):
    torch.manual_seed(0)
    x, y = adding_problem(64, 20, seed=0)
    train = BatchLoader(x, y, batch_size=16, target_at="last", seed=0)
    probe = next(iter(BatchLoader(x[:16], y[:16], batch_size=16, target_at="last",
                                  shuffle=False).batches(0)))
    callback = GradientDiagnostics(probe, every=2, out_dir=tmp_path)
    model = SequenceRegressor(2, 8, cell="lstm")
    config = TrainConfig(epochs=4, lr=1e-2, clip_norm=1e-3, quiet=True, monitor="train_loss")
    Trainer(model, config, callbacks=[callback]).fit(train)
    assert [epoch for epoch, _, _ in callback.records] == [2, 4]
    assert all(clipped for _, _, clipped in callback.records)  # a tiny clip norm clips all
    assert (tmp_path / "gradient_norms.png").read_bytes()[:4] == b"\x89PNG"
