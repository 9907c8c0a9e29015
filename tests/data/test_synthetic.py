"""Synthetic tasks: the adding problem's definition, seeding and argument checks."""

from __future__ import annotations

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
