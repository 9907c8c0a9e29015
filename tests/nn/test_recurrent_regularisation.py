"""Recurrent dropout (one mask per sequence) and zoneout (a fresh mask per step; the
expectation in evaluation) as layer options, observed through probe cells defined here."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import rnnkit.nn as rnn
from rnnkit.errors import BackendUnavailableError
from rnnkit.export.recurrent import ExportableRecurrent, ExportError
from rnnkit.functional import get_cell, lstm_cell, regularised_cell
from rnnkit.functional.cell_table import CellSpec, register_cell, unregister_cell
from rnnkit.kernels import LayerCall, explain
from tests.nn.helpers import assert_close

READS: list[torch.Tensor] = []  # what the probe cell's gates read as h_{t-1}, step by step


def _probe_step(x, state, w):
    """h_t = 1.5 + 0.1·tanh(W_ih x + W_hh h_{t-1}): never 0, so read / h_{t-1} is the mask."""
    READS.append(state[0].detach().clone())
    h = 1.5 + 0.1 * torch.tanh(F.linear(x, w.w_ih, w.b_ih) + F.linear(state[0], w.w_hh, w.b_hh))
    return h, (h,)


def _counter_step(x, state, w):
    """h_t = h_{t-1} + 1 (the weights are unused): under zoneout h_t − h_{t-1} is 1 − d_t."""
    h = state[0] + 1.0 + 0.0 * w.w_ih.sum()
    return h, (h,)


@pytest.fixture
def probe():
    register_cell(CellSpec("probe_test", 1, ("h",), _probe_step))
    register_cell(CellSpec("counter_test", 1, ("h",), _counter_step))
    READS.clear()
    try:
        yield
    finally:
        unregister_cell("probe_test")
        unregister_cell("counter_test")


def test_recurrent_dropout_mask_is_fixed_over_time_and_new_per_sequence(probe) -> None:
    torch.manual_seed(0)
    layer = rnn.Recurrent("probe_test", 3, 64, recurrent_dropout=0.5).train()
    x = torch.randn(6, 4, 3)
    h0 = torch.ones(1, 4, 64)
    out, _ = layer(x, h0)
    steps = torch.cat([h0, out[:-1]])  # h_{t-1}
    masks = [READS[t] / steps[t] for t in range(6)]
    for t in range(6):
        assert torch.equal(masks[t], masks[0]), f"step {t} read another mask"
    values = set(masks[0].flatten().tolist())
    assert values == {0.0, 2.0}  # inverted dropout: kept units are scaled by 1 / (1 − p)
    assert 0.35 < (masks[0] == 0).float().mean().item() < 0.65
    assert not torch.equal(masks[0][0], masks[0][1])  # each sample has its own mask
    READS.clear()
    layer(x, h0)
    assert not torch.equal(READS[0], masks[0])  # the next batch of sequences: a new mask
    READS.clear()
    layer.eval()(x, h0)
    assert torch.equal(READS[0], h0[0])  # evaluation: no mask


def test_recurrent_dropout_masks_differ_between_layers_and_directions(probe) -> None:
    torch.manual_seed(1)
    layer = rnn.Recurrent("probe_test", 3, 32, num_layers=2, bidirectional=True,
                          recurrent_dropout=0.5)
    layer(torch.randn(2, 3, 3), torch.ones(4, 3, 32))
    firsts = [READS[k * 2] for k in range(4)]  # step 0 of each (layer, direction): h0 = 1
    for a in range(4):
        assert set(firsts[a].flatten().tolist()) == {0.0, 2.0}
        for b in range(a):
            assert not torch.equal(firsts[a], firsts[b]), (a, b)


def test_zoneout_draws_a_fresh_mask_per_step_with_rate_p(probe) -> None:
    torch.manual_seed(2)
    layer = rnn.Recurrent("counter_test", 2, 200, zoneout=0.3)
    out, h_n = layer(torch.zeros(8, 5, 2))
    moved = torch.diff(torch.cat([torch.zeros(1, 5, 200), out]), dim=0)  # 1 − d_t
    assert set(moved.flatten().tolist()) == {0.0, 1.0}
    kept = 1.0 - moved
    assert 0.27 < kept.mean().item() < 0.33  # 8 000 draws of Bernoulli(0.3)
    for t in range(1, 8):
        assert not torch.equal(kept[t], kept[0])
    assert torch.equal(h_n[0], out[-1])
    # Evaluation: the expectation, h_t = h_{t-1} + (1 − p), the same on every call.
    layer.eval()
    first, _ = layer(torch.zeros(8, 5, 2))
    again, _ = layer(torch.zeros(8, 5, 2))
    assert torch.equal(first, again)
    expected = 0.7 * torch.arange(1, 9, dtype=torch.float32).view(8, 1, 1).expand(8, 5, 200)
    assert torch.allclose(first, expected, atol=1e-5)


def _lstm_pair(**options):
    torch.manual_seed(3)
    theirs = torch.nn.LSTM(3, 5, num_layers=2)
    ours = rnn.LSTM(3, 5, num_layers=2, **options)
    ours.load_state_dict(theirs.state_dict())
    return theirs, ours


def test_zoneout_zero_and_recurrent_dropout_zero_are_the_plain_lstm_in_training() -> None:
    theirs, ours = _lstm_pair(zoneout=0.0, recurrent_dropout=0.0)
    x = torch.randn(6, 2, 3)
    expected, (h, c) = theirs.train()(x)
    got, (h2, c2) = ours.train()(x)
    assert_close(got, expected, torch.float32, "output")
    assert_close(h2, h, torch.float32, "h_n")
    assert_close(c2, c, torch.float32, "c_n")


@pytest.mark.parametrize("training", [True, False])
def test_zoneout_one_keeps_the_initial_state(training) -> None:
    _, ours = _lstm_pair(zoneout=1.0)
    ours.train(training)
    h0, c0 = torch.randn(2, 3, 5), torch.randn(2, 3, 5)
    out, (h_n, c_n) = ours(torch.randn(4, 3, 3), (h0, c0), lengths=[4, 1, 2])
    assert torch.equal(h_n, h0) and torch.equal(c_n, c0)
    for b, n in enumerate([4, 1, 2]):
        assert torch.equal(out[:n, b], h0[1, b].expand(n, 5))  # every real step outputs h_0
        assert torch.count_nonzero(out[n:, b]) == 0  # zeros past the sample's length


def test_zoneout_evaluation_is_the_expectation_by_hand() -> None:
    _, ours = _lstm_pair(zoneout=0.25)
    ours.eval()
    x = torch.randn(5, 2, 3)
    out, (h_n, c_n) = ours(x)
    layer_in = x
    finals = []
    for layer in range(2):
        w = [getattr(ours, f"{k}_l{layer}") for k in ("weight_ih", "weight_hh", "bias_ih",
                                                       "bias_hh")]
        h = c = torch.zeros(2, 5)
        ys = []
        for t in range(5):
            h_new, c_new = lstm_cell(layer_in[t], (h, c), *w)
            h, c = 0.25 * h + 0.75 * h_new, 0.25 * c + 0.75 * c_new
            ys.append(h)
        layer_in = torch.stack(ys)
        finals.append((h, c))
    assert_close(out, layer_in, torch.float32, "output")
    assert_close(h_n[0], finals[0][0], torch.float32, "h_n of layer 0")
    assert_close(c_n[1], finals[1][1], torch.float32, "c_n of layer 1")


def test_training_zoneout_averages_to_the_expectation() -> None:
    """One step from a fixed state, 20 000 copies: the mean of the masked states is p·old +
    (1 − p)·new within sampling error."""
    torch.manual_seed(4)
    _, ours = _lstm_pair(zoneout=0.4)
    x = torch.randn(1, 1, 3).expand(1, 20000, 3).contiguous()
    h0 = torch.randn(2, 1, 5).expand(2, 20000, 5).contiguous()
    c0 = torch.randn(2, 1, 5).expand(2, 20000, 5).contiguous()
    with torch.no_grad():
        train_out, (_, c_train) = ours.train()(x, (h0, c0))
        eval_out, (_, c_eval) = ours.eval()(x, (h0, c0))
    assert (train_out[0, :, 0] != train_out[0, 0, 0]).any()  # training really samples
    assert torch.allclose(c_train[0].mean(0), c_eval[0, 0], atol=0.03)
    assert torch.allclose(train_out[0].mean(0), eval_out[0, 0], atol=0.03)


def test_padded_equals_each_sample_alone_under_zoneout_in_evaluation() -> None:
    torch.manual_seed(5)
    layer = rnn.GRU(3, 4, bidirectional=True, zoneout=0.3, layer_norm=True,
                    batch_first=True).eval()
    x = torch.randn(3, 5, 3)
    out, h_n = layer(x, lengths=[5, 2, 3])
    for b, n in enumerate([5, 2, 3]):
        alone, h_alone = layer(x[b:b + 1, :n])
        assert_close(out[b, :n], alone[0], torch.float32, f"sample {b}")
        assert_close(h_n[:, b], h_alone[:, 0], torch.float32, f"final {b}")


def test_step_equals_sequence_call_in_evaluation() -> None:
    torch.manual_seed(6)
    layer = rnn.LSTM(3, 5, num_layers=2, zoneout=0.2, recurrent_dropout=0.3).eval()
    x = torch.randn(6, 2, 3)
    out, (h_n, c_n) = layer(x)
    state = None
    with torch.no_grad():
        for t in range(6):
            y, state = layer.step(x[t], state)
            assert_close(y, out[t], torch.float32, f"step {t}")
        stream = layer.stream(batch=2)
        for t in range(6):
            y = stream.step(x[t])
    assert_close(y, out[-1], torch.float32, "stream")
    assert_close(state[0], h_n, torch.float32, "h_n")
    assert_close(state[1], c_n, torch.float32, "c_n")


def test_seed_reproduces_training_masks_and_gradcheck_through_them() -> None:
    layer = rnn.LSTM(2, 3, layer_norm=True, zoneout=0.3, recurrent_dropout=0.4,
                     dtype=torch.float64)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)

    def run(x):
        torch.manual_seed(7)  # the same masks on every evaluation of the function
        return layer(x, lengths=[4, 3])[0]

    first, second = run(x), run(x)
    assert torch.equal(first, second)
    torch.manual_seed(8)
    assert not torch.equal(layer(x)[0], first)
    assert torch.autograd.gradcheck(run, (x,), eps=1e-6, atol=1e-6, fast_mode=True)


def test_fused_backends_decline_regularised_calls_with_a_reason() -> None:
    call = LayerCall("lstm", "cpu", torch.float32, True, False, False, False, True,
                     regularised=True)
    reasons = dict(explain(call))
    assert reasons["reference"] is None
    assert reasons["numba"] is None  # its own regularised loops (tests/kernels)
    assert reasons["torch"] == (
        "runs its own kernel, not the cell's step, so it cannot apply recurrent dropout or "
        "zoneout")
    projected = dict(explain(LayerCall("lstm", "cpu", torch.float32, True, True, False, False,
                                       True, regularised=True)))
    assert projected["numba"] is None
    assert projected["reference"] is None
    elman = dict(explain(LayerCall("rnn_tanh", "cpu", torch.float32, True, False, False, False,
                                   True, regularised=True)))
    assert elman["numba"] is None
    layer = rnn.LSTM(2, 3, zoneout=0.1, backend="torch")
    with pytest.raises(BackendUnavailableError, match=r"backend 'torch' cannot run this call "
                                                      r"\(lstm cpu float32 .*regularised\)"):
        layer(torch.randn(3, 1, 2))
    # Recurrent dropout in evaluation is no regulariser: the fused kernel serves it.
    assert rnn.LSTM(2, 3, recurrent_dropout=0.5, backend="torch").eval()(
        torch.randn(3, 1, 2))[0].shape == (3, 1, 3)


def test_bad_options_are_refused_at_the_boundary() -> None:
    with pytest.raises(ValueError, match=r"LSTM: recurrent_dropout must be in \[0, 1\), got 1.0"):
        rnn.LSTM(2, 3, recurrent_dropout=1.0)
    with pytest.raises(ValueError, match=r"GRU: zoneout must be in \[0, 1\], got 1.5"):
        rnn.GRU(2, 3, zoneout=1.5)
    with pytest.raises(TypeError, match=r"RNN: zoneout must be a float in \[0, 1\], got str"):
        rnn.RNN(2, 3, zoneout="0.1")
    with pytest.raises(ValueError, match=r"recurrent_dropout needs a cell whose gates read "
                                         r"h_\(t-1\); the cell 'mingru' has no recurrent"):
        rnn.Recurrent("mingru", 2, 3, recurrent_dropout=0.2)
    with pytest.raises(ExportError, match=r"zoneout=0.1 has no ONNX operator"):
        ExportableRecurrent(rnn.LSTM(2, 3, zoneout=0.1))
    assert "recurrent_dropout=0.2, zoneout=0.1" in repr(
        rnn.GRU(2, 3, recurrent_dropout=0.2, zoneout=0.1))


@pytest.mark.parametrize("mode,proj", [("gru", 0), ("lstm", 0), ("lstm", 2)])
def test_regularised_step_of_the_built_in_cells_is_the_reference_step(mode, proj) -> None:
    """The regularised LSTM/GRU step runs torch's fused cell (same equations, fused backward);
    it agrees with the reference step, with a projection too (which falls back to it)."""
    torch.manual_seed(9)
    layer = rnn.Recurrent(mode, 3, 4, proj_size=proj, dtype=torch.float64)
    (w,) = layer._layer_weights()
    spec = get_cell(mode)
    state = tuple(torch.randn(2, s, dtype=torch.float64) for s in spec.state_sizes(4, proj))
    x = torch.randn(2, 3, dtype=torch.float64)
    y, new = regularised_cell(spec, zoneout_p=0.3, training=False).step(x, state, w)
    _, new_ref = spec.step(x, state, w)
    for got, ref, old in zip(new, new_ref, state, strict=True):
        assert torch.allclose(got, 0.3 * old + 0.7 * ref, atol=1e-12)
    assert torch.equal(y, new[0])
