"""Scores of generated text against references, and the baselines they are reported beside.

Thin wrappers over the maintained implementations, so that numbers compare with papers:

* :func:`translation_scores` — corpus BLEU and chrF from sacrebleu (Post 2018), with its
  standard ``13a`` tokenisation of detokenised text, several references per example.
  BLEU = BP · exp(Σₙ ¼ log pₙ), n = 1..4, pₙ the clipped n-gram precision over the corpus and
  BP = min(1, exp(1 − r/c)) the brevity penalty (c hypothesis, r closest reference length);
  chrF = F_β (β = 2) of character 6-gram precision and recall. Both in 0–100. The ``13a``
  tokeniser splits punctuation off words; it does not segment Chinese or Japanese, so BLEU of
  such targets counts whole unspaced runs (sacrebleu's ``zh`` tokeniser is the usual choice
  there; chrF, on characters, needs none).
* :func:`summary_scores` — ROUGE-1, ROUGE-2 (unigram and bigram overlap) and ROUGE-L
  (longest common subsequence) F1 from Google's ``rouge-score`` with Porter stemming; with
  several references each example takes its best reference per measure (``score_multi``), and
  the corpus score is the mean over examples, in 0–100. Its tokeniser keeps only a–z and 0–9
  after lower-casing, so text in other scripts scores 0.
* :func:`error_rates` — word error rate (WER: the share of examples whose output matches no
  reference exactly, token by token) and token error rate (PER for phonemes: Levenshtein
  distance in whitespace tokens to the closest reference, summed over the corpus, over the
  summed lengths of those references), both in %; the grapheme-to-phoneme measures.

Baselines: :func:`copy_source_baseline` (translation: output the source unchanged — it scores
above zero where names, numbers and cognates pass through) and :func:`lead_baseline`
(summarisation: the first N words of the source).

The libraries are imported when a function is first called; without them the error names
``pip install rnnkit[seq2seq]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SEQ2SEQ_EXTRA = "pip install rnnkit[seq2seq]"


def _require(module: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"{what} needs the {module.split('.')[0]} package, which is not installed; install "
            f"it with: {SEQ2SEQ_EXTRA}"
        ) from err


def _check(hypotheses: Sequence[str], references: Sequence[Sequence[str] | str]
           ) -> list[tuple[str, ...]]:
    """The references as tuples, after checking both lists (same length, text, non-empty)."""
    if isinstance(hypotheses, str) or not isinstance(hypotheses, Sequence):
        raise TypeError(f"hypotheses must be a list of strings, got {type(hypotheses).__name__}")
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise TypeError(
            f"references must be a list of tuples of strings, got {type(references).__name__}"
        )
    if len(hypotheses) != len(references):
        raise ValueError(
            f"references must have one entry per hypothesis, got {len(references)} references "
            f"for {len(hypotheses)} hypotheses"
        )
    if not hypotheses:
        raise ValueError("hypotheses must hold at least one example, got an empty list")
    for i, h in enumerate(hypotheses):
        if not isinstance(h, str):
            raise TypeError(f"hypotheses[{i}] must be a string, got {h!r}")
    refs: list[tuple[str, ...]] = []
    for i, r in enumerate(references):
        group = (r,) if isinstance(r, str) else tuple(r)
        if not group or not all(isinstance(x, str) for x in group):
            raise TypeError(
                f"references[{i}] must be a non-empty tuple of strings, got {r!r}"
            )
        refs.append(group)
    return refs


def translation_scores(hypotheses: list[str], references: list[tuple[str, ...]], *,
                       lowercase: bool = False) -> dict[str, float]:
    """Corpus BLEU and chrF of ``hypotheses`` against ``references``, in 0–100.

    Args:
        hypotheses: one detokenised output per example.
        references: one or more references per example (a different number per example is
            fine); a plain string counts as one reference.
        lowercase: compare case-insensitively (the usual setting for Multi30k).

    Returns:
        ``{'bleu': ..., 'chrf': ...}``.
    """
    refs = _check(hypotheses, references)
    metrics = _require("sacrebleu.metrics", "translation_scores")
    width = max(len(r) for r in refs)
    # sacrebleu takes one stream per reference position; None where an example has fewer.
    streams = [[r[k] if k < len(r) else None for r in refs] for k in range(width)]
    bleu = metrics.BLEU(lowercase=lowercase).corpus_score(list(hypotheses), streams)
    chrf = metrics.CHRF(lowercase=lowercase).corpus_score(list(hypotheses), streams)
    return {"bleu": float(bleu.score), "chrf": float(chrf.score)}


def summary_scores(hypotheses: list[str], references: list[tuple[str, ...]]
                   ) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F1 in 0–100 (Porter stemming; best reference per
    example and measure).

    Returns:
        ``{'rouge1': ..., 'rouge2': ..., 'rougeL': ...}``.
    """
    refs = _check(hypotheses, references)
    rouge_scorer = _require("rouge_score.rouge_scorer", "summary_scores")
    kinds = ("rouge1", "rouge2", "rougeL")
    scorer = rouge_scorer.RougeScorer(list(kinds), use_stemmer=True)
    totals = dict.fromkeys(kinds, 0.0)
    for hyp, group in zip(hypotheses, refs, strict=True):
        best = scorer.score_multi(list(group), hyp)
        for k in kinds:
            totals[k] += best[k].fmeasure
    return {k: 100.0 * totals[k] / len(refs) for k in kinds}


def error_rates(hypotheses: list[str], references: list[tuple[str, ...]]) -> dict[str, float]:
    """WER and PER in % (see the module docstring), comparing whitespace tokens.

    WER = 100 · #{i : tokens(hᵢ) ∉ {tokens(r) : r ∈ Rᵢ}} / N;
    PER = 100 · Σᵢ d(hᵢ, r*ᵢ) / Σᵢ |r*ᵢ|, with d the token Levenshtein distance and r*ᵢ the
    reference of example i closest to hᵢ (the longer one on a tie of distances).

    Returns:
        ``{'wer': ..., 'per': ...}``.
    """
    refs = _check(hypotheses, references)
    distance = _require("nltk.metrics.distance", "error_rates")
    wrong = 0
    edits = 0
    length = 0
    for hyp, group in zip(hypotheses, refs, strict=True):
        h = hyp.split()
        candidates = [r.split() for r in group]
        if not any(h == r for r in candidates):
            wrong += 1
        scored = [(distance.edit_distance(h, r), r) for r in candidates]
        d, r = min(scored, key=lambda s: (s[0], -len(s[1])))
        edits += d
        length += len(r)
    if length == 0:
        raise ValueError("references must hold at least one token in total, got only empty ones")
    return {"wer": 100.0 * wrong / len(refs), "per": 100.0 * edits / length}


def copy_source_baseline(sources: list[str]) -> list[str]:
    """The copy-the-source translation baseline: each output is its source."""
    if isinstance(sources, str) or not all(isinstance(s, str) for s in sources):
        raise TypeError(f"sources must be a list of strings, got {type(sources).__name__}")
    return list(sources)


def lead_baseline(sources: list[str], n_words: int) -> list[str]:
    """The lead summarisation baseline: the first ``n_words`` whitespace words of each source,
    joined by single spaces."""
    if isinstance(sources, str) or not all(isinstance(s, str) for s in sources):
        raise TypeError(f"sources must be a list of strings, got {type(sources).__name__}")
    if isinstance(n_words, bool) or not isinstance(n_words, int) or n_words < 1:
        raise ValueError(f"n_words must be an int >= 1, got {n_words!r}")
    return [" ".join(s.split()[:n_words]) for s in sources]
