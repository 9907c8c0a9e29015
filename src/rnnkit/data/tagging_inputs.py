"""Tagging inputs: a tagged corpus from a file or the bundled dataset, long sequences cut into
pieces, and the preprocessing (tokeniser, vocabulary, tag names) fit on the training split and
saved with the model."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.core.suggest import did_you_mean
from rnnkit.data.labels import LabelSet
from rnnkit.data.registry import list_datasets, load_dataset
from rnnkit.data.sequence_files import read_utf8
from rnnkit.data.tagging import TaggedCorpus, read_tagged
from rnnkit.data.text import TextPipeline, Tokenizer, Vocabulary


def read_corpus(source: str | os.PathLike[str], format: str = "auto") -> TaggedCorpus:
    """A tagged corpus from a file or the bundled dataset name."""
    name = str(source)
    path = Path(name)
    if not path.exists():
        names = [d.name for d in list_datasets("tag")]
        if name in names:
            return load_dataset(name)
        if path.suffix:
            raise ValueError(f"data must be an existing file, got {name!r} (not found)")
        raise ValueError(
            f"data must be an existing tagged file or a bundled tagging dataset {names}, got "
            f"{name!r}{did_you_mean(name, names)}"
        )
    return read_tagged(path, format)


def cut(tokens: list[list[str]], max_length: int) -> tuple[list[list[str]], list[tuple[int, int]]]:
    """Sequences cut into consecutive pieces of at most ``max_length``; also (sequence, start)
    of every piece so that tags can be put back together."""
    pieces, where = [], []
    for i, toks in enumerate(tokens):
        for start in range(0, len(toks), max_length):
            pieces.append(toks[start : start + max_length])
            where.append((i, start))
    return pieces, where


@dataclass
class TagPreprocessing:
    """Tokeniser (raw text at prediction), vocabulary, tag names and maximum piece length."""

    pipeline: TextPipeline
    tags: LabelSet

    @classmethod
    def fit(
        cls,
        train: TaggedCorpus,
        *,
        tokenizer: str = "word",
        lowercase: bool = True,
        min_freq: int = 2,
        max_vocab: int | None = None,
        max_length: int = 100,
    ) -> TagPreprocessing:
        """Tag names and vocabulary of the training split ``train`` (tagged)."""
        tags = LabelSet.fit(
            (t for seq in train.tags for t in seq), argument="tags of the training data"
        )
        tok = Tokenizer(tokenizer, lowercase=lowercase)
        vocab = Vocabulary.build(
            (tok.normalize_tokens(t) for t in train.tokens), min_freq=min_freq, max_size=max_vocab
        )
        return cls(TextPipeline(tok, vocab, max_length), tags)

    def pieces(self, corpus: TaggedCorpus) -> tuple[list[list[int]], list[Any]]:
        """Token ids and tag ids of ``corpus`` (tagged), cut into pieces of ``max_length``."""
        n = self.pipeline.max_length
        toks, where = cut(corpus.tokens, n)
        ids = [self.ids(t) for t in toks]
        labels = [self.tags.encode(corpus.tags[i][s : s + n], argument="tags") for i, s in where]
        return ids, labels

    def normalized(self, tokens: list[list[str]]) -> list[list[str]]:
        """Tokens as the vocabulary sees them (e.g. lower-cased)."""
        return [self.pipeline.tokenizer.normalize_tokens(t) for t in tokens]

    def ids(self, tokens: list[str]) -> list[int]:
        return self.pipeline.vocabulary.encode(self.pipeline.tokenizer.normalize_tokens(tokens))

    def split_text(self, text: str) -> list[str]:
        """Raw text → tokens: characters (white space dropped) or words."""
        if self.pipeline.tokenizer.level == "char":
            return [ch for ch in text if not ch.isspace()]
        words = Tokenizer("word", lowercase=False, normalize=False)
        return words.tokenize(text)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.pipeline.to_json(), "tags": self.tags.to_json()}

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> TagPreprocessing:
        return cls(TextPipeline.from_json(state["text"]), LabelSet.from_json(state["tags"]))


def read_tokens(
    pre: TagPreprocessing, data: Any, format: str = "auto"
) -> tuple[list[list[str]], list[list[str]] | None]:
    """Token lists (and gold tags, if any) of raw texts, a TaggedCorpus, or a file.

    Args:
        pre: splits raw text into tokens as the model was trained.
        data: a list of raw texts, a text file (one text per line; any extension but .jsonl,
            .json, .conll, .tsv), a tagged file, or a :class:`TaggedCorpus`.
        format: 'auto', 'text', 'jsonl', 'conll' or 'slash'.
    """
    if isinstance(data, TaggedCorpus):
        return data.tokens, data.tags
    if isinstance(data, (list, tuple)) and all(isinstance(t, str) for t in data):
        texts = list(data)
    else:
        path = Path(data)
        fmt = format
        if fmt == "auto":
            fmt = {".jsonl": "jsonl", ".json": "jsonl", ".conll": "conll", ".tsv": "conll"}.get(
                path.suffix.lower(), "text"
            )
        if fmt != "text":
            corpus = read_corpus(path, fmt)
            return corpus.tokens, corpus.tags
        if not path.is_file():
            raise ValueError(f"data must be an existing file, got {str(path)!r} (not found)")
        texts = [line for line in read_utf8(path).splitlines() if line.strip()]
    tokens = [pre.split_text(t) for t in texts]
    for i, (text, toks) in enumerate(zip(texts, tokens, strict=True)):
        if not toks:
            raise ValueError(f"text must contain at least one token, got {text!r} (text {i + 1})")
    return tokens, None
