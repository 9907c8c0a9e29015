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


# ---- LSTM-FCN: the temporal CNN beside the recurrent layer ----------------------------------


def _fcn(num_classes=3, input_size=2, **kwargs):
    return SequenceClassifier(
        num_classes,
        input_size=input_size,
        hidden_size=6,
        conv_branch=True,
        conv_channels=(5, 7, 4),
        conv_kernels=(8, 5, 3),
        **kwargs,
    )


def _reference_branch(branch, x, training):
    """The conv branch of one unpadded sequence x (T, F), written with torch's own layers:
    Conv1d with 'same' zero padding, BatchNorm1d, ReLU, then the mean over time."""
    z = x.T[None]  # (1, F, T)
    for conv, norm in zip(branch.convs, branch.norms, strict=True):
        k = conv.kernel_size[0]
        z = F.conv1d(F.pad(z, ((k - 1) // 2, k // 2)), conv.weight, conv.bias)
        if training:  # batch statistics of this sequence's steps only
            mean, var = z.mean(dim=(0, 2)), z.var(dim=(0, 2), unbiased=False)
        else:
            mean, var = norm.running_mean, norm.running_var
        z = torch.relu(
            (z - mean[None, :, None]) / torch.sqrt(var[None, :, None] + 1e-5)
            * norm.weight[None, :, None]
            + norm.bias[None, :, None]
        )
    return z.mean(dim=2)[0]


def test_lstm_fcn_matches_a_reference_and_padding_never_leaks():
    torch.manual_seed(0)
    model = _fcn(pooling="max").eval()
    for norm in model.conv.norms:  # running statistics that are not the identity
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
    xs = [torch.randn(n, 2) for n in (9, 4, 6)]
    batch = 100 * torch.randn(3, 9, 2)  # garbage past every length
    for i, x in enumerate(xs):
        batch[i, : len(x)] = x
    lengths = torch.tensor([9, 4, 6])
    summary, _ = model.summarize(batch, lengths)
    assert summary.shape == (3, 6 + 4)  # recurrent summary (H) beside the conv branch (C)
    for i, x in enumerate(xs):
        expected = _reference_branch(model.conv, x, training=False)
        assert (summary[i, 6:] - expected).abs().max() < TOL
        alone = model.classify(x[None], torch.tensor([len(x)]))[0]
        assert (model.classify(batch, lengths)[i] - alone).abs().max() < TOL


def test_lstm_fcn_training_statistics_and_gradients_count_real_steps_only():
    """In training mode the batch statistics are those of the real steps; with one sequence
    in the batch, padding it changes neither the summary nor any gradient."""
    torch.manual_seed(1)
    model = _fcn().train()
    x = torch.randn(5, 2)
    padded = torch.cat([x, 50 * torch.randn(4, 2)])[None]  # (1, 9, 2), 4 garbage steps
    got = model.conv(padded, torch.arange(9)[None] < 5)[0]
    assert (got - _reference_branch(model.conv, x, training=True)).abs().max() < TOL

    def grads(inputs, length):
        model.zero_grad()
        model.classify(inputs, torch.tensor([length]))[0, 1].backward()
        return {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}

    a, b = grads(x[None], 5), grads(padded, 5)
    assert set(a) == set(b) and any(k.startswith("conv.convs") for k in a)
    for k in a:
        assert (a[k] - b[k]).abs().max() < 1e-4, k


def test_lstm_fcn_config_round_trip_and_bad_arguments():
    model = _fcn()
    assert model.config["conv_branch"] is True and model.config["conv_channels"] == [5, 7, 4]
    clone = SequenceClassifier(**model.config)
    clone.load_state_dict(model.state_dict())
    x, lengths = torch.randn(2, 7, 2), torch.tensor([7, 3])
    assert torch.equal(model.predict_proba(x, lengths), clone.predict_proba(x, lengths))
    # A config written before the option existed builds the plain recurrent model.
    old = {k: v for k, v in model.config.items() if not k.startswith("conv")}
    assert SequenceClassifier(**old).conv is None
    with pytest.raises(ValueError, match=r"conv_branch=True needs input_kind='features', got"):
        SequenceClassifier(2, input_kind="tokens", vocab_size=9, conv_branch=True)
    with pytest.raises(ValueError, match=r"conv_channels and conv_kernels must be .* got"):
        SequenceClassifier(2, input_size=2, conv_branch=True, conv_channels=(4,))
    with pytest.raises(ValueError, match=r"conv_kernels must be an integer >= 1, got 0"):
        SequenceClassifier(2, input_size=2, conv_branch=True, conv_kernels=(3, 0, 3))


def test_selection_ranks_by_accuracy_then_by_lower_loss():
    model = SequenceClassifier(2, input_size=1, hidden_size=2)
    batch = BucketLoader([torch.zeros(1, 1).numpy()] * 2, [0, 1], batch_size=2).batch([0, 1])

    def selection(logits):
        outputs = torch.zeros(2, 1, 2)
        outputs[:, 0] = torch.tensor(logits)
        total, n = model.metrics(outputs, batch)["selection"]
        return total / n

    right_unsure = selection([[0.1, 0.0], [0.0, 0.1]])  # both right, barely
    right_sure = selection([[5.0, 0.0], [0.0, 5.0]])  # both right, confidently
    half_sure = selection([[9.0, 0.0], [9.0, 0.0]])  # one right, one very wrong
    assert right_sure > right_unsure > half_sure
    ce = F.cross_entropy(torch.tensor([[5.0, 0.0]]), torch.tensor([0]))
    assert abs(right_sure - (1 - 1e-4 * float(ce / (1 + ce)))) < 1e-7


@pytest.mark.parametrize("encoder", ["convlstm", "convgru"])
def test_convolutional_recurrent_frame_encoder_ignores_padding_and_carries_motion(encoder):
    torch.manual_seed(0)
    model = SequenceClassifier(2, input_kind="frames", frame_shape=(8, 8), frame_features=8,
                               frame_encoder=encoder, hidden_size=8).eval()
    assert model.config["frame_encoder"] == encoder
    alone = torch.randn(1, 4, 8, 8)
    batch, lengths = _padded_with_target(
        model, alone, 4, 7, lambda b, t: 100 * torch.randn(b, t, 8, 8)
    )
    got = model.classify(batch, lengths)[1]
    assert (got - model.classify(alone, torch.tensor([4]))[0]).abs().max() < TOL
    # The codes of frame t depend on earlier frames (the recurrent state), unlike the CNN's.
    codes = model.encoder.frames
    later = codes(alone, torch.tensor([4]))[0, 3]
    changed = alone.clone()
    changed[0, 0] += 1.0
    assert (codes(changed, torch.tensor([4]))[0, 3] - later).abs().max() > 1e-6
    cnn = SequenceClassifier(2, input_kind="frames", frame_shape=(8, 8), frame_features=8)
    assert (cnn.encoder.frames(changed, torch.tensor([4]))[0, 3]
            - cnn.encoder.frames(alone, torch.tensor([4]))[0, 3]).abs().max() == 0


def test_unknown_frame_encoder_is_named():
    with pytest.raises(ValueError, match="frame_encoder must be one of"):
        SequenceClassifier(2, input_kind="frames", frame_shape=(8, 8), frame_encoder="lstm")
