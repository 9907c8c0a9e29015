"""Synthetic tasks: the adding problem's definition, seeding and argument checks."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.data import ADDING_ZERO_MSE, adding_problem


def test_adding_problem_marks_one_value_in_each_half_and_sums_them():
    x, y = adding_problem(200, 11, seed=3)
    assert x.shape == (200, 11, 2) and y.shape == (200,) and x.dtype == torch.float32
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= -1) & (values < 1)).all()
    assert set(markers.unique().tolist()) == {0.0, 1.0}
    assert (markers[:, :5].sum(1) == 1).all()  # first half: t < ⌊11/2⌋ = 5
    assert (markers[:, 5:].sum(1) == 1).all()  # second half
    torch.testing.assert_close(y, (values * markers).sum(1))


def test_adding_problem_is_seeded_and_leaves_global_rngs_alone():
    torch.manual_seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    a = adding_problem(8, 6, seed=1)
    assert torch.equal(torch.rand(1), expected_next)
    b, c = adding_problem(8, 6, seed=1), adding_problem(8, 6, seed=2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_predicting_zero_scores_two_thirds():
    _, y = adding_problem(40_000, 4, seed=0)
    assert float(y.square().mean()) == pytest.approx(ADDING_ZERO_MSE, abs=0.02)


@pytest.mark.parametrize("kwargs,message", [
    ({"num_sequences": 0, "length": 5}, "num_sequences must be an int >= 1, got 0"),
    ({"num_sequences": 3, "length": 1}, "length must be an int >= 2, got 1"),
    ({"num_sequences": 3, "length": 4.0}, "length must be an int >= 2, got 4.0"),
])
def test_adding_problem_names_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        adding_problem(**kwargs, seed=0)


# --- copy memory, temporal order, sequential digits -------------------------------------------

def test_copy_memory_layout_and_recall_targets():
    from rnnkit.data import copy_memory

    x, y = copy_memory(50, 7, copy_length=4, seed=1)
    assert x.shape == (50, 15, 10) and y.shape == (50, 15) and y.dtype == torch.long
    ids = x.argmax(-1)
    assert torch.equal(x.sum(-1), torch.ones(50, 15))  # one-hot
    assert ((ids[:, :4] >= 1) & (ids[:, :4] <= 8)).all()  # data symbols
    assert (ids[:, 4:10] == 0).all() and (ids[:, 10] == 9).all()  # T − 1 = 6 blanks, delimiter
    assert (ids[:, 11:] == 0).all()
    assert (y[:, :11] == 0).all() and torch.equal(y[:, 11:], ids[:, :4])  # recall in order


def test_copy_memory_baseline_matches_the_memoryless_strategy():
    from rnnkit.data import copy_memory, copy_memory_baseline

    _, y = copy_memory(100, 20, copy_length=10, seed=0)
    # blanks predicted with certainty (loss 0) and a uniform guess over 8 symbols at recall
    logits = torch.full((100, 40, 10), -1e9)
    logits[:, :30, 0] = 0.0
    logits[:, 30:, 1:9] = 0.0
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 10), y.reshape(-1))
    assert float(loss) == pytest.approx(copy_memory_baseline(20, 10), rel=1e-5)
    assert copy_memory_baseline(100) == pytest.approx(10 * math.log(8) / 120)


def test_temporal_order_places_two_relevant_symbols_and_labels_their_order():
    from rnnkit.data import temporal_order

    x, labels = temporal_order(400, 100, seed=2)
    assert x.shape == (400, 100, 8) and labels.shape == (400,)
    ids = x.argmax(-1)
    assert (ids[:, 0] == 6).all() and (ids[:, -1] == 7).all()  # B … E
    relevant = (ids == 4) | (ids == 5)
    assert (relevant.sum(1) == 2).all()
    t = relevant.nonzero()[:, 1].reshape(400, 2)
    assert ((t[:, 0] >= 10) & (t[:, 0] <= 20)).all()  # published positions at T = 100
    assert ((t[:, 1] >= 50) & (t[:, 1] <= 60)).all()
    rows = torch.arange(400)
    expected = (ids[rows, t[:, 0]] - 4) * 2 + (ids[rows, t[:, 1]] - 4)
    assert torch.equal(labels, expected)
    assert set(labels.tolist()) == {0, 1, 2, 3}
    assert torch.equal(temporal_order(5, 30, seed=9)[0], temporal_order(5, 30, seed=9)[0])


def test_sequential_digits_rows_pixels_and_permutation():
    pytest.importorskip("sklearn")
    from rnnkit.data import sequential_digits

    rows, labels = sequential_digits(per="row")
    pixels, labels2 = sequential_digits(per="pixel")
    assert rows.shape == (1797, 8, 8) and pixels.shape == (1797, 64, 1)
    assert torch.equal(labels, labels2) and set(labels.tolist()) == set(range(10))
    assert float(rows.max()) == 1.0 and float(rows.min()) == 0.0
    assert torch.equal(rows.reshape(1797, 64), pixels[..., 0])  # row-major
    permuted, _ = sequential_digits(per="pixel", permute=True, seed=3)
    assert not torch.equal(permuted, pixels)
    assert torch.equal(permuted.sort(dim=1).values, pixels.sort(dim=1).values)  # same pixels
    with pytest.raises(ValueError, match="per must be 'row' or 'pixel', got 'col'"):
        sequential_digits(per="col")
    with pytest.raises(ValueError, match="permute=True needs per='pixel'"):
        sequential_digits(per="row", permute=True)


@pytest.mark.parametrize("call,message", [
    (lambda: __import__("rnnkit.data", fromlist=["x"]).copy_memory(0, 5, seed=0),
     "copy_memory: num_sequences must be an int >= 1, got 0"),
    (lambda: __import__("rnnkit.data", fromlist=["x"]).copy_memory(3, 0, seed=0),
     "copy_memory: delay must be an int >= 1, got 0"),
    (lambda: __import__("rnnkit.data", fromlist=["x"]).temporal_order(3, 9, seed=0),
     "temporal_order: length must be an int >= 10, got 9"),
])
def test_long_range_generators_refuse_bad_sizes(call, message):
    with pytest.raises(ValueError, match=message):
        call()
