"""Text for generative models: lossless tokenisers (:mod:`.tokenizers`) and sampling
(:mod:`.decoding`), shared by the language-model task and sequence-to-sequence models."""

from rnnkit.text.decoding import Sampler, filter_logits, sample_next
from rnnkit.text.tokenizers import (
    TOKENIZER_KINDS,
    BPETokenizer,
    CharTokenizer,
    WordTokenizer,
    fit_tokenizer,
    tokenizer_from_json,
)

__all__ = [
    "TOKENIZER_KINDS",
    "BPETokenizer",
    "CharTokenizer",
    "Sampler",
    "WordTokenizer",
    "filter_logits",
    "fit_tokenizer",
    "sample_next",
    "tokenizer_from_json",
]
