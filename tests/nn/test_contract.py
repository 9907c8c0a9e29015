"""A contract every layer passes: same init as torch, state dicts both ways, repr, dtype moves,
train/eval, pickling and determinism."""

from __future__ import annotations

import pickle

import pytest
import torch

import rnnkit.nn as rnn
from tests.nn.helpers import assert_close

# name -> (rnnkit factory, torch factory, example input)
CONTRACT = {
    "RNN": (lambda: rnn.RNN(3, 4, num_layers=2, bidirectional=True),
            lambda: torch.nn.RNN(3, 4, num_layers=2, bidirectional=True)),
    "RNN-relu": (lambda: rnn.RNN(3, 4, nonlinearity="relu", bias=False),
                 lambda: torch.nn.RNN(3, 4, nonlinearity="relu", bias=False)),
    "LSTM": (lambda: rnn.LSTM(3, 4, num_layers=2, batch_first=True),
             lambda: torch.nn.LSTM(3, 4, num_layers=2, batch_first=True)),
    "LSTM-proj": (lambda: rnn.LSTM(3, 4, proj_size=2, bidirectional=True),
                  lambda: torch.nn.LSTM(3, 4, proj_size=2, bidirectional=True)),
    "GRU": (lambda: rnn.GRU(3, 4, num_layers=3, dropout=0.25),
            lambda: torch.nn.GRU(3, 4, num_layers=3, dropout=0.25)),
    "RNNCell": (lambda: rnn.RNNCell(3, 4, nonlinearity="relu"),
                lambda: torch.nn.RNNCell(3, 4, nonlinearity="relu")),
    "LSTMCell": (lambda: rnn.LSTMCell(3, 4, bias=False),
                 lambda: torch.nn.LSTMCell(3, 4, bias=False)),
    "GRUCell": (lambda: rnn.GRUCell(3, 4), lambda: torch.nn.GRUCell(3, 4)),
}
ALL = [*CONTRACT, "ElmanRNN"]
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")


def build(name: str):
    if name == "ElmanRNN":
        return rnn.ElmanRNN(3, 4, 2)
    return CONTRACT[name][0]()


def example(name: str, dtype=torch.float32) -> torch.Tensor:
    torch.manual_seed(3)
    if name.endswith("Cell"):
        return torch.randn(2, 3, dtype=dtype)
    return torch.randn(2, 5, 3, dtype=dtype)  # (B, T, F) if batch_first else (T, B, F)


def first(out):
    """The first tensor of a layer's output structure."""
    while isinstance(out, tuple):
        out = out[0]
    return out


@pytest.mark.parametrize("name", list(CONTRACT))
def test_same_initialisation_as_torch(name) -> None:
    torch.manual_seed(7)
    ours = CONTRACT[name][0]()
    torch.manual_seed(7)
    theirs = CONTRACT[name][1]()
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert a[key].shape == b[key].shape
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("name", list(CONTRACT))
def test_state_dict_loads_both_ways(name) -> None:
    ours, theirs = CONTRACT[name][0]().eval(), CONTRACT[name][1]().eval()
    x = example(name)
    ours.load_state_dict(theirs.state_dict())
    assert_close(first(ours(x)).detach(), first(theirs(x)).detach(), torch.float32, "torch->ours")
    fresh = CONTRACT[name][1]().eval()
    fresh.load_state_dict(ours.state_dict())
    assert_close(first(fresh(x)).detach(), first(ours(x)).detach(), torch.float32, "ours->torch")


@pytest.mark.parametrize("name", list(CONTRACT))
def test_repr_matches_torch(name) -> None:
    ours, theirs = repr(CONTRACT[name][0]()), repr(CONTRACT[name][1]())
    if name == "RNN-relu":  # rnnkit also shows a non-default nonlinearity, which torch omits
        assert ours == theirs[:-1] + ", nonlinearity=relu)"
    else:
        assert ours == theirs


@pytest.mark.parametrize("name", ALL)
def test_to_float64_and_back(name) -> None:
    layer = build(name).eval()
    x = example(name)
    out32 = first(layer(x)).detach()
    layer = layer.to(torch.float64)
    assert all(p.dtype == torch.float64 for p in layer.parameters())
    out64 = first(layer(x.double())).detach()
    assert out64.dtype == torch.float64
    assert (out64 - out32.double()).abs().max() < 1e-5
    with pytest.raises(TypeError, match=r"must have the parameters' dtype torch\.float64"):
        layer(x)


@pytest.mark.parametrize("name", ALL)
def test_train_eval_and_pickle(name) -> None:
    layer = build(name)
    assert layer.training
    layer.eval()
    assert not layer.training and all(not m.training for m in layer.modules())
    clone = pickle.loads(pickle.dumps(layer))
    x = example(name)
    assert torch.equal(first(clone(x)), first(layer(x)))
    assert repr(clone) == repr(layer)


@pytest.mark.parametrize("name", ALL)
def test_deterministic_for_a_fixed_seed(name) -> None:
    outputs = []
    for _ in range(2):
        torch.manual_seed(11)
        layer = build(name)
        outputs.append(first(layer(example(name))).detach())
    assert torch.equal(outputs[0], outputs[1])


def test_dropout_between_layers_only_in_training() -> None:
    """Training mode drops out layer 0's output before layer 1 (values checked by hand); eval
    mode and the last layer's output are untouched."""
    from rnnkit.functional import LayerWeights, run_sequence

    layer = rnn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = torch.randn(5, 2, 3)
    h0 = torch.zeros(1, 2, 4)

    def weights(k: int) -> LayerWeights:
        return LayerWeights(*(getattr(layer, f"{n}_l{k}") for n in
                              ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))

    torch.manual_seed(5)
    out_train, _ = layer(x)
    torch.manual_seed(5)
    mid, _ = run_sequence("gru", x, (h0[0],), weights(0))
    mid = torch.nn.functional.dropout(mid, 0.5, training=True)
    expected, _ = run_sequence("gru", mid, (h0[0],), weights(1))
    assert_close(out_train.detach(), expected.detach(), torch.float32, "training with dropout")

    layer.eval()
    out_eval, _ = layer(x)
    plain, _ = run_sequence("gru", run_sequence("gru", x, (h0[0],), weights(0))[0],
                            (h0[0],), weights(1))
    assert_close(out_eval.detach(), plain.detach(), torch.float32, "eval ignores dropout")
    assert (out_train - out_eval).abs().max() > 1e-3, "dropout must change training outputs"
