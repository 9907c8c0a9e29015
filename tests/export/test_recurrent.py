"""The ONNX lowering of rnnkit.nn layers: every exportable cell, both directions, several
layers and per-sample lengths, run in onnxruntime at shapes other than the traced ones."""

import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import onnxruntime as ort

from rnnkit.export import ExportableRecurrent, ExportError
from rnnkit.nn import GRU, LSTM, RNN


class _Wrap(torch.nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.rnn = ExportableRecurrent(layer)

    def forward(self, x, lengths, *states):
        out, final = self.rnn(x, states if len(states) > 1 else states[0], lengths=lengths)
        finals = final if isinstance(final, tuple) else (final,)
        return (out, *finals)


def _export(layer, n_states, tmp_path):
    B, T, F = 3, 6, layer.input_size
    rows = layer.num_layers * (2 if layer.bidirectional else 1)
    args = (torch.randn(B, T, F), torch.tensor([6, 4, 2]),
            *(torch.randn(rows, B, layer.hidden_size) for _ in range(n_states)))
    batch, time = torch.export.Dim("batch", min=1), torch.export.Dim("time", min=1)
    shapes = ({0: batch, 1: time}, {0: batch}, tuple({1: batch} for _ in range(n_states)))
    path = tmp_path / "layer.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's own deprecation chatter
        program = torch.onnx.export(_Wrap(layer).eval(), args, dynamo=True, dynamic_shapes=shapes)
    program.save(str(path))
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(
    ("make", "n_states"),
    [
        (lambda: LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True), 2),
        (lambda: GRU(5, 7, num_layers=2, bidirectional=True, batch_first=True), 1),
        (lambda: RNN(5, 7, num_layers=2, bidirectional=True, batch_first=True), 1),
        (lambda: RNN(5, 7, nonlinearity="relu", batch_first=True), 1),
        (lambda: LSTM(5, 7, num_layers=3, batch_first=True, bias=False), 2),
    ],
    ids=["lstm-bi-2", "gru-bi-2", "tanh-bi-2", "relu-1", "lstm-3-nobias"],
)
def test_layer_matches_rnnkit_at_new_shapes_with_lengths(make, n_states, tmp_path):
    torch.manual_seed(0)
    layer = make().eval()
    session = _export(layer, n_states, tmp_path)
    B, T = 5, 11  # traced at 3 × 6
    rows = layer.num_layers * (2 if layer.bidirectional else 1)
    x = torch.randn(B, T, 5)
    lengths = torch.tensor([11, 1, 4, 9, 6])
    states = [torch.randn(rows, B, 7) for _ in range(n_states)]
    with torch.no_grad():
        out, final = layer(x, tuple(states) if n_states > 1 else states[0], lengths=lengths)
    finals = final if isinstance(final, tuple) else (final,)
    values = [x, lengths, *states]
    feeds = {i.name: v.numpy() for i, v in zip(session.get_inputs(), values, strict=True)}
    got = session.run(None, feeds)
    for have, want in zip(got, [out, *finals], strict=True):
        np.testing.assert_allclose(have, want.numpy(), rtol=1e-5, atol=1e-6)
    # Outputs past each length are zero, as in rnnkit.
    assert np.all(got[0][1, 1:] == 0.0)


def test_a_projecting_lstm_is_refused_with_the_reason():
    with pytest.raises(ExportError, match="proj_size=3 has no ONNX operator"):
        ExportableRecurrent(LSTM(4, 6, proj_size=3))
