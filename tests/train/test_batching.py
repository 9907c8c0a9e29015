"""Batches and loaders: target placement, seeded resumable order, sharding, stateful streams."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data import BatchLoader, SequenceBatch, StreamLoader


def test_per_sequence_targets_sit_at_each_last_real_step():
    x = torch.randn(3, 5, 2)
    y = torch.tensor([1.0, 2.0, 3.0])
    loader = BatchLoader(x, y, lengths=[5, 2, 4], batch_size=3, shuffle=False, target_at="last")
    (batch,) = list(loader.batches(0))
    assert batch.mask.tolist() == [
        [False, False, False, False, True],
        [False, True, False, False, False],
        [False, False, False, True, False],
    ]
    assert batch.targets[batch.mask].tolist() == [1.0, 2.0, 3.0]
    assert batch.lengths.tolist() == [5, 2, 4]


def test_order_depends_only_on_seed_and_epoch_and_resumes_at_any_batch():
    x = torch.arange(40.0).view(20, 1, 2)
    y = torch.arange(20.0)
    loader = BatchLoader(x, y, batch_size=6, seed=7, target_at="last")

    def order(epoch, start=0):
        return [b.targets[b.mask].tolist() for b in loader.batches(epoch, start)]

    first = order(0)
    assert first == order(0)  # same seed and epoch, same order
    assert first != order(1)  # a new order every epoch
    assert order(0, start=2) == first[2:]  # resuming at batch 2 sees exactly the rest
    assert sorted(v for b in first for v in b) == list(range(20))
    assert len(loader) == 4 and [len(b) for b in first] == [6, 6, 6, 2]


def test_shards_split_every_batch_so_their_union_is_the_single_process_batch():
    x = torch.arange(48.0).view(24, 1, 2)
    y = torch.arange(24.0)
    whole = BatchLoader(x, y, batch_size=8, seed=3, target_at="last")
    ranks = [BatchLoader(x, y, batch_size=4, seed=3, target_at="last").shard(r, 2)
             for r in range(2)]
    assert len(whole) == len(ranks[0]) == len(ranks[1]) == 3
    for epoch in range(2):
        for i, big in enumerate(whole.batches(epoch)):
            parts = [list(r.batches(epoch))[i] for r in ranks]
            union = sorted(v for p in parts for v in p.targets[p.mask].tolist())
            assert union == sorted(big.targets[big.mask].tolist())
            assert not set(parts[0].targets[parts[0].mask].tolist()) & set(
                parts[1].targets[parts[1].mask].tolist())


def test_time_slice_clips_lengths_and_keeps_reset_only_at_step_zero():
    batch = SequenceBatch(torch.randn(3, 6, 1), torch.randn(3, 6), lengths=torch.tensor([6, 4, 1]),
                          reset=torch.tensor([True, False, True]))
    part = batch.time_slice(2, 5)
    assert part.lengths.tolist() == [3, 2, 0]
    assert part.reset is None and batch.time_slice(0, 3).reset is not None
    assert torch.equal(part.mask, batch.mask[:, 2:5])
    assert batch.time_slice(0, 1).lengths is None  # every row full: no lengths needed


def test_sequence_batch_names_the_bad_field():
    with pytest.raises(ValueError, match=r"targets must be a tensor of shape \(2, 3, \.\.\.\)"):
        SequenceBatch(torch.zeros(2, 3, 1), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"lengths must be in \[0, 3\]"):
        SequenceBatch(torch.zeros(2, 3, 1), torch.zeros(2, 3), lengths=torch.tensor([4, 1]))


def test_one_long_series_becomes_parallel_streams_that_continue_row_by_row():
    series = torch.arange(26.0).view(26, 1)  # 26 steps, 3 streams of 8 (2 steps dropped)
    loader = StreamLoader(series, series.squeeze(1), batch_size=3, chunk_len=3)
    batches = list(loader.batches(0))
    assert len(loader) == len(batches) == 3  # chunks of 3, 3, 2 steps
    rows = torch.cat([b.inputs for b in batches], dim=1).squeeze(-1)  # (3, 8)
    assert rows.tolist() == [list(range(0, 8)), list(range(8, 16)), list(range(16, 24))]
    assert [b.reset.tolist() for b in batches] == [[True] * 3, [False] * 3, [False] * 3]
    assert batches[-1].num_steps == 2 and batches[-1].lengths is None


def test_several_series_fill_lanes_and_reset_where_a_new_one_starts():
    lens = [5, 2, 4]
    series = [torch.full((n, 1), float(k)) for k, n in enumerate(lens)]
    targets = [s.squeeze(1) for s in series]
    loader = StreamLoader(series, targets, batch_size=2, chunk_len=2)
    batches = list(loader.batches(0))
    # lane 0 takes series 0 (3 chunks); lane 1 series 1 (1 chunk), then series 2 (2 chunks).
    assert [b.inputs[:, 0, 0].tolist() for b in batches] == [[0, 1], [0, 2], [0, 2]]
    assert [b.reset.tolist() for b in batches] == [[True, True], [False, True], [False, False]]
    assert batches[2].lengths.tolist() == [1, 2]  # series 0 ends with a 1-step chunk
    assert batches[2].mask.tolist() == [[True, False], [True, True]]


def test_stream_shards_take_alternate_lanes():
    series = torch.arange(40.0).view(40, 1)
    whole = list(StreamLoader(series, series.squeeze(1), batch_size=4, chunk_len=5).batches(0))
    parts = [list(StreamLoader(series, series.squeeze(1), batch_size=2, chunk_len=5)
                  .shard(r, 2).batches(0)) for r in range(2)]
    for i, big in enumerate(whole):
        assert torch.equal(parts[0][i].inputs, big.inputs[0::2])
        assert torch.equal(parts[1][i].inputs, big.inputs[1::2])


def test_loaders_name_bad_arguments():
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        BatchLoader(torch.zeros(4, 3, 1), torch.zeros(4), batch_size=0, target_at="last")
    with pytest.raises(ValueError, match="target_at='every', targets must be"):
        BatchLoader(torch.zeros(4, 3, 1), torch.zeros(4), batch_size=2)
    with pytest.raises(ValueError, match="cannot be cut into batch_size=8 streams"):
        StreamLoader(torch.zeros(5, 1), torch.zeros(5), batch_size=8, chunk_len=2)
