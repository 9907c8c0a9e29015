"""The cell table: a cell defined once, here in the test, runs everywhere rnnkit runs cells.

The cell registered below (a minimal gated cell, no kernel of its own) gets an ``rnnkit.nn``
layer, the reference backend, streaming and training through the engine; the numba and torch
backends decline it by name. Registration is undone after each test.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnnkit.nn as rnn
from rnnkit.cli.info import info_text
from rnnkit.data import BatchLoader, adding_problem
from rnnkit.errors import BackendUnavailableError
from rnnkit.functional import LayerWeights, get_recurrence, run_sequence
from rnnkit.functional.cell_table import (
    CellSpec,
    cell_names,
    get_cell,
    register_cell,
    unregister_cell,
)
from rnnkit.kernels import LayerCall, explain, explain_step, select_backend
from rnnkit.nn.streaming import _CACHE
from rnnkit.train import TrainConfig, Trainer

BUILT_IN = ("rnn_tanh", "rnn_relu", "rnn_sigmoid", "lstm", "gru", "mingru", "minlstm", "lstm_ln",
            "gru_ln")
NAME = "gated_test"


def gated_step(x, state, w: LayerWeights):
    r"""A minimal gated cell, gates stacked (z, n):

    .. math::
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}), \quad
        n_t = \tanh(W_{in} x_t + b_{in} + W_{hn} h_{t-1} + b_{hn}), \quad
        h_t = (1 - z_t) \odot h_{t-1} + z_t \odot n_t

    x (B, F), state (h (B, H),) -> (h_t, (h_t,)).
    """
    (h,) = state
    gz, gn = (F.linear(x, w.w_ih, w.b_ih) + F.linear(h, w.w_hh, w.b_hh)).chunk(2, dim=1)
    z = torch.sigmoid(gz)
    h_new = (1 - z) * h + z * torch.tanh(gn)
    return h_new, (h_new,)


@pytest.fixture
def gated():
    spec = register_cell(CellSpec(NAME, 2, ("h",), gated_step))
    try:
        yield spec
    finally:
        unregister_cell(NAME)
    assert cell_names() == BUILT_IN


def _call(mode: str, **changes) -> LayerCall:
    fields = dict(mode=mode, device_type="cpu", dtype=torch.float32, has_bias=True,
                  has_proj=False, has_lengths=False, reverse=False, requires_grad=True)
    fields.update(changes)
    return LayerCall(**fields)


# ---- the table itself -------------------------------------------------------------------------

def test_built_in_cells_in_a_stable_order() -> None:
    assert cell_names() == BUILT_IN
    lstm, gru = get_cell("lstm"), get_cell("gru")
    assert (lstm.gate_count, lstm.state_names, lstm.supports_proj) == (4, ("h", "c"), True)
    assert (gru.gate_count, gru.state_names, gru.supports_proj) == (3, ("h",), False)
    assert get_cell("rnn_relu").nonlinearity == "relu"
    assert get_recurrence("gru") is gru  # the old names read the same table
    assert lstm.state_sizes(8, 3) == (3, 8) and gru.state_sizes(8) == (8,)
    assert lstm.parameter_shapes(5, 8, 3) == {
        "weight_ih": (32, 5), "weight_hh": (32, 3), "bias_ih": (32,), "bias_hh": (32,),
        "weight_hr": (3, 8),
    }
    assert gru.parameter_shapes(5, 8, bias=False) == {"weight_ih": (24, 5), "weight_hh": (24, 8)}


def test_unknown_names_are_reported_with_a_suggestion() -> None:
    with pytest.raises(ValueError, match=r"name must be one of \['rnn_tanh', .*'gru_ln'\], got "
                                         r"'lstn' \(did you mean 'lstm'\?\)"):
        get_cell("lstn")
    with pytest.raises(ValueError, match=r"mode must be one of .*got 'xyz'$"):
        get_recurrence("xyz")
    with pytest.raises(ValueError, match=r"Recurrent: cell must be one of .*did you mean 'gru'"):
        rnn.Recurrent("gur", 3, 4)


def test_malformed_or_duplicate_registrations_are_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_cell(CellSpec("gru", 3, ("h",), gated_step))
    with pytest.raises(ValueError, match="gate_count must be a positive int, got 0"):
        register_cell(CellSpec("bad", 0, ("h",), gated_step))
    with pytest.raises(ValueError, match=r"state_names must .* starting with 'h'"):
        register_cell(CellSpec("bad", 1, ("c", "h"), gated_step))
    assert cell_names() == BUILT_IN


# ---- a new cell, defined in this file -------------------------------------------------------

def test_a_new_cell_gets_a_layer_on_the_reference_backend(gated) -> None:
    assert cell_names() == (*BUILT_IN, NAME)
    torch.manual_seed(0)
    layer = rnn.Recurrent(NAME, 3, 5, num_layers=2, batch_first=True)
    assert layer.weight_ih_l0.shape == (10, 3) and layer.weight_hh_l1.shape == (10, 5)
    assert layer.weight_ih_l1.shape == (10, 5) and layer.bias_hh_l0.shape == (10,)

    reasons = dict(explain(_call(NAME)))
    assert reasons["numba"] == f"has no kernel for mode {NAME!r}"
    assert reasons["torch"] == f"torch has no fused kernel for mode {NAME!r}"
    assert reasons["reference"] is None
    assert select_backend(_call(NAME)).name == "reference"

    x = torch.randn(4, 6, 3)
    lengths = torch.tensor([6, 2, 5, 1])
    out, h_n = layer(x, lengths=lengths)
    assert out.shape == (4, 6, 5) and h_n.shape == (2, 4, 5)
    # The same stack by hand, with the step defined above.
    w = layer._layer_weights()
    expected, (h0,) = run_sequence(gated, x.transpose(0, 1), (torch.zeros(4, 5),), w[0], lengths)
    expected, (h1,) = run_sequence(gated, expected, (torch.zeros(4, 5),), w[1], lengths)
    torch.testing.assert_close(out, expected.transpose(0, 1))
    torch.testing.assert_close(h_n, torch.stack([h0, h1]))

    with pytest.raises(BackendUnavailableError,
                       match=rf"backend 'numba' cannot run this call .*: has no kernel for mode "
                             rf"'{NAME}'"):
        rnn.Recurrent(NAME, 3, 5, backend="numba")(x)
    text = info_text()
    assert f"{NAME} cpu float32 bias lengths grad" in text
    assert f"numba: not used: has no kernel for mode '{NAME}'" in text


def test_a_new_cell_streams_through_forward(gated) -> None:
    torch.manual_seed(1)
    layer = rnn.Recurrent(NAME, 3, 5, num_layers=2).eval()
    steps = dict(explain_step(_call(NAME, requires_grad=False)))
    assert steps["numba"] == f"has no kernel for mode {NAME!r}"
    assert steps["reference"].startswith("has no compiled step")
    x = torch.randn(7, 2, 3)
    with torch.no_grad():
        out, final = layer(x)
        state, ys = None, []
        for t in range(7):
            y, state = layer.step(x[t], state)
            ys.append(y)
        stream = layer.stream(batch=2)
        streamed = torch.stack([stream.step(x[t]).clone() for t in range(7)])
    assert _CACHE not in layer.__dict__  # no backend served a compiled step
    torch.testing.assert_close(torch.stack(ys), out)
    torch.testing.assert_close(state, final)
    torch.testing.assert_close(streamed, out)
    torch.testing.assert_close(stream.state, final)


def test_a_new_cell_gets_a_single_step_cell(gated) -> None:
    torch.manual_seed(2)
    cell = rnn.Cell(NAME, 3, 5)
    assert cell.weight_ih.shape == (10, 3) and cell.bias_hh.shape == (10,)
    layer = rnn.Recurrent(NAME, 3, 5)
    layer.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    x, h = torch.randn(2, 3), torch.randn(2, 5)
    torch.testing.assert_close(cell(x, h), layer(x.unsqueeze(0), h.unsqueeze(0))[0][0])
    torch.testing.assert_close(cell(x[0]), layer(x[:1])[0][0])  # unbatched, zero state
    with torch.no_grad():
        y, state = cell.step(x, h)
    torch.testing.assert_close(y, cell(x, h))
    torch.testing.assert_close(state, y)


class _Model(nn.Module):
    """A per-sequence regressor on the new cell, implementing the task-model protocol."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = rnn.Recurrent(NAME, 2, 8, batch_first=True)
        self.head = nn.Linear(8, 1)

    def forward(self, inputs, state=None, *, lengths=None):
        out, state = self.backbone(inputs, state, lengths=lengths)
        return self.head(out).squeeze(-1), state  # (B, T)

    def loss(self, outputs, batch):
        mask = batch.mask
        return F.mse_loss(outputs[mask], batch.targets[mask].to(outputs.dtype))


def test_a_new_cell_trains_through_the_engine(gated) -> None:
    torch.manual_seed(0)
    model = _Model()
    before = {n: p.detach().clone() for n, p in model.backbone.named_parameters()}
    x, y = adding_problem(96, 10, seed=0)
    loader = BatchLoader(x, y, batch_size=16, target_at="last", seed=0)
    history = Trainer(model, TrainConfig(epochs=6, lr=0.02, seed=0, quiet=True, plots=False)).fit(
        loader)
    losses = [row["train_loss"] for row in history.epochs]
    assert len(losses) == 6 and all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.7 * losses[0], losses
    # Every parameter of the new cell was trained (its gradients came through autograd).
    assert all(not torch.equal(p, before[n]) for n, p in model.backbone.named_parameters())


def test_a_new_cell_reaches_every_task_model_and_config(gated) -> None:
    from rnnkit.models import Forecaster, SequenceClassifier
    from rnnkit.models.backbone import model_cells
    from rnnkit.tasks.classify_config import ClassifyConfig

    assert model_cells()[:3] == ("lstm", "gru", "rnn") and NAME in model_cells()
    model = SequenceClassifier(3, input_kind="features", input_size=2, cell=NAME, hidden_size=4)
    probs = model.predict_proba(torch.randn(5, 7, 2), torch.tensor([7, 6, 5, 4, 1]))
    assert probs.shape == (5, 3) and torch.allclose(probs.sum(-1), torch.ones(5))
    forecaster = Forecaster(1, 2, cell=NAME, hidden_size=4)
    assert forecaster.encoder.mode == NAME
    assert ClassifyConfig(cell=NAME).cell == NAME
    with pytest.raises(ValueError, match=r"cell must be one of .*'gated_test'.*got 'gated'"):
        ClassifyConfig(cell="gated")
