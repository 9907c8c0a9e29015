"""Stateful truncated BPTT on a language model: the state is carried from chunk to chunk and
detached at each, and carrying it is what lets a model use context older than a chunk."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit.data.lm_corpus import TextStreams
from rnnkit.models.language_model import LanguageModel
from rnnkit.train import TrainConfig, Trainer


class Recording(Trainer):
    """A trainer that records the state each update starts from and ends with."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def forward(self, batch, state):
        outputs, final = super().forward(batch, state)
        self.calls.append((state, final))
        return outputs, final


def _flat(state):
    return [state] if isinstance(state, torch.Tensor) else [t for s in state for t in _flat(s)]


@pytest.mark.parametrize(("k1", "k2"), [(None, None), (4, 4)])
def test_state_is_carried_across_chunks_and_detached(k1, k2):
    ids = torch.randint(0, 12, (32 * 3 + 1,))
    loader = TextStreams(ids, batch_size=2, chunk_len=8)  # 48 steps per stream: 6 chunks
    model = LanguageModel(12, embedding_dim=4, hidden_size=6)
    trainer = Recording(model, TrainConfig(epochs=2, bptt="stateful", k1=k1, k2=k2,
                                           quiet=True, plots=False))
    trainer.fit(loader)
    calls = trainer.calls
    per_epoch = len(calls) // 2
    assert per_epoch == (6 if k1 is None else 12)  # 6 chunks, each cut in two by k1 = 4
    assert calls[0][0] is None and calls[per_epoch][0] is None  # zero state at each epoch start
    for (_, previous_final), (start, _) in itertools.pairwise(calls[:per_epoch]):
        for carried, final in zip(_flat(start), _flat(previous_final), strict=True):
            assert not carried.requires_grad and final.requires_grad  # detached at the border
            assert torch.equal(carried, final.detach())  # the same values, carried


def _topic_text(n_segments: int, seed: int) -> list[int]:
    """Segments of 40 tokens over 8 ids that count up by a step of 1 or of 3 (mod 8), the step
    drawn per segment: no single token tells the step, so predicting the token after the first
    one of a chunk needs the context before the chunk."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_segments):
        step, token = (1, 3)[rng.integers(2)], int(rng.integers(8))
        for _ in range(40):
            out.append(token)
            token = (token + step) % 8
    return out


def _reset_each_chunk(model, ids, chunk):
    with torch.no_grad():
        losses = []
        for s in range(0, ids.numel() - 1, chunk):
            x, y = ids[s : s + chunk][None], ids[s + 1 : s + chunk + 1][None]
            n = min(x.shape[1], y.shape[1])
            losses.append(F.cross_entropy(model(x[:, :n])[0][0], y[0, :n], reduction="none"))
        return float(torch.cat(losses).mean())


@pytest.mark.parametrize("seed", [0, 1])
def test_small_twin_carried_state_beats_reset_per_chunk(seed):
    torch.manual_seed(seed)
    train = torch.tensor(_topic_text(300, seed))
    val = torch.tensor(_topic_text(40, seed + 100))
    model = LanguageModel(8, embedding_dim=8, hidden_size=24)
    config = TrainConfig(epochs=6, bptt="stateful", lr=1e-2, quiet=True, plots=False,
                         seed=seed)
    Trainer(model, config).fit(TextStreams(train, batch_size=16, chunk_len=8))
    model.eval()
    carried = float(model.token_nll(val, chunk_len=8).mean())
    reset = _reset_each_chunk(model, val, 8)
    # Carried, only a segment's first two tokens are uncertain: (ln 8 + ln 2) / 40 = 0.069.
    # Reset, the first prediction of every chunk is also a guess between the two steps:
    # about ln 2 / 8 = 0.087 more.
    assert carried < 0.3, carried  # far below ln 8 = 2.08 of a model without context
    assert reset - carried > 0.04, (carried, reset)
