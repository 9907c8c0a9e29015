"""LanguageModel: tying, the AWD regularisers (weight drop on the fused kernel path), scoring
with carried state, and generation through the streaming step."""

import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.kernels import registry
from rnnkit.models.language_model import LanguageModel
from rnnkit.text import Sampler


def test_output_layer_is_tied_to_the_embedding_when_sizes_allow():
    model = LanguageModel(30, embedding_dim=16, hidden_size=16)
    assert model.tied and model.decoder is None
    assert "decoder.weight" not in model.state_dict()
    x = torch.randint(0, 30, (2, 5))
    logits, _ = model(x)
    with torch.no_grad():
        model.embedding.weight[3] += 1.0  # the output row of token 3 moves with its embedding
    assert not torch.allclose(model(x)[0][..., 3], logits[..., 3])


def test_tying_through_a_projection_and_untied_when_sizes_differ():
    projected = LanguageModel(30, embedding_dim=8, hidden_size=16, proj_size=8)
    assert projected.tied and projected.projection.out_features == 8
    untied = LanguageModel(30, embedding_dim=8, hidden_size=16)
    assert not untied.tied and untied.decoder.weight.shape == (30, 16)
    assert not LanguageModel(30, embedding_dim=16, hidden_size=16, tie_weights=False).tied


@pytest.fixture
def spy(monkeypatch):
    """Record the backend and the W_hh of every layer call of the sequence driver."""
    seen = []
    original = registry.select_backend

    def select(call, requested="auto"):
        backend = original(call, requested)

        class Recording:
            name = backend.name

            def run_layer(self, recurrence, x, state, weights, lengths, reverse):
                seen.append((backend.name, weights.w_hh.detach().clone()))
                return backend.run_layer(recurrence, x, state, weights, lengths, reverse)

        return Recording()

    import rnnkit.nn.driver as driver

    monkeypatch.setattr(driver, "select_backend", select)
    return seen


def test_weight_drop_masks_w_hh_before_the_fused_kernel_fresh_each_batch(spy):
    torch.manual_seed(1)
    model = LanguageModel(20, embedding_dim=8, hidden_size=16, weight_drop=0.5).train()
    x = torch.randint(0, 20, (4, 6))
    model(x)[0].sum().backward()
    model(x)
    w = model.layers[0].weight_hh_l0.detach()
    (b1, m1), (b2, m2) = spy
    assert b1 == b2 == "numba"  # the numba kernel ran on the dropped weight
    for m in (m1, m2):  # DropConnect: each entry is 0 or w / (1 − p)
        kept = m != 0
        assert torch.allclose(m[kept], w[kept] * 2.0)
        assert 0.35 < kept.float().mean() < 0.65
    assert not torch.equal(m1 != 0, m2 != 0)  # a fresh mask per forward (per batch)
    grad = model.layers[0].weight_hh_l0.grad
    assert grad is not None and bool((grad[m1 == 0] == 0).all())  # dropped weights: no grad
    assert bool((grad[m1 != 0] != 0).any())


def test_no_weight_drop_at_evaluation(spy):
    model = LanguageModel(20, embedding_dim=8, hidden_size=16, weight_drop=0.5).eval()
    model(torch.randint(0, 20, (2, 3)))
    assert torch.equal(spy[0][1], model.layers[0].weight_hh_l0.detach())


def test_locked_dropout_uses_one_mask_for_every_step():
    model = LanguageModel(20, hidden_size=8, dropout=0.5).train()
    out = model._locked(torch.ones(3, 7, 8), 0.5)
    assert torch.equal(out, out[:, :1].expand_as(out))  # the same mask at each of the 7 steps
    assert set(out.unique().tolist()) <= {0.0, 2.0}


def test_embedding_dropout_drops_whole_token_types():
    model = LanguageModel(50, embedding_dim=6, hidden_size=8, embedding_dropout=0.5).train()
    ids = torch.arange(50).repeat(2, 1)  # every token twice
    emb = model._embed(ids)
    dropped = (emb == 0).all(dim=-1)  # (2, 50)
    assert torch.equal(dropped[0], dropped[1]) and 0 < dropped[0].sum() < 50
    assert torch.allclose(emb[0][~dropped[0]], model.embedding.weight[~dropped[0]] * 2)


def test_ar_and_tar_are_added_to_the_training_loss():
    torch.manual_seed(0)
    model = LanguageModel(20, embedding_dim=8, hidden_size=8, ar=2.0, tar=3.0).train()
    x = torch.randint(0, 20, (2, 5))
    from rnnkit.data import SequenceBatch

    batch = SequenceBatch(x, torch.randint(0, 20, (2, 5)))
    logits, _ = model(x)
    h, _ = model.layers[0](model.embedding(x))  # no dropout: the layer's own output
    expected = F.cross_entropy(logits.reshape(-1, 20), batch.targets.reshape(-1))
    expected = expected + 2.0 * h.pow(2).mean() + 3.0 * (h[:, 1:] - h[:, :-1]).pow(2).mean()
    assert torch.allclose(model.loss(logits, batch), expected)
    model.eval()
    assert torch.allclose(model.loss(logits, batch), expected - 2.0 * h.pow(2).mean()
                          - 3.0 * (h[:, 1:] - h[:, :-1]).pow(2).mean())


def test_token_nll_carries_the_state_across_chunks():
    torch.manual_seed(0)
    model = LanguageModel(15, embedding_dim=8, hidden_size=12, num_layers=2).eval()
    ids = torch.randint(0, 15, (60,))
    whole = F.cross_entropy(model(ids[None, :-1])[0][0], ids[1:], reduction="none")
    assert torch.allclose(model.token_nll(ids, chunk_len=7), whole, atol=1e-5)
    two = model.token_nll(ids, streams=2, chunk_len=7)  # two histories of 29 steps each
    first = F.cross_entropy(model(ids[None, :29])[0][0], ids[1:30], reduction="none")
    assert torch.allclose(two[:29], first, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_generation_by_streaming_steps_matches_the_full_forward(cell):
    torch.manual_seed(0)
    model = LanguageModel(40, embedding_dim=8, hidden_size=16, num_layers=2, cell=cell).eval()
    prompt = [3, 1, 4, 1, 5]
    new = model.generate(prompt, 12, Sampler(temperature=0.0))
    logits = model(torch.tensor([prompt + new]))[0][0]  # teacher-forced on the same text
    assert new == logits[len(prompt) - 1 : -1].argmax(-1).tolist()


def test_generation_is_deterministic_with_a_seed_and_reports_each_token():
    torch.manual_seed(0)
    model = LanguageModel(40, embedding_dim=8, hidden_size=16)
    seen = []
    a = model.generate([1, 2], 30, Sampler(seed=5), seen.append)
    assert a == model.generate([1, 2], 30, Sampler(seed=5)) and seen == a
    assert a != model.generate([1, 2], 30, Sampler(seed=6))
    assert model.training  # the mode is restored


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vocab_size": 1}, "vocab_size must be an int >= 2, got 1"),
        ({"weight_drop": 1.0}, r"weight_drop must be a number in \[0, 1\), got 1.0"),
        ({"cell": "lstn"}, "cell must be one of"),
        ({"ar": -1}, "ar must be a number >= 0, got -1"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LanguageModel(**{"vocab_size": 10, **kwargs})


def test_inputs_must_be_token_ids():
    with pytest.raises(ValueError, match=r"inputs must be a \(B, T\) integer tensor"):
        LanguageModel(10, hidden_size=4)(torch.zeros(2, 3))


def test_metrics_are_bits_per_token():
    from rnnkit.data import SequenceBatch

    model = LanguageModel(10, hidden_size=4).eval()
    x = torch.randint(0, 10, (2, 6))
    batch = SequenceBatch(x, torch.randint(0, 10, (2, 6)))
    logits, _ = model(x)
    bits, count = model.metrics(logits, batch)["bits"]
    assert count == 12
    assert math.isclose(bits / count, float(model.loss(logits, batch).detach()) / math.log(2),
                        rel_tol=1e-5)
