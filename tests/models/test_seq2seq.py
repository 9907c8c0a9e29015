"""Seq2Seq: masking, attention weights, gradients, step = teacher forcing, learning reversal."""

import numpy as np
import pytest
import torch

from rnnkit.data.seq2seq_batching import Seq2SeqLoader, make_batch
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.train import TrainConfig, Trainer

ATTENTIONS = ["dot", "general", "bahdanau"]
BOS, EOS = 2, 3


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models (tests/conftest.py)


def small(attention="general", cell="gru", **kw):
    opts = dict(embedding_dim=8, hidden_size=8, cell=cell, attention=attention, dropout=0.0)
    opts.update(kw)
    return Seq2Seq(12, 12, **opts).eval()


def forward(model, batch):
    return model(batch.inputs, None, lengths=batch.lengths, **batch.forward_kwargs())[0]


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_padding_changes_nothing(attention, cell):
    model = small(attention, cell, encoder_layers=2, decoder_layers=2)
    alone = make_batch([[4, 5, 6]], [[7, 8]], BOS, EOS)
    # The same pair beside a longer one: source and target are padded now.
    padded = make_batch([[4, 5, 6], [4, 5, 6, 7, 8, 9, 10]], [[7, 8], [4, 4, 4, 4, 4]], BOS, EOS)
    assert padded.source.shape[1] == 7 and padded.inputs.shape[1] == 6
    with torch.no_grad():
        a = forward(model, alone)[0]
        b = forward(model, padded)[0, :3]
        out_a = model.teacher_forced(alone.source, alone.source_lengths, alone.inputs,
                                     alone.lengths)
        out_b = model.teacher_forced(padded.source, padded.source_lengths, padded.inputs,
                                     padded.lengths)
    torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
    # Loss over the padded batch's first row equals the lone pair's loss.
    assert float(model.loss(a[None], alone)) == pytest.approx(
        float(torch.nn.functional.cross_entropy(b, padded.targets[0, :3])), abs=1e-5)
    torch.testing.assert_close(out_b.attention[0, :3, :3], out_a.attention[0], atol=1e-5,
                               rtol=1e-5)


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_attention_sums_to_one_on_real_positions_and_is_zero_on_padding(attention):
    model = small(attention)
    batch = make_batch([[4, 5], [4, 5, 6, 7, 8]], [[4, 5, 6], [7]], BOS, EOS)
    with torch.no_grad():
        out = model.teacher_forced(batch.source, batch.source_lengths, batch.inputs,
                                   batch.lengths)
    w = out.attention  # (2, 4, 5)
    assert w.shape == (2, 4, 5)
    # Row 0: source length 2, target length 4 -> every step sums to 1 over positions 0, 1.
    torch.testing.assert_close(w[0].sum(-1), torch.ones(4))
    assert float(w[0, :, 2:].abs().max()) == 0.0
    # Row 1: target length 2 (<bos> 7): real steps sum to 1, padded steps carry nothing.
    torch.testing.assert_close(w[1, :2].sum(-1), torch.ones(2))
    assert float(w[1, 2:].abs().max()) == 0.0
    assert float(w.min()) >= 0.0


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_gradients_reach_every_parameter(attention):
    model = small(attention, encoder_layers=2, decoder_layers=2, dropout=0.1).train()
    batch = make_batch([[4, 5, 6], [7, 8]], [[4, 5], [6, 7, 8]], BOS, EOS)
    model.loss(forward(model, batch), batch).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert float(p.grad.abs().sum()) > 0, name


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_step_by_step_equals_teacher_forcing(attention):
    model = small(attention, cell="lstm")
    batch = make_batch([[4, 5, 6], [7, 8]], [[4, 5, 9], [6, 7, 8]], BOS, EOS)
    with torch.no_grad():
        logits = forward(model, batch)
        enc = model.encode(batch.source, batch.source_lengths)
        state = model.start(enc)
        for t in range(batch.inputs.shape[1]):
            logp, state, _ = model.step(batch.inputs[:, t], state, enc)
            torch.testing.assert_close(logp, torch.log_softmax(logits[:, t], -1), atol=1e-5,
                                       rtol=1e-5)


@pytest.mark.parametrize("attention", ["general", "bahdanau"])
def test_step_is_the_same_for_few_and_many_rows(attention):
    # Up to STEP_ROWS rows the streaming step runs, above it a layer call: the same values.
    model = small(attention, cell="lstm", decoder_layers=2)
    sources = [[4 + (i % 7), 5, 6 + (i % 3)] for i in range(12)]
    batch = make_batch(sources, [[4, 5]] * 12, BOS, EOS)
    with torch.no_grad():
        enc = model.encode(batch.source, batch.source_lengths)
        many, _, w_many = model.step(batch.inputs[:, 0], model.start(enc), enc)
        few = [model.step(batch.inputs[i:i + 2, 0], model.start(enc.select(torch.arange(i, i + 2))),
                          enc.select(torch.arange(i, i + 2)))[0] for i in range(0, 12, 2)]
    torch.testing.assert_close(many, torch.cat(few), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w_many.sum(-1), torch.ones(12))


def test_shared_embeddings_and_tied_output_share_one_matrix():
    model = Seq2Seq(20, 20, embedding_dim=6, hidden_size=8, share_embeddings=True,
                    tie_output=True)
    assert model.source_embedding is model.target_embedding
    names = [n for n, _ in model.named_parameters()]
    assert "own_source_embedding.weight" not in names and "output.weight" not in names
    assert "own_source_embedding.weight" not in model.state_dict()
    assert model.combine.out_features == 6
    rebuilt = Seq2Seq(**model.config)
    assert rebuilt.config == model.config


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attention": "luong"}, "attention must be one of ['dot', 'general', 'bahdanau'], "
                                 "got 'luong'"),
        ({"hidden_size": 7}, "hidden_size must be even with bidirectional=True"),
        ({"share_embeddings": True, "target_vocab": 9},
         "share_embeddings=True needs one vocabulary for both sides, got source_vocab=12 and "
         "target_vocab=9"),
        ({"label_smoothing": 1.0}, "label_smoothing must be a number in [0, 1), got 1.0"),
        ({"cell": "lstn"}, "cell must be one of"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    args = {"source_vocab": 12, "target_vocab": 12, "hidden_size": 8, **kwargs}
    with pytest.raises(ValueError) as err:
        Seq2Seq(**args)
    assert message in str(err.value)


def test_source_is_required_and_time_slices_refused():
    model = small()
    batch = make_batch([[4]], [[5]], BOS, EOS)
    with pytest.raises(ValueError, match="source must be given"):
        model(batch.inputs, None, lengths=batch.lengths)
    with pytest.raises(ValueError, match="train with bptt='full'"):
        batch.time_slice(0, 1)


def test_label_smoothing_only_in_training():
    model = small(label_smoothing=0.2)
    batch = make_batch([[4, 5]], [[6, 7]], BOS, EOS)
    with torch.no_grad():
        logits = forward(model, batch)
        plain = float(torch.nn.functional.cross_entropy(logits[0], batch.targets[0]))
        assert float(model.loss(logits, batch)) == pytest.approx(plain, abs=1e-6)
        model.train()
        smoothed = float(torch.nn.functional.cross_entropy(logits[0], batch.targets[0],
                                                           label_smoothing=0.2))
        assert float(model.loss(logits, batch)) == pytest.approx(smoothed, abs=1e-6)
        assert smoothed != pytest.approx(plain)


def reversal(n, rng, low=4, high=9, max_len=4):
    sources = [rng.integers(low, high, size=rng.integers(2, max_len + 1)).tolist()
               for _ in range(n)]
    return sources, [s[::-1] for s in sources]


@pytest.mark.parametrize(("attention", "seed"), [("general", 0), ("bahdanau", 1)])
def test_learns_reversal_through_the_trainer(attention, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    sources, targets = reversal(320, rng)
    loader = Seq2SeqLoader(sources, targets, bos_id=BOS, eos_id=EOS, batch_size=32, seed=seed)
    model = Seq2Seq(10, 10, embedding_dim=16, hidden_size=32, attention=attention, dropout=0.0)
    trainer = Trainer(model, TrainConfig(epochs=10, lr=1e-2, clip_norm=1.0, quiet=True,
                                         bptt="full", seed=seed))
    trainer.fit(loader)
    test_s, test_t = reversal(100, np.random.default_rng(100 + seed))
    val = Seq2SeqLoader(test_s, test_t, bos_id=BOS, eos_id=EOS, shuffle=False)
    scores = trainer.evaluate(val)
    # Chance is 1/6 per token; three seeds of each attention reach 0.92-0.97 here.
    assert scores["test_token_accuracy"] > 0.9, scores
