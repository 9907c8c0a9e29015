"""Tokenisers for generative models: text → ids → the same text.

A language model (and a sequence-to-sequence decoder) writes text, so its tokeniser must give
the text back: unlike :class:`rnnkit.data.text.Tokenizer` (made for classifiers, which
lower-cases, normalises and collapses white space), these keep every character, line break and
case, and ``decode(encode(text)) == text`` for any text made of known tokens.

* :class:`CharTokenizer` — one id per Unicode code point (Chinese, accents, emoji included).
* :class:`WordTokenizer` — white-space separated words, with a line end as the ``<eos>`` token
  (the WikiText convention); decoding joins words with one space, so it is lossless for text
  that is already tokenised that way (WikiText), and keeps the words of any other text.
* :class:`BPETokenizer` — byte-level byte-pair encoding trained with HuggingFace ``tokenizers``
  on the training split only (``pip install rnnkit[text]``); lossless for any text, since every
  byte is in its base alphabet.

Every tokeniser is fitted on the training text only (:func:`fit_tokenizer`), and saves to JSON
(:meth:`to_json`, :func:`tokenizer_from_json`) to travel inside a model artifact: never a
pickle. Ids ``0`` and ``1`` are the padding and unknown tokens of
:class:`rnnkit.data.text.Vocabulary` (for BPE: ``<pad>`` and ``<unk>`` as its first two special
tokens), so a text with a token unseen in training still encodes (to the unknown id).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, ClassVar

from rnnkit.data.text import PAD_TOKEN, UNK_ID, UNK_TOKEN, Vocabulary

TOKENIZER_KINDS = ("char", "word", "bpe")
EOS_TOKEN = "<eos>"
INSTALL_TEXT = 'pip install "rnnkit[text]"'


def _check_text(text: object, argument: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{argument} must be a str, got {type(text).__name__}")
    return text


class _VocabularyTokenizer:
    """What the character and word tokenisers share: a :class:`Vocabulary` of their tokens."""

    kind: ClassVar[str]

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary

    def __len__(self) -> int:
        return len(self.vocabulary)

    @property
    def unk_id(self) -> int:
        return UNK_ID

    def tokens(self, text: str) -> list[str]:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` (tokens unseen in training become the unknown id 1)."""
        return self.vocabulary.encode(self.tokens(_check_text(text)))

    def decode(self, ids: Any) -> str:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "tokens": self.vocabulary.tokens}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={len(self)})"


class CharTokenizer(_VocabularyTokenizer):
    """One token per Unicode code point, nothing normalised or dropped.

    Example:
        >>> tok = CharTokenizer.fit("ab\\n很好")
        >>> tok.decode(tok.encode("好a\\n"))
        '好a\\n'
    """

    kind = "char"

    @classmethod
    def fit(cls, text: str, *, max_size: int | None = None) -> CharTokenizer:
        """The characters of ``text`` (the training split), most frequent first."""
        return cls(Vocabulary.build([list(_check_text(text))], min_freq=1, max_size=max_size))

    def tokens(self, text: str) -> list[str]:
        return list(text)

    def decode(self, ids: Any) -> str:
        """The text of ``ids``; padding decodes to nothing, the unknown id to U+FFFD."""
        return self.join(self.vocabulary.decode(ids))

    def join(self, tokens: list[str]) -> str:
        """The text of token strings (e.g. known tokens mixed with copied unknown ones)."""
        return "".join(_show(t, "\ufffd") for t in tokens)


class WordTokenizer(_VocabularyTokenizer):
    """Words split on white space, each line end an ``<eos>`` token (WikiText's convention).

    Args (of :meth:`fit`):
        min_freq: a word needs this many occurrences in training to get its own id; rarer ones
            become ``<unk>`` (WikiText already has ``<unk>`` in its text: it stays one token).
        max_size: at most this many ids in all (None: no limit).
    """

    kind = "word"

    @classmethod
    def fit(cls, text: str, *, min_freq: int = 1, max_size: int | None = None) -> WordTokenizer:
        tokens = cls.split(_check_text(text))
        return cls(Vocabulary.build([tokens], min_freq=min_freq, max_size=max_size))

    @staticmethod
    def split(text: str) -> list[str]:
        out: list[str] = []
        lines = text.split("\n")
        for i, line in enumerate(lines):
            out.extend(line.split())
            if i < len(lines) - 1:  # a line end (the last line may have none)
                out.append(EOS_TOKEN)
        return out

    def tokens(self, text: str) -> list[str]:
        return self.split(text)

    def decode(self, ids: Any) -> str:
        """Words joined by one space, ``<eos>`` as a line end."""
        return self.join(self.vocabulary.decode(ids))

    def join(self, tokens: list[str]) -> str:
        """The text of token strings (e.g. known words mixed with copied unknown ones)."""
        lines: list[list[str]] = [[]]
        for token in tokens:
            if token == EOS_TOKEN:
                lines.append([])
            elif token != PAD_TOKEN:
                lines[-1].append(token)
        return "\n".join(" ".join(words) for words in lines)


def _show(token: str, unknown: str) -> str:
    return "" if token == PAD_TOKEN else unknown if token == UNK_TOKEN else token


def _require_tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError as err:
        raise ImportError(
            f"the 'bpe' tokenizer needs the HuggingFace tokenizers package, which is not "
            f"installed: {INSTALL_TEXT} (or use tokenizer='char' or 'word')"
        ) from err
    return tokenizers


class BPETokenizer:
    """Byte-level BPE (GPT-2's scheme) from HuggingFace ``tokenizers``, fitted on training text.

    Every byte of UTF-8 is in the base alphabet, so any text — Chinese, emoji, line breaks —
    encodes without an unknown token and decodes to exactly itself. Merges are learnt from the
    training split only. The tokeniser's own JSON (``tokenizers``' ``to_str``) is what the
    artifact stores.
    """

    kind = "bpe"

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer

    @classmethod
    def fit(cls, text: str, *, vocab_size: int = 2000, min_frequency: int = 2) -> BPETokenizer:
        """Learn merges on ``text`` up to ``vocab_size`` ids (special tokens and the 256 bytes
        included)."""
        _check_text(text)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 260:
            raise ValueError(
                "vocab_size must be an int >= 260 (the 256 bytes and the special tokens), "
                f"got {vocab_size!r}"
            )
        tk = _require_tokenizers()
        from tokenizers import decoders, models, pre_tokenizers, trainers

        tok = tk.Tokenizer(models.BPE(unk_token=UNK_TOKEN))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=[PAD_TOKEN, UNK_TOKEN],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        # Lines as the training "documents": merges never join across a line end.
        tok.train_from_iterator(text.splitlines(keepends=True), trainer=trainer)
        return cls(tok)

    def __len__(self) -> int:
        return int(self._tok.get_vocab_size())

    @property
    def unk_id(self) -> int:
        return UNK_ID

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(_check_text(text)).ids)

    def decode(self, ids: Any) -> str:
        return str(self._tok.decode([int(i) for i in ids], skip_special_tokens=True))

    def id_to_token(self, index: int) -> str | None:
        """The (byte-level) piece of an id; None outside the vocabulary."""
        return self._tok.id_to_token(int(index))

    def token_to_id(self, token: str) -> int | None:
        """The id of a (byte-level) piece; None when the vocabulary lacks it."""
        return self._tok.token_to_id(token)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "tokenizer": self._tok.to_str()}

    def __repr__(self) -> str:
        return f"BPETokenizer(size={len(self)})"


Tokenizer = CharTokenizer | WordTokenizer | BPETokenizer


def fit_tokenizer(
    kind: str,
    text: str,
    *,
    min_freq: int = 1,
    max_size: int | None = None,
    vocab_size: int = 2000,
) -> Tokenizer:
    """The tokeniser ``kind`` ('char', 'word' or 'bpe') fitted on ``text`` (training only).

    ``min_freq`` and ``max_size`` apply to 'word' (and ``max_size`` to 'char'); ``vocab_size``
    to 'bpe'.
    """
    if kind == "char":
        return CharTokenizer.fit(text, max_size=max_size)
    if kind == "word":
        return WordTokenizer.fit(text, min_freq=min_freq, max_size=max_size)
    if kind == "bpe":
        return BPETokenizer.fit(text, vocab_size=vocab_size)
    raise ValueError(f"tokenizer must be one of {list(TOKENIZER_KINDS)}, got {kind!r}")


def tokenizer_from_json(state: dict[str, Any]) -> Tokenizer:
    """The tokeniser :meth:`to_json` saved (plain JSON: nothing is executed)."""
    if not isinstance(state, dict) or state.get("kind") not in TOKENIZER_KINDS:
        got = state.get("kind") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"tokenizer state must have kind in {list(TOKENIZER_KINDS)}, got {got!r}")
    kind = state["kind"]
    if kind == "bpe":
        tk = _require_tokenizers()
        raw = state["tokenizer"]
        if not isinstance(raw, str):
            raise ValueError(f"bpe tokenizer state must be a JSON string, got {type(raw).__name__}")
        json.loads(raw)  # a clear JSON error here rather than inside tokenizers
        return BPETokenizer(tk.Tokenizer.from_str(raw))
    vocabulary = Vocabulary(state["tokens"])
    return CharTokenizer(vocabulary) if kind == "char" else WordTokenizer(vocabulary)


def token_counts(tokenizer: Tokenizer, text: str) -> Counter[int]:
    """How often each id occurs in ``text`` (e.g. for a unigram baseline)."""
    return Counter(tokenizer.encode(text))
