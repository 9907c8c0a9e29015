"""Stateful streams: state carried across batches, reset at stream starts and epoch starts."""

from __future__ import annotations

import torch

from rnnkit.data import SequenceBatch, StreamLoader
from rnnkit.train import StatefulBPTT, TrainConfig, Trainer, TruncatedBPTT
from tests.train.helpers import StateRecorder, clone, regressor

QUIET = {"quiet": True}


def _series(steps: int = 48, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, 2, generator=g)
    return x, torch.sin(x.cumsum(0)[:, 0])  # a target that depends on the whole past


class _Fixed:
    """A loader of fixed batches."""

    def __init__(self, batches):
        self._batches = list(batches)

    def __len__(self):
        return len(self._batches)

    def batches(self, epoch, start=0):
        yield from self._batches[start:]

    def shard(self, rank, world_size):
        return self


def test_stateful_streams_equal_truncated_bptt_over_the_whole_streams():
    # 4 streams of 12 steps in chunks of 3: four updates, each starting from the state the
    # previous one ended with. TBPTT(3, 3) over one batch of the four whole streams makes the
    # very same updates, so the final weights agree.
    x, y = _series(48)
    streams = StreamLoader(x, y, batch_size=4, chunk_len=3)
    model = regressor("lstm", inputs=2)
    twin = clone(model)
    config = TrainConfig(epochs=1, lr=0.05, **QUIET)
    Trainer(model, config, strategy=StatefulBPTT()).fit(streams)
    whole = SequenceBatch(x.view(4, 12, 2), y.view(4, 12))
    Trainer(twin, config, strategy=TruncatedBPTT(3, 3)).fit(_Fixed([whole]))
    for (name, a), b in zip(model.state_dict().items(), twin.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_state_carries_between_batches_and_resets_at_stream_and_epoch_starts():
    lens = [6, 2, 4]
    series = [torch.randn(n, 2) for n in lens]
    loader = StreamLoader(series, [s[:, 0] for s in series], batch_size=2, chunk_len=2)
    recorder = StateRecorder(regressor("gru", inputs=2))
    trainer = Trainer(recorder, TrainConfig(epochs=2, lr=0.01, **QUIET), strategy=StatefulBPTT())
    finals = []
    original_update = trainer.update

    def update(batch, state):
        final = original_update(batch, state)
        finals.append(final.detach().clone())
        return final

    trainer.update = update
    trainer.fit(loader)
    seen = recorder.seen
    assert len(seen) == 6  # 3 batches × 2 epochs, one update each
    assert seen[0] is None and seen[3] is None  # zero state at every epoch start
    # batch 1: lane 0 continues series 0; lane 1 starts series 2 (reset → zero row)
    torch.testing.assert_close(seen[1][:, 0], finals[0][:, 0], rtol=0, atol=0)
    assert torch.equal(seen[1][:, 1], torch.zeros_like(seen[1][:, 1]))
    # batch 2: both lanes continue, from the previous batch's final state, detached
    torch.testing.assert_close(seen[2], finals[1], rtol=0, atol=0)
    assert seen[2].grad_fn is None


def test_stateful_evaluation_carries_state_across_validation_batches():
    x, y = _series(40, seed=1)
    model = regressor("lstm", inputs=2)
    val = StreamLoader(x, y, batch_size=2, chunk_len=5)
    trainer = Trainer(model, TrainConfig(epochs=1, bptt="stateful", **QUIET))
    carried = trainer.evaluate(val)["test_loss"]
    # the same streams in one batch: one pass over each 20-step stream
    whole = _Fixed([SequenceBatch(x.view(2, 20, 2), y.view(2, 20))])
    one_pass = trainer.evaluate(whole)["test_loss"]
    assert abs(carried - one_pass) < 1e-6
