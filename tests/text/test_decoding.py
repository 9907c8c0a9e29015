"""Sampling rules: greedy, temperature, top-k, top-p, and seeded determinism."""

import math

import pytest
import torch

from rnnkit.text import Sampler, filter_logits, sample_next

LOGITS = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))


def test_temperature_zero_is_greedy():
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 2.9]])
    assert sample_next(logits, temperature=0).tolist() == [1, 0]
    assert int(sample_next(logits[0], temperature=0)) == 1


def test_top_k_keeps_exactly_the_k_largest():
    out = filter_logits(LOGITS, top_k=2)
    assert torch.isfinite(out).tolist() == [[True, True, False, False]]
    assert torch.equal(out[0, :2], LOGITS[0, :2])


def test_top_p_keeps_the_smallest_nucleus_reaching_p():
    # 0.5 < 0.7 so the second token is needed; 0.5 + 0.3 >= 0.7 so the third is not.
    assert torch.isfinite(filter_logits(LOGITS, top_p=0.7)).tolist() == [[True, True, False,
                                                                           False]]
    assert torch.isfinite(filter_logits(LOGITS, top_p=0.5)).tolist() == [[True, False, False,
                                                                           False]]
    assert torch.isfinite(filter_logits(LOGITS, top_p=0.96)).all()


def test_top_p_works_on_unsorted_rows():
    logits = torch.log(torch.tensor([[0.05, 0.3, 0.5, 0.15]]))
    assert torch.isfinite(filter_logits(logits, top_p=0.7)).tolist() == [[False, True, True,
                                                                           False]]


def test_same_seed_same_draws_other_seed_other_draws():
    logits = torch.zeros(1, 50)
    a = [int(Sampler(seed=7)(logits)[0]) for _ in range(1)]
    s1, s2, s3 = Sampler(seed=7), Sampler(seed=7), Sampler(seed=8)
    d1 = [int(s1(logits)[0]) for _ in range(30)]
    d2 = [int(s2(logits)[0]) for _ in range(30)]
    d3 = [int(s3(logits)[0]) for _ in range(30)]
    assert d1 == d2 and d1[:1] == a
    assert d1 != d3


def test_seeded_sampler_leaves_the_global_random_state_alone():
    before = torch.random.get_rng_state()
    Sampler(seed=1)(torch.zeros(1, 10))
    assert torch.equal(before, torch.random.get_rng_state())


def test_sampling_follows_the_tempered_distribution():
    sampler = Sampler(temperature=2.0, seed=0)
    draws = torch.stack([sampler(LOGITS)[0] for _ in range(6000)])
    freq = torch.bincount(draws, minlength=4).double() / draws.numel()
    expected = torch.softmax(LOGITS[0].double() / 2.0, dim=0)
    # 6000 draws: the standard error of each frequency is below 0.0065.
    assert torch.allclose(freq, expected, atol=0.03), (freq, expected)


def test_top_k_one_samples_the_arg_max_at_any_temperature():
    logits = torch.randn(5, 20)
    assert torch.equal(Sampler(temperature=5.0, top_k=1, seed=0)(logits), logits.argmax(-1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": -1.0}, "temperature must be a finite number >= 0, got -1.0"),
        ({"temperature": math.inf}, "temperature must be a finite number >= 0, got inf"),
        ({"top_k": 0}, "top_k must be None or an int >= 1, got 0"),
        ({"top_p": 1.5}, r"top_p must be None or a number in \(0, 1\], got 1.5"),
        ({"seed": -3}, "seed must be None or an int >= 0, got -3"),
    ],
)
def test_bad_options_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Sampler(**kwargs)


def test_logits_must_be_a_float_matrix():
    with pytest.raises(ValueError, match=r"logits must be a float tensor of shape \(B, V\)"):
        sample_next(torch.zeros(2, 3, 4))
