"""SequenceClassifier: padding invariance for every pooling, cell and input kind; the trainer
protocol (outputs at the last real step, loss, metrics); class weights; bad arguments."""

import pytest
import torch
import torch.nn.functional as F

from rnnkit.data.bucketing import BucketLoader
from rnnkit.models.classifier import POOLINGS, SequenceClassifier
from rnnkit.train import TrainConfig, Trainer

TOL = 1e-5


def _padded_with_target(model, x_alone, length, pad_to, make):
    """A batch of three: random filler, the sample padded with garbage, more filler."""
    batch = make(3, pad_to)
    batch[1, :length] = x_alone[0, :length]
    lengths = torch.tensor([pad_to, length, max(1, pad_to - 2)])
    return batch, lengths


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_padding_never_leaks_tokens(pooling, bidirectional, cell):
    model = SequenceClassifier(
        3,
        input_kind="tokens",
        vocab_size=40,
        embedding_dim=6,
        hidden_size=8,
        cell=cell,
        bidirectional=bidirectional,
        pooling=pooling,
        num_layers=2,
    ).eval()
    alone = torch.randint(2, 40, (1, 5))
    batch, lengths = _padded_with_target(
        model,
        alone,
        5,
        9,
        lambda b, t: torch.randint(2, 40, (b, t)),  # garbage, not zeros
    )
    expected = model.classify(alone, torch.tensor([5]))
    got = model.classify(batch, lengths)
    assert (got[1] - expected[0]).abs().max() < TOL


@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_never_leaks_features_and_frames(pooling):
    feats = SequenceClassifier(4, input_size=3, hidden_size=8, pooling=pooling, bidirectional=True)
    frames = SequenceClassifier(
        2,
        input_kind="frames",
        frame_shape=(8, 8, 2),
        frame_features=8,
        hidden_size=8,
        pooling=pooling,
    )
    for model, shape in ((feats, (3,)), (frames, (8, 8, 2))):
        model.eval()
        alone = torch.randn(1, 4, *shape)
        batch, lengths = _padded_with_target(
            model, alone, 4, 7, lambda b, t, s=shape: 100 * torch.randn(b, t, *s)
        )
        got = model.classify(batch, lengths)[1]
        assert (got - model.classify(alone, torch.tensor([4]))[0]).abs().max() < TOL


def test_pooling_choice_changes_the_summary():
    """Guard against a no-op option: mean and max of the same outputs differ."""
    torch.manual_seed(0)
    base = SequenceClassifier(2, input_size=3, hidden_size=8, pooling="mean")
    other = SequenceClassifier(2, input_size=3, hidden_size=8, pooling="max")
    other.load_state_dict(base.state_dict())
    x, lengths = torch.randn(2, 6, 3), torch.tensor([6, 3])
    assert (base.summarize(x, lengths)[0] - other.summarize(x, lengths)[0]).abs().max() > 1e-3


def test_last_pooling_equals_the_state_at_the_last_real_step():
    model = SequenceClassifier(2, input_size=3, hidden_size=5, pooling="last", bidirectional=True)
    x = torch.randn(1, 6, 3)
    outputs, _ = model.encoder(x, torch.tensor([6]))
    summary, _ = model.summarize(x, torch.tensor([6]))
    # Forward direction: output at step T; backward direction: output at step 1.
    expected = torch.cat([outputs[0, -1, :5], outputs[0, 0, 5:]])
    assert (summary[0] - expected).abs().max() < TOL


def test_protocol_outputs_loss_and_metrics():
    model = SequenceClassifier(3, input_size=2, hidden_size=4)
    seqs = [torch.randn(n, 2).numpy() for n in (5, 2, 4)]
    batch = BucketLoader(seqs, [0, 2, 1], batch_size=3, shuffle=False).batch([0, 1, 2])
    with torch.no_grad():
        outputs, _ = model(batch.inputs, lengths=batch.lengths)
        logits = model.classify(batch.inputs, batch.lengths)
    # Logits sit at each sample's last real step (where the batch's mask is True), zeros elsewhere.
    assert torch.equal(outputs[batch.mask], logits)
    assert float(outputs[~batch.mask].abs().sum()) == 0.0
    targets = batch.targets[batch.mask]
    assert torch.allclose(model.loss(outputs, batch), F.cross_entropy(logits, targets))
    correct, count = model.metrics(outputs, batch)["accuracy"]
    assert count == 3 and correct == float((logits.argmax(1) == targets).sum())


def test_class_weights_weight_the_loss():
    torch.manual_seed(0)
    plain = SequenceClassifier(2, input_size=2, hidden_size=4)
    weighted = SequenceClassifier(2, input_size=2, hidden_size=4, class_weights=[1.0, 3.0])
    weighted.load_state_dict(plain.state_dict())
    batch = BucketLoader([torch.randn(3, 2).numpy()] * 2, [0, 1], batch_size=2).batch([0, 1])
    out, _ = plain(batch.inputs, lengths=batch.lengths)
    per = F.cross_entropy(out[batch.mask], batch.targets[batch.mask], reduction="none")
    expected = (per[0] * 1 + per[1] * 3) / 4  # batch order is [0, 1]: classes 0 and 1
    assert torch.allclose(weighted.loss(out, batch), expected)
    assert "class_weights" not in weighted.state_dict()  # stored in the config instead
    assert weighted.config["class_weights"] == [1.0, 3.0]


def test_rebuild_from_config_predicts_identically():
    model = SequenceClassifier(
        3,
        input_kind="tokens",
        vocab_size=20,
        embedding_dim=4,
        hidden_size=6,
        pooling="attention",
        head_hidden=5,
    )
    clone = SequenceClassifier(**model.config)
    clone.load_state_dict(model.state_dict())
    x, lengths = torch.randint(2, 20, (4, 7)), torch.tensor([7, 3, 1, 5])
    assert torch.equal(model.predict_proba(x, lengths), clone.predict_proba(x, lengths))


def test_trains_through_the_engine_on_a_separable_task():
    """Class = sign of the sum of the first feature; the trainer must reach high accuracy."""
    g = torch.Generator().manual_seed(0)
    seqs = [torch.randn(int(n), 2, generator=g) for n in torch.randint(3, 10, (160,), generator=g)]
    labels = [int(s[:, 0].sum() > 0) for s in seqs]
    loader = BucketLoader([s.numpy() for s in seqs], labels, batch_size=16, seed=0)
    model = SequenceClassifier(2, input_size=2, hidden_size=8, pooling="mean")
    Trainer(model, TrainConfig(epochs=8, lr=2e-2, quiet=True)).fit(loader)
    ev = Trainer(model, TrainConfig(quiet=True)).evaluate(loader, prefix="train")
    assert ev["train_accuracy"] > 0.9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": 1, "input_size": 2}, "num_classes must be an integer >= 2, got 1"),
        ({"num_classes": 2, "input_size": 2, "pooling": "sum"}, "pooling must be one of"),
        ({"num_classes": 2}, "input_kind='features' needs input_size, got None"),
        ({"num_classes": 2, "input_kind": "tokens"}, "needs vocab_size, got None"),
        (
            {"num_classes": 2, "input_size": 2, "class_weights": [1.0]},
            "class_weights must be 2 positive",
        ),
        (
            {"num_classes": 2, "input_size": 2, "dropout": 1.0},
            r"dropout must be a number in \[0, 1\)",
        ),
        ({"num_classes": 2, "input_size": 2, "cell": "tcn"}, "cell must be one of"),
    ],
)
def test_bad_arguments(kwargs, message):
    num_classes = kwargs.pop("num_classes")
    with pytest.raises(ValueError, match=message):
        SequenceClassifier(num_classes, **kwargs)
