"""The reference math: gradcheck in float64, lengths and reversal pinned by values."""

from __future__ import annotations

import pytest
import torch

from rnnkit.functional import (
    LayerWeights,
    get_recurrence,
    gru_cell,
    lstm_cell,
    reverse_padded,
    run_sequence,
)

MODES = ["rnn_tanh", "rnn_relu", "rnn_sigmoid", "lstm", "gru"]


def weights(mode: str, features: int, hidden: int, proj: int = 0, bias: bool = True,
            dtype=torch.float64) -> LayerWeights:
    gates = get_recurrence(mode).gates * hidden
    out = proj or hidden

    def rand(*shape):
        return (torch.randn(*shape, dtype=dtype) * 0.5).requires_grad_()

    return LayerWeights(
        rand(gates, features), rand(gates, out),
        rand(gates) if bias else None, rand(gates) if bias else None,
        rand(proj, hidden) if proj else None,
    )


def initial_state(mode: str, batch: int, hidden: int, proj: int = 0, dtype=torch.float64):
    sizes = get_recurrence(mode).state_sizes(hidden, proj)
    return tuple(torch.randn(batch, s, dtype=dtype, requires_grad=True) for s in sizes)


@pytest.mark.parametrize("mode,proj", [(m, 0) for m in MODES] + [("lstm", 2)])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_gradcheck(mode, proj, reverse, with_lengths) -> None:
    w = weights(mode, 2, 3, proj)
    state = initial_state(mode, 3, 3, proj)
    x = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 1, 3]) if with_lengths else None
    if mode == "rnn_relu":  # keep pre-activations away from relu's kink at 0
        x = (x.detach() + 0.3).requires_grad_()

    def fn(x, *flat):
        st, params = flat[: len(state)], flat[len(state):]
        it = iter(params)
        lw = LayerWeights(*(next(it) if p is not None else None for p in w))
        out, final = run_sequence(mode, x, tuple(st), lw, lengths, reverse)
        return (out, *final)

    inputs = (x, *state, *(p for p in w if p is not None))
    assert torch.autograd.gradcheck(fn, inputs)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
def test_lengths_equal_separate_runs(mode, reverse) -> None:
    """Each sample of a padded batch gives what it gives alone, cut to its length."""
    w = weights(mode, 2, 3)
    state = initial_state(mode, 3, 3)
    x = torch.randn(5, 3, 2, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 3])
    out, final = run_sequence(mode, x, state, w, lengths, reverse)
    for b, n in enumerate(lengths.tolist()):
        alone, alone_final = run_sequence(
            mode, x[:n, b : b + 1], tuple(s[b : b + 1] for s in state), w, None, reverse
        )
        torch.testing.assert_close(out[:n, b], alone[:, 0], rtol=0, atol=1e-12)
        assert torch.all(out[n:, b] == 0), "outputs past the length must be zero"
        for f, af in zip(final, alone_final, strict=True):
            torch.testing.assert_close(f[b], af[0], rtol=0, atol=1e-12)


def test_reverse_runs_backwards_in_time() -> None:
    """A reversed run equals a forward run over the flipped sequence, flipped back."""
    w = weights("gru", 2, 3)
    state = initial_state("gru", 2, 3)
    x = torch.randn(6, 2, 2, dtype=torch.float64)
    out_rev, final_rev = run_sequence("gru", x, state, w, reverse=True)
    out_fwd, final_fwd = run_sequence("gru", x.flip(0), state, w)
    torch.testing.assert_close(out_rev, out_fwd.flip(0), rtol=0, atol=0)
    torch.testing.assert_close(final_rev[0], final_fwd[0], rtol=0, atol=0)
    assert (out_rev - run_sequence("gru", x, state, w)[0]).abs().max() > 1e-3


def test_reverse_padded_is_an_involution_within_lengths() -> None:
    x = torch.arange(12.0).view(4, 3, 1)  # (T, B, 1), x[t, b] = 3t + b
    lengths = torch.tensor([4, 2, 1])
    r = reverse_padded(x, lengths)
    assert r[:, 0, 0].tolist() == [9.0, 6.0, 3.0, 0.0]  # full length: plain flip
    assert r[:, 1, 0].tolist() == [4.0, 1.0, 7.0, 10.0]  # first two swapped, padding in place
    assert r[:, 2, 0].tolist() == [2.0, 5.0, 8.0, 11.0]  # length 1: unchanged
    assert torch.equal(reverse_padded(r, lengths), x)


def test_lstm_cell_by_hand() -> None:
    """All-zero weights but the bias: gates are constants, so c and h follow by hand."""
    b_ih = torch.tensor([0.0, 0.0, 1.0, 0.0])  # i, f, g, o pre-activations 0, 0, 1, 0
    zeros4 = torch.zeros(4, 1)
    h, c = lstm_cell(torch.ones(1, 1), (torch.zeros(1, 1), torch.full((1, 1), 2.0)),
                     zeros4, zeros4, b_ih, None)
    c_expected = 0.5 * 2.0 + 0.5 * torch.tanh(torch.tensor(1.0))  # f*c + i*g
    assert torch.isclose(c[0, 0], c_expected)
    assert torch.isclose(h[0, 0], 0.5 * torch.tanh(c_expected))


def test_gru_cell_reset_after_recurrent_product() -> None:
    """The reset gate multiplies (W_hn h + b_hn), bias included: the cuDNN/torch form."""
    hidden = 1
    w_ih = torch.zeros(3 * hidden, 1)
    w_hh = torch.zeros(3 * hidden, hidden)
    b_hh = torch.tensor([0.0, 0.0, 2.0])  # b_hr, b_hz, b_hn
    h = gru_cell(torch.ones(1, 1), torch.zeros(1, hidden), w_ih, w_hh, None, b_hh)
    # r = z = 0.5; n = tanh(0.5 * 2.0); h' = 0.5 * n + 0.5 * 0
    assert torch.isclose(h[0, 0], 0.5 * torch.tanh(torch.tensor(1.0)))


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match=r"mode must be one of .*got 'lstmm'"):
        get_recurrence("lstmm")
