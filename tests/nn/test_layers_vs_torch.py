"""rnnkit.nn.RNN/LSTM/GRU against torch.nn with the same weights: outputs, final states, and the
gradients of input, initial states and every parameter, over the whole option grid."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tests.nn.helpers import assert_close, make_pair

T, B, F, H, P = 6, 4, 3, 5, 2
LENGTHS = [6, 2, 5, 1]  # unsorted on purpose; includes the full length and a length of 1

INPUTS = ["full", "lengths", "packed_sorted", "packed_unsorted", "unbatched"]
VARIANTS = [("rnn_tanh", 0), ("rnn_relu", 0), ("gru", 0), ("lstm", 0), ("lstm", P)]
GRID = list(
    itertools.product(
        VARIANTS,
        [True, False],  # bias
        [False, True],  # batch_first
        [False, True],  # bidirectional
        [1, 2, 3],  # num_layers
        INPUTS,
        [torch.float32, torch.float64],
    )
)


def _id(case) -> str:
    (mode, proj), bias, batch_first, bidir, layers, kind, dtype = case
    return "-".join(
        [
            mode + (f"+proj{proj}" if proj else ""),
            "bias" if bias else "nobias",
            "bf" if batch_first else "tf",
            "bi" if bidir else "uni",
            f"L{layers}",
            kind,
            str(dtype).removeprefix("torch."),
        ]
    )


def _run(layer, kind, x, lengths, hx, batch_first):
    """Call ``layer`` on the input form ``kind``; return padded output (time-major or as given)
    and the final states as a tuple."""
    is_ours = type(layer).__module__.startswith("rnnkit")
    if kind in ("full", "unbatched"):
        out, state = layer(x, hx)
    elif kind == "lengths" and is_ours:
        out, state = layer(x, hx, lengths=lengths)
    else:
        sorted_lengths = kind == "packed_sorted"
        lens = torch.tensor(lengths)
        xs = x
        if sorted_lengths:  # enforce_sorted=True needs the batch already sorted by length
            order = lens.argsort(descending=True)
            xs, lens = (x[order] if batch_first else x[:, order]), lens[order]
        packed = pack_padded_sequence(
            xs, lens, batch_first=batch_first, enforce_sorted=sorted_lengths
        )
        out_packed, state = layer(packed, hx)
        if kind == "lengths":  # torch's way to express lengths: pack, run, unpack
            out, _ = pad_packed_sequence(out_packed, batch_first=batch_first, total_length=T)
        else:
            out = out_packed  # compared as a PackedSequence
    return out, (state if isinstance(state, tuple) else (state,))


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")
@pytest.mark.parametrize("case", GRID, ids=_id)
def test_matches_torch(case) -> None:
    (mode, proj), bias, batch_first, bidir, layers, kind, dtype = case
    kwargs = dict(
        input_size=F, hidden_size=H, num_layers=layers, bias=bias,
        batch_first=batch_first, bidirectional=bidir,
    )
    if proj:
        kwargs["proj_size"] = proj
    theirs, ours = make_pair(mode, dtype, **kwargs)
    D = 2 if bidir else 1
    unbatched = kind == "unbatched"
    x_shape = (T, F) if unbatched else ((B, T, F) if batch_first else (T, B, F))
    x = torch.randn(x_shape, dtype=dtype)
    if kind == "packed_sorted":
        # enforce_sorted packing keeps the (sorted) batch order: use sorted lengths throughout
        lengths = sorted(LENGTHS, reverse=True)
    else:
        lengths = LENGTHS
    h_out = proj or H
    state_shapes = [(layers * D, B, h_out)] + ([(layers * D, B, H)] if mode == "lstm" else [])
    if unbatched:
        state_shapes = [(s[0], s[2]) for s in state_shapes]
    states = [torch.randn(s, dtype=dtype) for s in state_shapes]

    results = []
    for layer in (theirs, ours):
        xi = x.clone().requires_grad_()
        si = [s.clone().requires_grad_() for s in states]
        hx = tuple(si) if mode == "lstm" else si[0]
        out, final = _run(layer, kind, xi, lengths, hx, batch_first)
        out_data = out.data if kind.startswith("packed") else out
        # The same upstream gradients for both layers. torch.randn(shape), not randn_like: the
        # latter follows memory layout, and a transposed output would get other values.
        torch.manual_seed(1)
        loss = (out_data * torch.randn(out_data.shape, dtype=dtype)).sum()
        loss = loss + sum((f * torch.randn(f.shape, dtype=dtype)).sum() for f in final)
        loss.backward()
        results.append((out, out_data, final, xi.grad, [s.grad for s in si], layer))

    (o_t, d_t, f_t, gx_t, gs_t, lt), (o_r, d_r, f_r, gx_r, gs_r, lr) = results
    if kind.startswith("packed"):
        assert torch.equal(o_t.batch_sizes, o_r.batch_sizes)
        for a, b in ((o_t.sorted_indices, o_r.sorted_indices),
                     (o_t.unsorted_indices, o_r.unsorted_indices)):
            assert (a is None and b is None) or torch.equal(a, b)
    assert d_t.shape == d_r.shape
    assert_close(d_r, d_t, dtype, "output")
    for i, (a, b) in enumerate(zip(f_r, f_t, strict=True)):
        assert a.shape == b.shape
        assert_close(a, b, dtype, f"final state {i}")
    assert_close(gx_r, gx_t, dtype, "input gradient")
    for i, (a, b) in enumerate(zip(gs_r, gs_t, strict=True)):
        assert_close(a, b, dtype, f"initial state {i} gradient")
    theirs_params = dict(lt.named_parameters())
    for name, p in lr.named_parameters():
        assert_close(p.grad, theirs_params[name].grad, dtype, f"gradient of {name}")


@pytest.mark.parametrize("mode", ["rnn_tanh", "lstm", "gru"])
def test_no_initial_state_means_zeros(mode) -> None:
    theirs, ours = make_pair(mode, input_size=F, hidden_size=H, num_layers=2)
    x = torch.randn(T, B, F)
    out_t, _ = theirs(x)
    out_r, _ = ours(x)
    assert_close(out_r, out_t, torch.float32, "output with hx=None")
