"""The pointer-generator with coverage (See et al. 2017): the mixture by hand, p_gen = 1 is the
plain decoder, the coverage loss by hand, masking, step = teacher forcing, beam 1 = greedy."""

import math

import pytest
import torch

from rnnkit.data.seq2seq_batching import make_batch
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.text.beam import beam_search, greedy_search

ATTENTIONS = ["dot", "general", "bahdanau"]
BOS, EOS = 2, 3
V = 12
# Two sources: the first holds two out-of-vocabulary words (extended ids 12, 13; 12 twice),
# the second one (12) and padding.
SOURCE = [[4, 1, 5, 1, 1], [6, 1, 7]]
SOURCE_EXT = [[4, 12, 5, 13, 12], [6, 12, 7]]
TARGETS = [[12, 5, 13], [6, 12]]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models (tests/conftest.py)


def copy_model(attention="general", coverage_weight=1.0, seed=0, **kw):
    torch.manual_seed(seed)
    opts = dict(embedding_dim=8, hidden_size=8, attention=attention, dropout=0.0, copy=True,
                coverage_weight=coverage_weight)
    opts.update(kw)
    model = Seq2Seq(V, V, **opts).eval()
    with torch.no_grad():  # varied, non-trivial coverage and gate values
        if coverage_weight:
            model.coverage_vector.normal_(0.0, 1.0)
        model.generate_gate.weight.normal_(0.0, 0.5)
    return model


def batch():
    return make_batch(SOURCE, TARGETS, BOS, EOS, source_ext=SOURCE_EXT)


def as_unk(ids):
    """Extended ids as the plain decoder sees them: <unk> (1)."""
    return ids.masked_fill(ids >= V, 1)


def teacher(model, b):
    return model.teacher_forced(b.source, b.source_lengths, b.inputs, b.lengths, b.source_ext)


def plain_twin(model):
    """The same network without copying: every weight but the generation gate's."""
    plain = Seq2Seq(**{**model.config, "copy": False, "coverage_weight": 0.0}).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items()
                           if not k.startswith("generate_gate")})
    return plain


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_copy_distribution_by_hand_sums_to_one_over_the_extended_vocabulary(attention):
    model = copy_model(attention, coverage_weight=0.0)
    plain = plain_twin(model)
    b = batch()
    with torch.no_grad():
        out = teacher(model, b)
        ref = plain.teacher_forced(b.source, b.source_lengths, as_unk(b.inputs), b.lengths)
    assert out.logits.shape == (2, 4, 14)  # V + the most OOVs of a row (2)
    p_vocab = torch.softmax(ref.logits, -1)
    for row in range(2):
        for t in range(int(b.lengths[row])):
            g = float(out.p_gen[row, t])
            assert 0 < g < 1
            expected = [g * float(p_vocab[row, t, w]) if w < V else 0.0 for w in range(14)]
            for i, w in enumerate(SOURCE_EXT[row]):
                expected[w] += (1 - g) * float(out.attention[row, t, i])
            got = out.logits[row, t].exp()
            torch.testing.assert_close(got, torch.tensor(expected), atol=1e-6, rtol=1e-5)
            assert float(got.sum()) == pytest.approx(1.0, abs=1e-5)
    # The second row has one OOV: extended id 13 is impossible there (not a clamped log 0).
    assert torch.isneginf(out.logits[1, :, 13]).all()


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_p_gen_one_is_the_plain_decoder(attention):
    model = copy_model(attention, coverage_weight=0.0)
    with torch.no_grad():
        model.generate_gate.weight.zero_()
        model.generate_gate.bias.fill_(60.0)  # σ(60) = 1 in float32
    plain = plain_twin(model)
    b = batch()
    with torch.no_grad():
        out = teacher(model, b)
        ref = plain.teacher_forced(b.source, b.source_lengths, as_unk(b.inputs), b.lengths)
    assert torch.equal(out.p_gen, torch.ones_like(out.p_gen))
    torch.testing.assert_close(out.logits[..., :V], torch.log_softmax(ref.logits, -1),
                               atol=1e-5, rtol=1e-5)
    assert float(out.logits[..., V:].exp().max()) < 1e-20


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_coverage_loss_by_hand_and_in_the_loss(attention):
    model = copy_model(attention, coverage_weight=0.7)
    b = batch()
    with torch.no_grad():
        out = teacher(model, b)
        outputs, _ = model(b.inputs, None, lengths=b.lengths, **b.forward_kwargs())
    a = out.attention  # (B, T, S), zero at padded target steps
    for row in range(2):
        coverage = [0.0] * a.shape[2]
        for t in range(int(b.lengths[row])):
            weights = a[row, t].tolist()
            by_hand = sum(min(w, c) for w, c in zip(weights, coverage, strict=True))
            assert float(out.coverage_loss[row, t]) == pytest.approx(by_hand, abs=1e-6)
            coverage = [c + w for c, w in zip(coverage, weights, strict=True)]
        assert float(out.coverage_loss[row, int(b.lengths[row]):].abs().sum()) == 0.0
    # The first step has no coverage yet; later ones do.
    assert float(out.coverage_loss[:, 0].abs().sum()) == 0.0
    assert float(out.coverage_loss[0, 1:3].min()) > 0
    # loss = mean over real tokens of −log P(y_t) + λ · coverage loss (no smoothing in eval).
    nll, cov, n = 0.0, 0.0, 0
    for row in range(2):
        for t in range(int(b.lengths[row])):
            nll -= float(out.logits[row, t, int(b.targets[row, t])])
            cov += float(out.coverage_loss[row, t])
            n += 1
    assert float(model.loss(outputs, b)) == pytest.approx((nll + 0.7 * cov) / n, rel=1e-5)
    metrics = model.metrics(outputs, b)
    assert metrics["nll"][0] == pytest.approx(nll, rel=1e-5) and metrics["nll"][1] == n
    correct = sum(int(out.logits[row, t].argmax()) == int(b.targets[row, t])
                  for row in range(2) for t in range(int(b.lengths[row])))
    assert metrics["token_accuracy"] == (correct, n)
    # Training: label smoothing ε on the generator's distribution P_vocab.
    model.label_smoothing = 0.2
    model.train()
    with torch.no_grad():
        smooth = 0.0
        for row in range(2):
            for t in range(int(b.lengths[row])):
                smooth -= float(torch.log_softmax(outputs[row, t, :V], -1).mean())
        expected = (0.8 * nll + 0.2 * smooth + 0.7 * cov) / n
        assert float(model.loss(outputs, b)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_padding_is_masked(attention):
    model = copy_model(attention, cell="lstm", encoder_layers=2, decoder_layers=2)
    b = batch()
    alone = make_batch([SOURCE[1]], [TARGETS[1]], BOS, EOS, source_ext=[SOURCE_EXT[1]])
    with torch.no_grad():
        both = teacher(model, b)
        single = teacher(model, alone)
        # Other values in the padded source positions change nothing.
        source, ext = b.source.clone(), b.source_ext.clone()
        source[1, 3:], ext[1, 3:] = 9, 13
        junk = model.teacher_forced(source, b.source_lengths, b.inputs, b.lengths, ext)
    # The lone row has V_ext = 13, the batch 14 (its first row has two OOVs).
    torch.testing.assert_close(both.logits[1, :3, :13], single.logits[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(both.coverage_loss[1, :3], single.coverage_loss[0], atol=1e-6,
                               rtol=1e-5)
    torch.testing.assert_close(junk.logits, both.logits)
    torch.testing.assert_close(junk.attention, both.attention)
    assert float(both.attention[1, :, 3:].abs().sum()) == 0.0


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_step_by_step_equals_teacher_forcing_with_extended_ids(attention):
    model = copy_model(attention)
    b = batch()
    with torch.no_grad():
        out = teacher(model, b)
        enc = model.encode(b.source, b.source_lengths, b.source_ext)
        state = model.start(enc)
        for t in range(b.inputs.shape[1]):  # inputs hold extended ids (12, 13): read as <unk>
            logp, state, weights = model.step(b.inputs[:, t], state, enc)
            real = b.lengths > t  # the fused layer's outputs stop at each row's length
            torch.testing.assert_close(logp[real], out.logits[real, t], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(weights[real], out.attention[real, t], atol=1e-5,
                                       rtol=1e-5)


def test_gradients_reach_the_gate_and_the_coverage_vector():
    model = copy_model("bahdanau").train()
    b = batch()
    outputs, _ = model(b.inputs, None, lengths=b.lengths, **b.forward_kwargs())
    loss = model.loss(outputs, b)
    assert math.isfinite(float(loss.detach()))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert float(model.generate_gate.weight.grad.abs().sum()) > 0
    assert float(model.coverage_vector.grad.abs().sum()) > 0


@pytest.mark.parametrize("attention", ["general", "bahdanau"])
def test_beam_one_is_greedy_and_copies_extended_ids(attention):
    model = copy_model(attention, seed=1)
    with torch.no_grad():
        model.generate_gate.bias.fill_(-3.0)  # mostly pointing: extended ids get emitted
    b = batch()
    options = dict(bos_id=BOS, eos_id=EOS, max_ratio=2.0, max_extra=2)
    enc = model.encode(b.source, b.source_lengths, b.source_ext)
    greedy = greedy_search(model, enc, b.source_lengths, **options)
    beam = beam_search(model, enc, b.source_lengths, beam_size=1, **options)
    assert [h.tokens for h in greedy] == [r[0].tokens for r in beam]
    for g, r in zip(greedy, beam, strict=True):
        assert r[0].log_prob == pytest.approx(g.log_prob, abs=1e-4)
    assert any(t >= V for h in greedy for t in h.tokens)
    # The finished hypotheses' scores are the teacher-forced log-probabilities.
    wide = beam_search(model, enc, b.source_lengths, beam_size=3, **options)
    for row, hyps in enumerate(wide):
        h = hyps[0]
        if not h.finished:
            continue
        target = torch.tensor([h.tokens])
        exact = model.sequence_log_prob(b.source[row:row + 1], b.source_lengths[row:row + 1],
                                        target, b.source_ext[row:row + 1])
        assert h.log_prob == pytest.approx(float(exact), abs=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"coverage_weight": 1.0}, "coverage_weight > 0 needs copy=True"),
        ({"copy": True, "coverage_weight": -1.0}, "coverage_weight must be a finite number"),
        ({"copy": 1}, "copy must be a bool, got 1"),
    ],
)
def test_bad_copy_arguments_are_named(kwargs, message):
    with pytest.raises((ValueError, TypeError)) as err:
        Seq2Seq(V, V, **kwargs)
    assert message in str(err.value)


def test_separate_vocabularies_need_source_ext():
    model = Seq2Seq(V, V, embedding_dim=8, hidden_size=8, copy=True)
    with pytest.raises(ValueError, match="needs source_ext"):
        model.encode(torch.tensor([[4, 5]]))
    shared = Seq2Seq(V, V, embedding_dim=8, hidden_size=8, copy=True, share_embeddings=True)
    enc = shared.encode(torch.tensor([[4, 5]]))
    assert enc.extended == V and enc.source_ext.tolist() == [[4, 5]]
