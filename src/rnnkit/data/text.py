"""Text pipeline: tokenisers, vocabulary, truncation, padding and length bucketing.

Text travels ``str → tokens → ids → padded batch``:

* :class:`Tokenizer` splits a string into tokens at the word or character level. Text is first
  Unicode-normalised (NFKC, so full-width ``１２，`` become ``12,``) and optionally lower-cased.
  Chinese (and Japanese kanji) has no spaces between words, so at the word level every Han
  ideograph is its own token, as BERT does; Latin, Cyrillic, digits... form words, and each
  punctuation mark is its own token.
* :class:`Vocabulary` maps tokens to ids: ``0`` is padding, ``1`` the unknown token, then the
  tokens seen at least ``min_freq`` times in training, most frequent first (ties alphabetical,
  so the same data always gives the same ids).
* :class:`TextPipeline` joins the two with a stated maximum length (longer texts are cut, and
  the number cut is reported) and serialises to JSON for the model artifact.

Padding and length bucketing (batches of texts of similar length) live in
:mod:`rnnkit.data.bucketing`, shared with numeric sequences.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
PAD_ID = 0
UNK_ID = 1

# Han ideographs (CJK unified, extension A, compatibility) — written without spaces between words.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD_RE = re.compile(
    rf"[{_HAN}]"  # one ideograph
    rf"|[^\W{_HAN}]+(?:['’][^\W{_HAN}]+)*"  # a run of word characters, keeping it's / don't
    r"|[^\w\s]"  # one punctuation mark or symbol
)
_SPACE_RE = re.compile(r"\s+")

TOKENIZER_LEVELS = ("word", "char")
TRUNCATION_SIDES = ("end", "start")


def _check_choice(argument: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{argument} must be one of {list(choices)}, got {value!r}")
    return str(value)


@dataclass(frozen=True)
class Tokenizer:
    """Split text into tokens.

    Args:
        level: 'word' (words, punctuation marks, and each Han ideograph) or 'char' (every
            character; runs of white space become one ``" "`` token).
        lowercase: lower-case after normalisation.
        normalize: apply Unicode NFKC normalisation first (full-width forms → ASCII, ligatures
            split).

    Example:
        >>> Tokenizer("word").tokenize("It's GOOD，很好看!")
        ["it's", 'good', ',', '很', '好', '看', '!']
    """

    level: str = "word"
    lowercase: bool = True
    normalize: bool = True

    def __post_init__(self) -> None:
        _check_choice("tokenizer level", self.level, TOKENIZER_LEVELS)

    def normalize_text(self, text: str) -> str:
        """The text as the tokeniser sees it (normalised, lower-cased if asked)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if self.normalize:
            text = unicodedata.normalize("NFKC", text)
        if self.lowercase:
            text = text.lower()
        return text

    def tokenize(self, text: str) -> list[str]:
        """Tokens of ``text`` (an empty list for blank text)."""
        text = self.normalize_text(text)
        if self.level == "word":
            return _WORD_RE.findall(text)
        return list(_SPACE_RE.sub(" ", text).strip())

    def normalize_tokens(self, tokens: Iterable[str]) -> list[str]:
        """Normalise already-split tokens one by one, never re-splitting them.

        Tagging data comes as tokens aligned with tags, so the alignment must survive: a token
        that normalises to nothing (a lone combining mark, say) is kept as it was.
        """
        out = []
        for token in tokens:
            norm = self.normalize_text(token)
            out.append(norm if norm else token)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "lowercase": self.lowercase, "normalize": self.normalize}

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> Tokenizer:
        return cls(state["level"], bool(state["lowercase"]), bool(state["normalize"]))


class Vocabulary:
    """Token ↔ id map with a padding id 0 and an unknown-token id 1.

    Build it from training data only (:meth:`build`); tokens that are rarer than ``min_freq`` or
    beyond ``max_size`` map to the unknown id, as do tokens first seen at prediction time.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        tokens = list(tokens)
        if tokens[:2] != [PAD_TOKEN, UNK_TOKEN]:
            raise ValueError(
                f"vocabulary tokens must start with {[PAD_TOKEN, UNK_TOKEN]}, got {tokens[:2]}"
            )
        if len(set(tokens)) != len(tokens):
            dup = next(t for t, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"vocabulary tokens must be unique, got {dup!r} more than once")
        self._tokens = tokens
        self._ids = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(
        cls,
        sequences: Iterable[Sequence[str]],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> Vocabulary:
        """Vocabulary of the tokens in ``sequences`` seen at least ``min_freq`` times.

        Args:
            sequences: token lists (the training split only).
            min_freq: minimum count for a token to get its own id (≥ 1).
            max_size: keep at most this many ids in all, the two special ones included
                (None: no limit).
        """
        if not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be an integer >= 1, got {min_freq!r}")
        if max_size is not None and (not isinstance(max_size, int) or max_size < 3):
            raise ValueError(f"max_size must be None or an integer >= 3, got {max_size!r}")
        counts: Counter[str] = Counter()
        for seq in sequences:
            counts.update(seq)
        for special in (PAD_TOKEN, UNK_TOKEN):
            counts.pop(special, None)
        # Most frequent first; ties broken alphabetically so ids never depend on data order.
        kept = sorted(
            (t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            kept = kept[: max_size - 2]
        return cls([PAD_TOKEN, UNK_TOKEN, *kept])

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)})"

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._tokens)

    def index(self, token: str) -> int:
        """Id of ``token``; the unknown id for a token not in the vocabulary."""
        return self._ids.get(token, UNK_ID)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self._ids.get(t, UNK_ID) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self._tokens):
                raise ValueError(f"token id must be in [0, {len(self._tokens)}), got {i}")
            out.append(self._tokens[i])
        return out

    def to_json(self) -> dict[str, Any]:
        return {"tokens": list(self._tokens)}

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> Vocabulary:
        return cls(state["tokens"])


@dataclass
class TextPipeline:
    """Tokeniser + vocabulary + maximum length: what turns raw text into model input.

    Args:
        tokenizer: how text is split.
        vocabulary: token ids (built on the training split).
        max_length: at most this many tokens per text are kept (≥ 1).
        truncation: which side of a long text is cut: 'end' keeps the first ``max_length``
            tokens, 'start' keeps the last ones.
    """

    tokenizer: Tokenizer
    vocabulary: Vocabulary
    max_length: int = 200
    truncation: str = "end"

    def __post_init__(self) -> None:
        if not isinstance(self.max_length, int) or self.max_length < 1:
            raise ValueError(f"max_length must be an integer >= 1, got {self.max_length!r}")
        _check_choice("truncation", self.truncation, TRUNCATION_SIDES)

    @classmethod
    def fit(
        cls,
        texts: Iterable[str],
        tokenizer: Tokenizer,
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        max_length: int = 200,
        truncation: str = "end",
    ) -> TextPipeline:
        """Build the vocabulary from ``texts`` (the training split) and return the pipeline."""
        vocab = Vocabulary.build(
            (tokenizer.tokenize(t) for t in texts), min_freq=min_freq, max_size=max_size
        )
        return cls(tokenizer, vocab, max_length, truncation)

    def truncate(self, ids: list[int]) -> list[int]:
        if len(ids) <= self.max_length:
            return ids
        return ids[: self.max_length] if self.truncation == "end" else ids[-self.max_length :]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, truncated to ``max_length``.

        Raises:
            ValueError: the text has no token (empty or only white space).
        """
        tokens = self.tokenizer.tokenize(text)
        if not tokens:
            raise ValueError(f"text must contain at least one token, got {text!r}")
        return self.truncate(self.vocabulary.encode(tokens))

    def encode_tokens(self, tokens: Sequence[str]) -> list[int]:
        """Ids of pre-split tokens (normalised one by one, then truncated)."""
        if len(tokens) == 0:
            raise ValueError("tokens must hold at least one token, got an empty sequence")
        return self.truncate(self.vocabulary.encode(self.tokenizer.normalize_tokens(tokens)))

    def count_truncated(self, texts: Iterable[str]) -> int:
        """How many of ``texts`` are longer than ``max_length`` tokens."""
        return sum(len(self.tokenizer.tokenize(t)) > self.max_length for t in texts)

    def to_json(self) -> dict[str, Any]:
        return {
            "tokenizer": self.tokenizer.to_json(),
            "vocabulary": self.vocabulary.to_json(),
            "max_length": self.max_length,
            "truncation": self.truncation,
        }

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> TextPipeline:
        return cls(
            Tokenizer.from_json(state["tokenizer"]),
            Vocabulary.from_json(state["vocabulary"]),
            int(state["max_length"]),
            state["truncation"],
        )
