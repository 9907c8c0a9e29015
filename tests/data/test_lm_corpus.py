"""Language-model text: sources and cuts, and the B contiguous streams of stateful training."""

import hashlib

import numpy as np
import pytest
import torch

from rnnkit.data.lm_corpus import (
    DATA_ENV,
    TextDataUnavailableError,
    TextStreams,
    chunk_lengths,
    data_dirs,
    read_corpus,
)


def test_streams_are_contiguous_parts_of_the_text_in_order():
    ids = torch.arange(103)  # inputs 0..101, targets 1..102
    loader = TextStreams(ids, batch_size=4, chunk_len=7)
    S = 102 // 4
    batches = list(loader.batches(0))
    assert len(batches) == len(loader) == -(-S // 7)
    inputs = torch.cat([b.inputs for b in batches], dim=1)  # (4, S)
    targets = torch.cat([b.targets for b in batches], dim=1)
    for j in range(4):  # row j is stream j: ids [j·S, (j+1)·S), in order
        assert inputs[j].tolist() == list(range(j * S, (j + 1) * S))
        assert targets[j].tolist() == list(range(j * S + 1, (j + 1) * S + 1))
    assert [b.num_steps for b in batches] == [7, 7, 7, 4]
    assert [b.reset.tolist() for b in batches] == [[True] * 4] + [[False] * 4] * 3


def test_variable_chunks_cover_each_stream_and_move_between_epochs():
    ids = torch.arange(20001)
    loader = TextStreams(ids, batch_size=2, chunk_len=50, variable=True, seed=3)
    e0, e1 = loader.lengths(0), loader.lengths(1)
    assert sum(e0) == sum(e1) == 10000
    assert e0 != e1
    assert e0 == TextStreams(ids, batch_size=2, chunk_len=50, variable=True, seed=3).lengths(0)
    assert all(5 <= n <= 100 for n in e0[:-1])
    assert 40 < np.mean(e0) < 50  # the mean sits below 50: one chunk in 20 is half as long
    joined = torch.cat([b.inputs for b in loader.batches(1)], dim=1)
    assert joined[1].tolist() == list(range(10000, 20000))


def test_resuming_at_a_batch_gives_the_same_batches():
    loader = TextStreams(torch.arange(5001), batch_size=3, chunk_len=20, variable=True)
    whole = list(loader.batches(2))
    tail = list(loader.batches(2, start=5))
    assert len(tail) == len(whole) - 5
    for a, b in zip(whole[5:], tail, strict=True):
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.reset, b.reset)


def test_shards_split_the_streams_between_processes():
    loader = TextStreams(torch.arange(1201), batch_size=2, chunk_len=10)
    full = TextStreams(torch.arange(1201), batch_size=4, chunk_len=10)
    first = next(full.batches(0)).inputs
    r0, r1 = (next(loader.shard(r, 2).batches(0)).inputs for r in (0, 1))
    assert torch.equal(r0, first[0::2]) and torch.equal(r1, first[1::2])


def test_fixed_chunk_lengths():
    assert chunk_lengths(10, 4, False, None) == [4, 4, 2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "TextStreams: batch_size must be a positive int, got 0"),
        ({"chunk_len": 2.5}, "TextStreams: chunk_len must be a positive int, got 2.5"),
        ({"batch_size": 50}, "a text of 20 tokens cannot be cut into 50 streams"),
    ],
)
def test_stream_options_are_checked(kwargs, message):
    options = {"batch_size": 2, "chunk_len": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        TextStreams(torch.arange(20), **options)


def test_tinyshakespeare_ships_with_the_standard_cut():
    corpus = read_corpus("tinyshakespeare")
    assert (len(corpus.train), len(corpus.val)) == (1_003_854, 111_540)
    assert corpus.train.startswith("First Citizen:\nBefore we proceed")
    assert corpus.train.endswith("But who comes here") and corpus.val.startswith("?\n")
    digest = hashlib.sha256((corpus.train + corpus.val).encode()).hexdigest()
    assert digest == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def test_a_text_file_is_cut_at_the_end_or_validated_by_another(tmp_path):
    text = "".join(f"line {i} 中文\n" for i in range(100))
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    corpus = read_corpus(str(path), val_fraction=0.25)
    assert corpus.train + corpus.val == text
    assert len(corpus.train) == int(len(text) * 0.75)
    other = tmp_path / "v.txt"
    other.write_text("held out\n", encoding="utf-8")
    corpus = read_corpus(str(path), str(other))
    assert (corpus.train, corpus.val) == (text, "held out\n")


def test_files_that_are_not_utf8_or_missing_are_refused(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match=r"must be UTF-8 text, got a byte 0xe9 at offset 3"):
        read_corpus(str(bad))
    with pytest.raises(FileNotFoundError, match=r"data must be a text file or one of "
                                                r"\['tinyshakespeare', 'wikitext2'\]"):
        read_corpus(str(tmp_path / "nope.txt"))


def test_wikitext2_absent_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert data_dirs() == [tmp_path]
    with pytest.raises(TextDataUnavailableError, match=rf"looked in: {tmp_path}/wikitext2/"
                                                       rf"valid.txt\. Set {DATA_ENV}"):
        read_corpus("wikitext2")


def test_wikitext2_is_cut_by_lines_when_present():
    try:
        corpus = read_corpus("wikitext2")
    except TextDataUnavailableError:
        pytest.skip("the WikiText-2 validation text is not in the data directory")
    lines = (corpus.train + corpus.val).splitlines(keepends=True)
    assert len(lines) == 3760
    assert corpus.val == "".join(lines[int(3760 * 0.9):])


def test_tinyshakespeare_cut_matches_the_staged_files_when_present():
    from rnnkit.data.lm_corpus import find_data_file

    try:
        train = find_data_file("tinyshakespeare/train.txt").read_text(encoding="utf-8")
        val = find_data_file("tinyshakespeare/val.txt").read_text(encoding="utf-8")
    except TextDataUnavailableError:
        pytest.skip("the staged Tiny Shakespeare split is not in the data directory")
    corpus = read_corpus("tinyshakespeare")
    assert (corpus.train, corpus.val) == (train, val)
