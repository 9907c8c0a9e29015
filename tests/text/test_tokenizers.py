"""Tokenisers for generative models: lossless round trips, training-split-only fitting, JSON."""

import json

import pytest

from rnnkit.data.text import UNK_ID
from rnnkit.text import (
    BPETokenizer,
    CharTokenizer,
    WordTokenizer,
    fit_tokenizer,
    tokenizer_from_json,
)

MIXED = "First Citizen:\nBefore we proceed, 你好世界！ naïve café 🙂\n\n  two  spaces\tand a tab\n"


def through_json(tok):
    return tokenizer_from_json(json.loads(json.dumps(tok.to_json())))


def test_char_round_trip_keeps_every_character_case_and_space():
    tok = CharTokenizer.fit(MIXED)
    ids = tok.encode(MIXED)
    assert len(ids) == len(MIXED)
    assert tok.decode(ids) == MIXED
    assert through_json(tok).encode(MIXED) == ids
    assert through_json(tok).decode(ids) == MIXED


def test_char_ids_most_frequent_first_and_unseen_characters_are_unknown():
    tok = CharTokenizer.fit("aaab")
    assert tok.vocabulary.tokens == ["<pad>", "<unk>", "a", "b"]
    assert tok.encode("abz") == [2, 3, UNK_ID]
    assert tok.decode([2, UNK_ID]) == "a\ufffd"


def test_chinese_text_is_one_token_per_character():
    text = "床前明月光，疑是地上霜。"
    tok = CharTokenizer.fit(text)
    assert len(tok.encode(text)) == 12
    assert tok.decode(tok.encode("明月")) == "明月"


def test_word_tokenizer_marks_line_ends_and_round_trips_wikitext_style_text():
    text = " = Homarus gammarus = \n Homarus gammarus is a <unk> lobster \n"
    tok = WordTokenizer.fit(text)
    tokens = tok.tokens(text)
    assert tokens == ["=", "Homarus", "gammarus", "=", "<eos>", "Homarus", "gammarus", "is",
                      "a", "<unk>", "lobster", "<eos>"]
    assert tok.encode("<unk>") == [UNK_ID]  # WikiText's own <unk> stays the unknown token
    normalized = "= Homarus gammarus =\nHomarus gammarus is a <unk> lobster\n"
    assert tok.decode(tok.encode(text)) == normalized
    assert through_json(tok).decode(tok.encode(text)) == normalized


def test_word_min_freq_sends_rare_words_to_unknown():
    tok = WordTokenizer.fit("the cat the dog the", min_freq=2)
    assert tok.encode("the cat") == [tok.vocabulary.index("the"), UNK_ID]


def test_fit_tokenizer_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match=r"tokenizer must be one of \['char', 'word', 'bpe'\], "
                                         r"got 'chars'"):
        fit_tokenizer("chars", "abc")


def test_tokenizer_from_json_refuses_a_bad_state():
    with pytest.raises(ValueError, match="kind in"):
        tokenizer_from_json({"kind": "pickle"})


def test_encode_refuses_non_text():
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        CharTokenizer.fit("ab").encode(b"ab")


def test_bpe_round_trips_any_text_and_learns_merges_from_training_text_only():
    pytest.importorskip("tokenizers")
    train = "the theory of the thermal theme\n" * 40 + "中文文本中文\n" * 20
    tok = BPETokenizer.fit(train, vocab_size=300)
    for text in (MIXED, "the theory", "完全没见过的字 and unseen words ✓"):
        assert tok.decode(tok.encode(text)) == text
        assert through_json(tok).encode(text) == tok.encode(text)
    # Frequent training words are merged into few tokens; a word never seen in training is not.
    assert len(tok.encode(" theory")) == 1
    assert len(tok.encode("中文")) == 1  # six UTF-8 bytes, merged
    assert len(tok.encode(" zyxwvu")) == 7
    assert UNK_ID not in tok.encode(MIXED)  # byte-level: nothing is unknown


def test_bpe_vocab_size_is_checked():
    pytest.importorskip("tokenizers")
    with pytest.raises(ValueError, match=r"vocab_size must be an int >= 260.*got 100"):
        BPETokenizer.fit("abc", vocab_size=100)


def test_bpe_without_the_tokenizers_package_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "rnnkit\[text\]" \(or use '
                                          r"tokenizer='char' or 'word'\)"):
        fit_tokenizer("bpe", "some text")
    assert fit_tokenizer("char", "some text").decode([2]) in "some text"  # char needs nothing
