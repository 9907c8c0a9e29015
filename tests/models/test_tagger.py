"""SequenceTagger: per-step loss masked by length (padding changes neither loss nor gradient),
padding invariance of predictions, protocol metrics."""

import torch
import torch.nn.functional as F

from rnnkit.data.bucketing import BucketLoader
from rnnkit.models.tagger import SequenceTagger


def _batch(pad_tokens, pad_tags):
    seqs = [[5, 6, 7, 8], [9, 10]]
    tags = [[0, 1, 2, 3], [3, 0]]
    return BucketLoader(
        seqs,
        tags,
        batch_size=2,
        shuffle=False,
        target_at="every",
        pad_value=pad_tokens,
        target_pad=pad_tags,
    ).batch([0, 1])


def test_loss_ignores_padded_steps_and_targets():
    torch.manual_seed(0)
    model = SequenceTagger(4, vocab_size=20, embedding_dim=5, hidden_size=6)
    a, b = _batch(0, 0), _batch(13, 2)  # different garbage in the padded positions
    out_a, _ = model(a.inputs, lengths=a.lengths)
    out_b, _ = model(b.inputs, lengths=b.lengths)
    loss_a, loss_b = model.loss(out_a, a), model.loss(out_b, b)
    assert torch.allclose(loss_a, loss_b)
    # The mean is over the 6 real steps only.
    real = torch.cat([out_a[0, :4], out_a[1, :2]])
    assert torch.allclose(loss_a, F.cross_entropy(real, torch.tensor([0, 1, 2, 3, 3, 0])))
    grads = []
    for out, batch in ((out_a, a), (out_b, b)):
        model.zero_grad()
        model.loss(out, batch).backward()
        grads.append(model.head[1].weight.grad.clone())
    assert torch.allclose(grads[0], grads[1])


def test_padded_token_embeddings_get_no_gradient():
    model = SequenceTagger(4, vocab_size=20, embedding_dim=5, hidden_size=6)
    batch = _batch(13, 0)  # token 13 appears only as padding
    out, _ = model(batch.inputs, lengths=batch.lengths)
    model.loss(out, batch).backward()
    assert float(model.encoder.embedding.weight.grad[13].abs().sum()) == 0.0
    assert float(model.encoder.embedding.weight.grad[9].abs().sum()) > 0.0


def test_predictions_do_not_depend_on_padding_and_are_masked():
    model = SequenceTagger(3, vocab_size=30, embedding_dim=4, hidden_size=5, num_layers=2)
    alone = torch.tensor([[4, 8, 15]])
    batch = torch.randint(2, 30, (2, 6))
    batch[1, :3] = alone[0]
    tags_alone, probs_alone = model.predict(alone)
    tags, probs = model.predict(batch, torch.tensor([6, 3]))
    assert torch.equal(tags[1, :3], tags_alone[0])
    assert (probs[1, :3] - probs_alone[0]).abs().max() < 1e-5
    assert tags[1, 3:].tolist() == [-1, -1, -1]


def test_metrics_count_real_steps_only():
    model = SequenceTagger(4, vocab_size=20, embedding_dim=5, hidden_size=6)
    batch = _batch(0, 0)
    out, _ = model(batch.inputs, lengths=batch.lengths)
    correct, count = model.metrics(out, batch)["accuracy"]
    assert count == 6
    pred = out.argmax(-1)
    assert correct == float(
        (pred[0, :4] == batch.targets[0, :4]).sum() + (pred[1, :2] == batch.targets[1, :2]).sum()
    )
