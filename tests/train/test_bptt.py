"""BPTT strategies: windows, equivalences with full BPTT, carried and detached state."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.data import SequenceBatch
from rnnkit.train import FullBPTT, TrainConfig, TruncatedBPTT, windows
from rnnkit.train.bptt import detach_state, reset_rows, run_model
from tests.train.helpers import GradRecorder, StateRecorder, clone, per_step_batch, regressor

QUIET = {"quiet": True}


def test_windows_match_the_documented_example():
    # T = 6, k1 = 2, k2 = 3: the worked example of rnnkit.train.bptt and docs/training.md.
    got = [(w.start, w.first_target, w.stop, w.next_start) for w in windows(6, 2, 3)]
    assert got == [(0, 0, 2, 1), (1, 2, 4, 3), (3, 4, 6, 6)]


@pytest.mark.parametrize("T,k1,k2", [(10, 3, 3), (10, 3, 7), (9, 4, 20), (7, 7, 7), (5, 1, 2)])
def test_windows_cover_every_target_once_and_reach_back_k2(T, k1, k2):
    ws = list(windows(T, k1, k2))
    targets = [t for w in ws for t in range(w.first_target, w.stop)]
    assert targets == list(range(T))  # every step is a target of exactly one update
    for w, nxt in itertools.pairwise(ws):
        assert w.stop - w.start == min(k2, w.stop)  # gradient over k2 steps (less at the start)
        assert nxt.start == w.next_start  # the state handed on is the one the next one starts at
        assert w.start <= w.next_start <= w.stop


def test_windows_reject_k2_below_k1():
    with pytest.raises(ValueError, match="k1 <= k2"):
        list(windows(10, 4, 2))


def _fit_one_batch(model, batch, strategy, lr=0.0):
    """Updates of one batch; lr=0 keeps the weights so every update sees the same ones."""

    class One:
        def __len__(self):
            return 1

        def batches(self, epoch, start=0):
            yield from [batch][start:]

        def shard(self, rank, world_size):
            return self

    config = TrainConfig(epochs=1, optimizer="sgd", momentum=0.0, lr=lr or 1e-30, **QUIET)
    trainer = GradRecorder(model, config, strategy=strategy)
    trainer.fit(One())
    return trainer


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_truncated_with_k1_eq_k2_eq_T_gives_exactly_the_full_gradient(cell):
    batch = per_step_batch(batch=3, steps=9, lengths=[9, 6, 2])
    model = regressor(cell)
    full = _fit_one_batch(model, batch, FullBPTT())
    tbptt = _fit_one_batch(clone(model), batch, TruncatedBPTT(k1=9, k2=9))
    assert len(full.grads) == len(tbptt.grads) == 1
    for name, g in full.grads[0].items():
        assert torch.equal(g, tbptt.grads[0][name]), name


def test_truncated_with_k2_covering_the_sequence_equals_full_bptt_on_a_final_target():
    # Target only at the last step; k1 = 4 makes windows [0,4), [0,8), [0,12): the first two
    # have no target (no update), the last backpropagates over all 12 steps = full BPTT.
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 12, 2, generator=g)
    y = torch.zeros(4, 12)
    y[:, -1] = torch.randn(4, generator=g)
    mask = torch.zeros(4, 12, dtype=torch.bool)
    mask[:, -1] = True
    batch = SequenceBatch(x, y, mask=mask)
    model = regressor("lstm")
    full = _fit_one_batch(model, batch, FullBPTT())
    tbptt = _fit_one_batch(clone(model), batch, TruncatedBPTT(k1=4, k2=12))
    assert len(tbptt.grads) == 1
    for name, g_full in full.grads[0].items():
        torch.testing.assert_close(tbptt.grads[0][name], g_full, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("lengths", [None, [10, 7, 3, 1]], ids=["full", "ragged"])
def test_chunked_forward_with_carried_state_equals_one_pass(cell, lengths):
    batch = per_step_batch(batch=4, steps=10, lengths=lengths, seed=1)
    model = regressor(cell).eval()
    with torch.no_grad():
        whole, final = run_model(model, batch, None)
        parts, state = [], None
        for a, b in [(0, 4), (4, 5), (5, 10)]:  # rows of length 3 and 1 end in early chunks
            out, state = run_model(model, batch.time_slice(a, b), state)
            parts.append(out)
    real = batch.mask  # padding is never a target; what a model emits there is its business
    torch.testing.assert_close(torch.cat(parts, dim=1)[real], whole[real], rtol=0, atol=1e-6)
    finals = final if isinstance(final, tuple) else (final,)
    states = state if isinstance(state, tuple) else (state,)
    for f, s in zip(finals, states, strict=True):
        torch.testing.assert_close(s, f, rtol=0, atol=1e-6)


def test_a_carried_state_changes_the_outputs_and_a_reset_one_does_not_carry():
    batch = per_step_batch(batch=2, steps=8, seed=2)
    model = regressor("lstm").eval()
    with torch.no_grad():
        whole, _ = run_model(model, batch, None)
        _, state = run_model(model, batch.time_slice(0, 4), None)
        carried, _ = run_model(model, batch.time_slice(4, 8), state)
        fresh, _ = run_model(model, batch.time_slice(4, 8), None)
    torch.testing.assert_close(carried, whole[:, 4:], rtol=0, atol=1e-6)
    assert (fresh - whole[:, 4:]).abs().max() > 1e-3  # the state really carries information


def test_truncation_stops_the_gradient_exactly_k2_steps_back():
    # One target at the last step; the input gradient is non-zero inside the last window
    # [T - k2, T) and exactly zero before it. Full BPTT reaches step 0.
    T = 15
    x = torch.randn(2, T, 2)
    y = torch.zeros(2, T)
    mask = torch.zeros(2, T, dtype=torch.bool)
    mask[:, -1] = True
    model = regressor("lstm")
    reach = {}
    for label, strategy in [("full", FullBPTT()), ("k2=5", TruncatedBPTT(5, 5)),
                            ("k2=8", TruncatedBPTT(5, 8))]:
        inputs = x.clone().requires_grad_(True)
        _fit_one_batch(clone(model), SequenceBatch(inputs, y, mask=mask), strategy)
        step_grad = inputs.grad.abs().sum(dim=(0, 2))  # (T,)
        nonzero = (step_grad > 0).nonzero().flatten()
        reach[label] = (int(nonzero.min()), int(nonzero.max()))
    assert reach == {"full": (0, T - 1), "k2=5": (T - 5, T - 1), "k2=8": (T - 8, T - 1)}


def test_each_window_gets_the_previous_state_detached_and_the_first_starts_at_zero():
    batch = per_step_batch(batch=2, steps=9, seed=4)
    inner = regressor("gru")
    recorder = StateRecorder(inner)
    _fit_one_batch(recorder, batch, TruncatedBPTT(3, 3))
    train_calls = recorder.seen  # one forward per window (k1 == k2: no extra runs)
    assert len(train_calls) == 3
    assert train_calls[0] is None
    with torch.no_grad():
        _, expected = run_model(inner, batch.time_slice(0, 3), None)
        _, expected2 = run_model(inner, batch.time_slice(3, 6), expected)
    for got, want in [(train_calls[1], expected), (train_calls[2], expected2)]:
        assert got.grad_fn is None and not got.requires_grad  # detached at the truncation
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_reset_rows_zeroes_only_the_flagged_rows_and_detach_cuts_the_graph():
    h = torch.randn(2, 3, 4, requires_grad=True)  # (L, B, H)
    state = (h * 2, h * 3)
    out = reset_rows(state, torch.tensor([False, True, False]))
    assert torch.equal(out[0][:, 1], torch.zeros(2, 4))
    assert torch.equal(out[0][:, 0], state[0][:, 0])
    assert reset_rows(state, torch.tensor([True, True, True])) is None
    assert all(t.grad_fn is None for t in detach_state(state))
