"""Scheduled sampling (Bengio et al. 2015): the schedules, the step-by-step training pass, the
callback that drives it, and its options."""

from itertools import pairwise
from types import SimpleNamespace

import pytest
import torch

from rnnkit.data.seq2seq_batching import make_batch
from rnnkit.models.seq2seq import Seq2Seq, sampling_probability
from rnnkit.tasks.seq2seq import ScheduledSampling
from rnnkit.tasks.seq2seq_config import Seq2SeqConfig

BOS, EOS = 2, 3
V = 12


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models (tests/conftest.py)


def test_linear_schedule():
    values = [sampling_probability(i, 0.4, 100, "linear") for i in (0, 50, 100, 300)]
    assert values == pytest.approx([0.0, 0.2, 0.4, 0.4])


def test_inverse_sigmoid_schedule_is_half_way_at_half_the_updates():
    K = 2000
    values = [sampling_probability(i, 0.5, K) for i in range(0, 3 * K + 1, 100)]
    assert all(b >= a for a, b in pairwise(values))
    assert values[0] < 0.01
    assert sampling_probability(K // 2, 0.5, K) == pytest.approx(0.25, abs=1e-6)
    assert sampling_probability(3 * K, 0.5, K) == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 0.5, 100, "exponential"), "schedule must be one of"),
        ((0, 1.5, 100, "linear"), "final must be a probability in [0, 1], got 1.5"),
        ((0, 0.5, 0, "linear"), "updates must be an int >= 1, got 0"),
    ],
)
def test_bad_schedule_options_are_named(args, message):
    with pytest.raises(ValueError) as err:
        sampling_probability(*args)
    assert message in str(err.value)


def model_for(attention, copy=False, seed=0):
    torch.manual_seed(seed)
    return Seq2Seq(V, V, embedding_dim=8, hidden_size=8, attention=attention, dropout=0.0,
                   copy=copy, share_embeddings=copy).train()


def batch():
    return make_batch([[4, 5, 6, 7], [8, 9]], [[4, 5, 9], [6, 7]], BOS, EOS)


def run(model, b):
    return model(b.inputs, None, lengths=b.lengths, **b.forward_kwargs())


@pytest.mark.parametrize("attention", ["dot", "general", "bahdanau"])
@pytest.mark.parametrize("copy", [False, True])
def test_step_by_step_pass_with_no_draws_is_teacher_forcing(attention, copy):
    model = model_for(attention, copy)
    b = batch()
    with torch.no_grad():
        forced, state = run(model, b)
        model.sampling_probability = 1e-12  # the step-by-step path, no token drawn in practice
        stepped, stepped_state = run(model, b)
    real = b.mask  # the fused layer's outputs stop at each row's length
    torch.testing.assert_close(stepped[real], forced[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(stepped_state, state, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attention", ["general", "bahdanau"])
def test_probability_one_feeds_the_models_own_tokens(attention):
    model = model_for(attention)
    with torch.no_grad():
        model.output_bias[7] = 60.0  # the model's distribution: all mass on token 7
    b = batch()
    model.sampling_probability = 1.0
    with torch.no_grad():
        sampled, _ = run(model, b)
        model.sampling_probability = 0.0
        own = b.inputs.clone()
        own[:, 1:] = 7  # after <bos>, every input is the model's own previous token
        expected = model.teacher_forced(b.source, b.source_lengths, own, b.lengths).logits
    torch.testing.assert_close(sampled[b.mask], expected[b.mask], atol=1e-4, rtol=1e-4)
    # Evaluation never samples.
    model.eval()
    model.sampling_probability = 1.0
    with torch.no_grad():
        evaluated, _ = run(model, b)
        forced = model.teacher_forced(b.source, b.source_lengths, b.inputs, b.lengths).logits
    torch.testing.assert_close(evaluated, forced)


def test_gradients_flow_through_the_sampled_pass_of_a_copy_model():
    model = model_for("bahdanau", copy=True)
    model.sampling_probability = 0.5
    b = batch()
    outputs, _ = run(model, b)
    loss = model.loss(outputs, b)
    loss.backward()
    assert torch.isfinite(loss.detach())
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_callback_follows_the_updates_and_resets():
    model = model_for("general")
    trainer = SimpleNamespace(step=0, model=model)
    callback = ScheduledSampling(0.4, 100, "linear")
    callback.on_fit_start(trainer)
    assert model.sampling_probability == 0.0
    trainer.step = 50
    callback.on_batch_end(trainer)
    assert model.sampling_probability == pytest.approx(0.2)
    callback.on_fit_end(trainer)
    assert model.sampling_probability == 0.0
    assert "sampling_probability" not in model.config


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scheduled_sampling": 1.5}, "scheduled_sampling must be a number in [0.0, 1.0]"),
        ({"sampling_schedule": "exp"}, "sampling_schedule must be one of"),
        ({"sampling_updates": 0}, "sampling_updates must be an int >= 1"),
    ],
)
def test_sampling_options_are_checked(options, message):
    with pytest.raises(ValueError) as err:
        Seq2SeqConfig(**options)
    assert message in str(err.value)
