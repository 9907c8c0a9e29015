"""Beam search, greedy and sampled decoding of a Seq2Seq model."""

import math

import pytest
import torch

from rnnkit.data.bucketing import pad_sequences
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.text import Sampler
from rnnkit.text.beam import (
    banned_tokens,
    beam_search,
    coverage_penalty,
    greedy_search,
    length_penalty,
    max_lengths,
)

BOS, EOS = 2, 3
SOURCES = [[4, 5, 6, 7], [8, 9], [5, 5, 6, 10, 11, 4]]


def model_for(attention="general", cell="gru", eos_bias=1.5, seed=0):
    torch.manual_seed(seed)
    model = Seq2Seq(12, 12, embedding_dim=8, hidden_size=8, cell=cell, attention=attention,
                    dropout=0.0).eval()
    with torch.no_grad():
        # Larger weights than at initialisation: peaked, varied distributions, and an <eos>
        # likely enough that some hypotheses end with it and others hit the maximum length.
        model.combine.weight.mul_(4.0)
        model.target_embedding.weight.mul_(8.0)
        model.output_bias[EOS] = eos_bias
    return model


def encode(model, sources):
    source, lengths = pad_sequences(sources)
    return model.encode(source, lengths), lengths


def as_target(tokens, width):
    return tokens + [0] * (width - len(tokens))


@pytest.mark.parametrize("attention", ["dot", "general", "bahdanau"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_beam_size_one_is_greedy(attention, cell):
    model = model_for(attention, cell)
    enc, lengths = encode(model, SOURCES)
    greedy = greedy_search(model, enc, lengths, bos_id=BOS, eos_id=EOS)
    beams = beam_search(model, enc, lengths, bos_id=BOS, eos_id=EOS, beam_size=1)
    assert [b[0].tokens for b in beams] == [g.tokens for g in greedy]
    for b, g in zip(beams, greedy, strict=True):
        assert b[0].log_prob == pytest.approx(g.log_prob, abs=1e-4)
        assert b[0].finished == g.finished
    # Some end with <eos>, and nothing runs past the maximum length ceil(2 S) + 5.
    assert any(g.finished for g in greedy)
    for g, src in zip(greedy, SOURCES, strict=True):
        assert len(g.tokens) <= math.ceil(2 * len(src)) + 5


@pytest.mark.parametrize("attention", ["general", "bahdanau"])
def test_scores_are_exact_log_probabilities(attention):
    model = model_for(attention, "lstm")
    enc, lengths = encode(model, SOURCES)
    results = beam_search(model, enc, lengths, bos_id=BOS, eos_id=EOS, beam_size=4, n_best=4)
    source, _ = pad_sequences(SOURCES)
    for b, hyps in enumerate(results):
        assert len(hyps) == 4
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        width = max(len(h.tokens) for h in hyps)
        targets = torch.tensor([as_target(h.tokens, width) for h in hyps])
        with torch.no_grad():
            exact = model.sequence_log_prob(source[b:b + 1].expand(4, -1),
                                            lengths[b:b + 1].expand(4), targets)
        for h, value in zip(hyps, exact.tolist(), strict=True):
            assert h.score == pytest.approx(h.log_prob, abs=0)  # alpha = beta = 0
            assert h.log_prob == pytest.approx(value, abs=1e-4)
            assert h.finished == (h.tokens[-1] == EOS)
        # Four different hypotheses.
        assert len({tuple(h.tokens) for h in hyps}) == 4


def test_beam_finds_at_least_the_greedy_log_probability():
    model = model_for("general", "gru")
    enc, lengths = encode(model, SOURCES)
    greedy = greedy_search(model, enc, lengths, bos_id=BOS, eos_id=EOS)
    beams = beam_search(model, enc, lengths, bos_id=BOS, eos_id=EOS, beam_size=5)
    for g, b in zip(greedy, beams, strict=True):
        if g.finished:
            assert b[0].log_prob >= g.log_prob - 1e-5


def test_batched_equals_one_by_one():
    model = model_for("bahdanau", "gru")
    enc, lengths = encode(model, SOURCES)
    together = beam_search(model, enc, lengths, bos_id=BOS, eos_id=EOS, beam_size=3, n_best=3,
                           alpha=0.6)
    for b, src in enumerate(SOURCES):
        enc1, len1 = encode(model, [src])
        alone = beam_search(model, enc1, len1, bos_id=BOS, eos_id=EOS, beam_size=3, n_best=3,
                            alpha=0.6)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in together[b]]
        for x, y in zip(alone, together[b], strict=True):
            assert x.log_prob == pytest.approx(y.log_prob, abs=1e-4)


def test_length_normalisation_and_coverage_penalty_in_the_score():
    model = model_for("general", "gru")
    enc, lengths = encode(model, SOURCES)
    results = beam_search(model, enc, lengths, bos_id=BOS, eos_id=EOS, beam_size=3, n_best=3,
                          alpha=0.7, beta=0.2)
    for b, hyps in enumerate(results):
        for h in hyps:
            assert h.attention.shape == (len(h.tokens), len(SOURCES[b]))
            expected = h.log_prob / ((5 + len(h.tokens)) / 6) ** 0.7 + 0.2 * float(
                h.attention.sum(0).clamp(1e-10, 1.0).log().sum())
            assert h.score == pytest.approx(expected, abs=1e-5)
    assert length_penalty(7, 0.0) == 1.0
    assert length_penalty(7, 1.0) == pytest.approx(2.0)
    assert coverage_penalty(torch.tensor([[0.5, 0.5], [0.5, 0.25]]), 1.0) == pytest.approx(
        math.log(0.75))


def test_ngram_blocking():
    assert banned_tokens([5, 6, 5], 2) == {6}
    assert banned_tokens([5, 6, 7], 2) == set()
    assert banned_tokens([1, 2, 3, 1, 2], 3) == {3}
    assert banned_tokens([4, 4], 1) == {4}
    model = model_for("general", "gru", eos_bias=-20.0)
    with torch.no_grad():
        model.output_bias[7] = 30.0  # the model wants token 7 again and again
    enc, lengths = encode(model, SOURCES)
    plain = greedy_search(model, enc, lengths, bos_id=BOS, eos_id=EOS)
    assert plain[0].tokens[:3] == [7, 7, 7]
    for search in ("greedy", "beam"):
        if search == "greedy":
            hyps = greedy_search(model, enc, lengths, bos_id=BOS, eos_id=EOS, no_repeat_ngram=2)
        else:
            hyps = [r[0] for r in beam_search(model, enc, lengths, bos_id=BOS, eos_id=EOS,
                                              beam_size=3, no_repeat_ngram=2)]
        for h in hyps:
            bigrams = list(zip(h.tokens, h.tokens[1:], strict=False))
            assert len(bigrams) == len(set(bigrams)), h.tokens
            assert h.tokens[:2] == [7, 7]


def test_sampling_is_seeded_and_greedy_at_temperature_zero():
    model = model_for("general", "gru")
    enc, lengths = encode(model, SOURCES)
    a = greedy_search(model, enc, lengths, bos_id=BOS, eos_id=EOS, sampler=Sampler(1.0, seed=3))
    b = greedy_search(model, enc, lengths, bos_id=BOS, eos_id=EOS, sampler=Sampler(1.0, seed=3))
    assert [h.tokens for h in a] == [h.tokens for h in b]
    zero = greedy_search(model, enc, lengths, bos_id=BOS, eos_id=EOS, sampler=Sampler(0.0))
    plain = greedy_search(model, enc, lengths, bos_id=BOS, eos_id=EOS)
    assert [h.tokens for h in zero] == [h.tokens for h in plain]
    top1 = greedy_search(model, enc, lengths, bos_id=BOS, eos_id=EOS,
                         sampler=Sampler(1.0, top_k=1, seed=0))
    assert [h.tokens for h in top1] == [h.tokens for h in plain]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"beam_size": 0}, "beam_size must be an int >= 1, got 0"),
        ({"beam_size": 2, "n_best": 3}, "n_best must be at most beam_size (2), got 3"),
        ({"alpha": -1}, "alpha must be a finite number >= 0.0, got -1"),
        ({"max_ratio": 0}, "max_ratio must be a finite number > 0.0, got 0"),
        ({"no_repeat_ngram": -1}, "no_repeat_ngram must be an int >= 0, got -1"),
    ],
)
def test_bad_options_are_named(kwargs, message):
    model = model_for()
    enc, lengths = encode(model, SOURCES)
    with pytest.raises(ValueError) as err:
        beam_search(model, enc, lengths, bos_id=BOS, eos_id=EOS, **kwargs)
    assert str(err.value) == message
    assert max_lengths(torch.tensor([3, 4]), 1.5, 2) == [7, 8]
