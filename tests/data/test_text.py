"""Text pipeline: tokenisers (English, Chinese, mixed), vocabulary, truncation, JSON round
trips, padding and length bucketing."""

import json

import numpy as np
import pytest
import torch

from rnnkit.data.bucketing import BucketLoader, bucket_batches, pad_sequences
from rnnkit.data.text import PAD_ID, UNK_ID, TextPipeline, Tokenizer, Vocabulary


@pytest.mark.parametrize(
    ("text", "level", "expected"),
    [
        (
            "It's a GOOD film, isn't it?",
            "word",
            ["it's", "a", "good", "film", ",", "isn't", "it", "?"],
        ),
        ("很好看的电影！", "word", ["很", "好", "看", "的", "电", "影", "!"]),
        ("iPhone 12很好用", "word", ["iphone", "12", "很", "好", "用"]),
        ("Ｆｕｌｌ　ｗｉｄｔｈ１２３", "word", ["full", "width123"]),
        ("ab  c", "char", ["a", "b", " ", "c"]),
        ("中文 字", "char", ["中", "文", " ", "字"]),
        ("   ", "word", []),
    ],
    ids=["english", "chinese", "mixed", "fullwidth", "char-spaces", "char-chinese", "blank"],
)
def test_tokenizer(text, level, expected):
    assert Tokenizer(level).tokenize(text) == expected


def test_tokenizer_keeps_case_when_asked_and_rejects_bad_level():
    assert Tokenizer("word", lowercase=False).tokenize("Good") == ["Good"]
    with pytest.raises(
        ValueError, match=r"tokenizer level must be one of \['word', 'char'\], got 'byte'"
    ):
        Tokenizer("byte")


def test_normalize_tokens_never_resplits():
    tok = Tokenizer("word")
    # NFKC turns the full-width digit into '1'; the number of tokens must not change.
    assert tok.normalize_tokens(["Ａ", "１", "中国"]) == ["a", "1", "中国"]


def test_vocabulary_order_min_freq_and_unknown():
    seqs = [["b", "a", "c"], ["a", "b"], ["a", "d"]]
    vocab = Vocabulary.build(seqs, min_freq=2)
    # Frequency first (a: 3, b: 2); c and d are rarer than min_freq.
    assert vocab.tokens == ["<pad>", "<unk>", "a", "b"]
    assert vocab.encode(["a", "c", "b", "zzz"]) == [2, UNK_ID, 3, UNK_ID]
    assert vocab.decode([0, 1, 2]) == ["<pad>", "<unk>", "a"]
    # Ties broken alphabetically: data order does not change ids.
    assert Vocabulary.build([["y", "x"]]).tokens == Vocabulary.build([["x", "y"]]).tokens
    assert len(Vocabulary.build(seqs, max_size=3)) == 3


def test_vocabulary_rejects_bad_arguments():
    with pytest.raises(ValueError, match="min_freq must be an integer >= 1, got 0"):
        Vocabulary.build([["a"]], min_freq=0)
    with pytest.raises(ValueError, match="token id must be in"):
        Vocabulary.build([["a"]]).decode([7])
    with pytest.raises(ValueError, match="must start with"):
        Vocabulary(["a", "b"])


def test_pipeline_json_round_trip_chinese_and_unknown_words():
    texts = ["这部电影很好看", "这部电影不好看", "好看"]
    pipe = TextPipeline.fit(texts, Tokenizer("char"), min_freq=1, max_length=4)
    restored = TextPipeline.from_json(json.loads(json.dumps(pipe.to_json())))
    for text in [*texts, "完全没见过的字", "好看！"]:
        assert restored.encode(text) == pipe.encode(text)
    ids = pipe.encode("好看吗")  # 吗 never seen in training
    assert ids[-1] == UNK_ID and ids[:2] == pipe.vocabulary.encode(["好", "看"])
    assert pipe.vocabulary.decode(pipe.encode("电影很")) == ["电", "影", "很"]


def test_truncation_sides_and_count():
    pipe = TextPipeline.fit(["a b c d e"], Tokenizer("word"), max_length=3)
    full = pipe.vocabulary.encode(["a", "b", "c", "d", "e"])
    assert pipe.encode("a b c d e") == full[:3]
    pipe.truncation = "start"
    assert pipe.encode("a b c d e") == full[-3:]
    assert pipe.count_truncated(["a b", "a b c d", "a b c"]) == 1
    with pytest.raises(ValueError, match="max_length must be an integer >= 1, got 0"):
        TextPipeline(pipe.tokenizer, pipe.vocabulary, max_length=0)


def test_empty_text_is_refused():
    pipe = TextPipeline.fit(["a"], Tokenizer("word"))
    with pytest.raises(ValueError, match="text must contain at least one token, got '  '"):
        pipe.encode("  ")


def test_pad_sequences_values():
    padded, lengths = pad_sequences([[5, 6, 7], [8]])
    assert padded.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID]]
    assert lengths.tolist() == [3, 1] and padded.dtype == torch.int64
    x, _ = pad_sequences([np.ones((2, 3), np.float32), np.full((1, 3), 2.0, np.float32)])
    assert x.dtype == torch.float32 and x[1].tolist() == [[2, 2, 2], [0, 0, 0]]
    with pytest.raises(ValueError, match="sequence 1 has step shape"):
        pad_sequences([np.ones((2, 3)), np.ones((2, 4))])


def test_bucket_batches_cover_everything_once_with_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 200, size=1000)
    batches = bucket_batches(
        lengths, 32, shuffle=True, rng=np.random.default_rng(1), pool_batches=8
    )
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))

    # Padding waste: bucketed batches pad far less than random batches of the same size.
    def waste(bs):
        return sum(int(lengths[b].max() * len(b) - lengths[b].sum()) for b in bs)

    random_batches = np.array_split(rng.permutation(1000), 1000 // 32)
    assert waste(batches) < 0.25 * waste(random_batches)


def test_bucket_loader_order_is_seeded_and_resumable():
    seqs = [[2] * n for n in range(1, 41)]
    loader = BucketLoader(seqs, list(range(40)), batch_size=4, seed=3)
    first = [b.lengths.tolist() for b in loader.batches(epoch=1)]
    again = [b.lengths.tolist() for b in loader.batches(epoch=1)]
    resumed = [b.lengths.tolist() for b in loader.batches(epoch=1, start=5)]
    assert first == again and resumed == first[5:]
    assert first != [b.lengths.tolist() for b in loader.batches(epoch=2)]
    batch = next(loader.batches(0))
    # One target per sequence, at its last real step.
    rows = torch.arange(batch.batch_size)
    assert batch.mask.sum() == batch.batch_size
    assert bool(batch.mask[rows, batch.lengths - 1].all())


def test_bucket_loader_shards_partition_each_batch():
    # Sequence i is i + 1 tokens long, so a batch's lengths name its members.
    seqs = [[2] * n for n in range(1, 21)]
    single = BucketLoader(seqs, list(range(20)), batch_size=8, seed=0)
    ranks = [BucketLoader(seqs, list(range(20)), batch_size=4, seed=0).shard(r, 2) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == len(single)
    for whole, b0, b1 in zip(
        single.batches(0), ranks[0].batches(0), ranks[1].batches(0), strict=True
    ):
        got = sorted(b0.lengths.tolist() + b1.lengths.tolist())
        assert got == sorted(whole.lengths.tolist())
