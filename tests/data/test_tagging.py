"""Tagged corpora: BMES conversions, the three file formats, clause cutting."""

import json

import pytest

from rnnkit.data.tagging import bmes_to_words, read_tagged, split_clauses, words_to_bmes


def test_bmes_round_trip():
    words = ["中国", "人民", "的", "解放军", "好"]
    tags = words_to_bmes(words)
    assert tags == ["b", "e", "b", "e", "s", "b", "m", "e", "s"]
    assert bmes_to_words(list("".join(words)), tags) == words
    # An ill-formed prediction (m without b) is still read into words.
    assert bmes_to_words(list("abcd"), ["m", "e", "s", "m"]) == ["ab", "c", "d"]


@pytest.mark.parametrize("fmt", ["jsonl", "conll", "slash"])
def test_read_tagged_formats(tmp_path, fmt):
    sentences = [(["我", "爱", "北", "京"], ["s", "s", "b", "e"]), (["好"], ["s"])]
    if fmt == "jsonl":
        text = "\n".join(
            json.dumps({"tokens": t, "tags": g}, ensure_ascii=False) for t, g in sentences
        )
        name = "c.jsonl"
    elif fmt == "conll":
        text = "\n\n".join(
            "\n".join(f"{a}\t{b}" for a, b in zip(t, g, strict=True)) for t, g in sentences
        )
        name = "c.conll"
    else:
        text = "\n".join(
            " ".join(f"{a}/{b}" for a, b in zip(t, g, strict=True)) for t, g in sentences
        )
        name = "c.txt"
    (tmp_path / name).write_text(text + "\n", encoding="utf-8")
    corpus = read_tagged(tmp_path / name)
    assert corpus.tokens == [s[0] for s in sentences]
    assert corpus.tags == [s[1] for s in sentences]


def test_read_tagged_bad_input(tmp_path):
    (tmp_path / "bad.txt").write_text("我/s 爱\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1: expected token/tag, got '爱'"):
        read_tagged(tmp_path / "bad.txt")
    (tmp_path / "bad.jsonl").write_text('{"tokens": ["a", "b"], "tags": ["x"]}\n')
    with pytest.raises(
        ValueError, match="sequence 0 must have one tag per token, got 2 tokens and 1 tags"
    ):
        read_tagged(tmp_path / "bad.jsonl")


def test_split_clauses_keeps_tags_aligned():
    tokens = list("我来了，你好。再见")
    tags = ["s", "b", "e", "s", "b", "e", "s", "b", "e"]
    pieces = split_clauses(tokens, tags, frozenset("，。"))
    assert [("".join(t), g) for t, g in pieces] == [
        ("我来了，", ["s", "b", "e", "s"]),
        ("你好。", ["b", "e", "s"]),
        ("再见", ["b", "e"]),
    ]
