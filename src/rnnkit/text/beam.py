r"""Decoding a conditional model token by token: greedy, batched beam search, sampling.

Shape legend: B sources, K beams, N = B·K rows decoded side by side, V vocabulary, S source
steps, t tokens produced so far.

Any model with three methods can be decoded here (:class:`rnnkit.models.Seq2Seq` has them):

``step(previous (N,), state, context) -> (log_probs (N, V), state, attention (N, S) or None)``
    the log-probabilities of the next token given the previous one and the state;
``reorder_state(state, index (N',)) -> state``
    the rows ``index`` of a state (to follow the beams that survive a step);
``start(context) -> state``
    the state before the first token;
``context.select(index)``
    the rows ``index`` of what the encoder left (each source repeated K times once, at the
    start).

The padding id and ``<bos>`` are never produced.

Beam search keeps the K best partial hypotheses of each source by their summed
log-probability log P(y_{1..t}) = Σ_i log p(y_i | y_{<i}, x). Each step expands every beam by
every token, keeps the 2K best continuations, moves those that end with ``<eos>`` to the
finished list and continues the best K others. A source is done when K hypotheses have
finished, or at its maximum length ``ceil(max_ratio · S_b) + max_extra`` (then the live beams
count as finished without ``<eos>``). Finished hypotheses are ranked by (Wu et al. 2016, GNMT)

    score(Y) = log P(Y | X) / lp(Y) + cp(X; Y),  lp(Y) = ((5 + |Y|) / 6)^α,
    cp(X; Y) = β Σ_s log(min(Σ_t a_{t,s}, 1)),

α the length normalisation, β the coverage penalty (a_{t,s} the attention weights; 0 for
both: the plain log-probability). Every :class:`Hypothesis` keeps its exact log-probability
beside its score. ``no_repeat_ngram = n`` forbids a token that would repeat an n-gram already
in the hypothesis. With K = 1 beam search is greedy decoding (tested).

Sampling draws each next token with :func:`rnnkit.text.decoding.sample_next` (temperature,
top-k, top-p), seeded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from rnnkit.text.decoding import Sampler


@dataclass
class Hypothesis:
    """One decoded sequence.

    Attributes:
        tokens: the ids produced (``<eos>`` included when it ended with it; never ``<bos>``).
        log_prob: log P(tokens | source), the exact sum of the step log-probabilities.
        score: what beam search ranked it by (log_prob with α = β = 0).
        finished: whether it ended with ``<eos>`` (False: cut at the maximum length).
        attention: (len(tokens), S) the attention weights of each step (empty when the model
            returns none).
    """

    tokens: list[int]
    log_prob: float
    score: float
    finished: bool
    attention: Tensor = field(repr=False, default_factory=lambda: torch.zeros(0, 0))


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def _check_number(name: str, value: object, low: float = 0.0, open_low: bool = False) -> float:
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
    if bad or value < low or (open_low and value == low):
        relation = ">" if open_low else ">="
        raise ValueError(f"{name} must be a finite number {relation} {low}, got {value!r}")
    return float(value)


def max_lengths(source_lengths: Tensor, max_ratio: float, max_extra: int) -> list[int]:
    """``ceil(max_ratio · S_b) + max_extra`` tokens at most for each source (B,)."""
    _check_number("max_ratio", max_ratio, 0.0, open_low=True)
    _check_int("max_extra", max_extra, 0)
    return [max(1, math.ceil(max_ratio * int(s)) + max_extra) for s in source_lengths.tolist()]


def length_penalty(length: int, alpha: float) -> float:
    """lp = ((5 + length) / 6)^α (GNMT); 1 for α = 0."""
    return ((5.0 + length) / 6.0) ** alpha if alpha else 1.0


def coverage_penalty(attention: Tensor, beta: float) -> float:
    """cp = β Σ_s log(min(Σ_t a_{t,s}, 1)) of (t, S) weights; 0 for β = 0 or no attention."""
    if not beta or attention.numel() == 0:
        return 0.0
    covered = attention.sum(0).clamp(min=1e-10, max=1.0)  # (S,)
    return beta * float(covered.log().sum())


def banned_tokens(history: list[int], n: int) -> set[int]:
    """Tokens that would complete an n-gram already in ``history`` (n >= 1)."""
    if n < 1 or len(history) < n - 1:
        return set()
    if n == 1:
        return set(history)
    prefix = tuple(history[len(history) - n + 1:])
    return {history[i + n - 1] for i in range(len(history) - n + 1)
            if tuple(history[i:i + n - 1]) == prefix}


def _block(log_probs: Tensor, histories: list[list[int]], n: int, never: list[int]) -> Tensor:
    """-inf for the ids in ``never`` and for tokens that repeat an n-gram (no renormalising:
    the tokens kept keep their model log-probabilities, so hypothesis scores stay exact)."""
    log_probs[:, never] = float("-inf")
    if not n:
        return log_probs
    for row, history in enumerate(histories):
        banned = banned_tokens(history, n)
        if banned:
            log_probs[row, list(banned)] = float("-inf")
    return log_probs


def _attention_rows(attention: Tensor | None, rows: int) -> Tensor:
    """(N, S) weights, or (N, 0) for a model without attention."""
    return attention if attention is not None else torch.zeros(rows, 0)


@torch.no_grad()
def beam_search(
    model: Any,
    context: Any,
    source_lengths: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    beam_size: int = 5,
    max_ratio: float = 2.0,
    max_extra: int = 5,
    alpha: float = 0.0,
    beta: float = 0.0,
    no_repeat_ngram: int = 0,
    n_best: int = 1,
    pad_id: int = 0,
) -> list[list[Hypothesis]]:
    """The ``n_best`` best hypotheses of each of the B sources, best first (see the module
    docstring).

    Args:
        model: has ``step`` and ``reorder_state`` (e.g. :class:`rnnkit.models.Seq2Seq`).
        context: the encoder's result for the B sources (``model.encode(...)``).
        source_lengths: (B,) real source steps (for the maximum lengths).
        bos_id, eos_id: start and end tokens.
        beam_size: K (1: greedy).
        max_ratio, max_extra: the maximum length ``ceil(max_ratio · S_b) + max_extra``.
        alpha: α of the length normalisation (0: none; GNMT uses 0.6–0.7).
        beta: β of the coverage penalty (0: none).
        no_repeat_ngram: n > 0 forbids repeating an n-gram (0: off).
        n_best: hypotheses returned per source (<= beam_size).
        pad_id: the padding id; it and ``bos_id`` are never produced.
    """
    K = _check_int("beam_size", beam_size, 1)
    _check_int("n_best", n_best, 1)
    if n_best > K:
        raise ValueError(f"n_best must be at most beam_size ({K}), got {n_best}")
    _check_number("alpha", alpha)
    _check_number("beta", beta)
    _check_int("no_repeat_ngram", no_repeat_ngram, 0)
    limits = max_lengths(source_lengths, max_ratio, max_extra)
    sizes = source_lengths.tolist()
    B = len(limits)
    rows = torch.arange(B).repeat_interleave(K)  # (N,) each source K times
    context = context.select(rows)
    state = model.start(context)
    N = B * K
    cum = torch.full((B, K), float("-inf"))
    cum[:, 0] = 0.0  # one live beam per source at the start: no duplicate hypotheses
    histories: list[list[int]] = [[] for _ in range(N)]
    attentions: list[list[Tensor]] = [[] for _ in range(N)]
    previous = torch.full((N,), bos_id, dtype=torch.int64)
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    done = [False] * B

    def finish(b: int, row: int, log_prob: float, tokens: list[int], ended: bool,
               attn: list[Tensor]) -> None:
        weights = (torch.stack(attn)[:, :sizes[b]] if attn and attn[0].numel()
                   else torch.zeros(len(tokens), 0))  # (t, S_b): the real source positions
        score = log_prob / length_penalty(len(tokens), alpha) + coverage_penalty(weights, beta)
        finished[b].append(Hypothesis(tokens, log_prob, score, ended, weights))

    step = 0
    while not all(done):
        log_probs, state, attention = model.step(previous, state, context)
        log_probs = _block(log_probs.float().clone(), histories, no_repeat_ngram,
                           [pad_id, bos_id])
        V = log_probs.shape[-1]
        attention = _attention_rows(attention, N)
        candidates = (cum.view(N, 1) + log_probs).view(B, K * V)
        top, flat = candidates.topk(min(2 * K, K * V), dim=1)  # (B, 2K)
        new_index = torch.arange(N)  # rows to continue from (default: themselves)
        new_cum = torch.full((B, K), float("-inf"))
        new_tokens = torch.full((N,), eos_id, dtype=torch.int64)
        new_histories: list[list[int]] = [[] for _ in range(N)]
        new_attentions: list[list[Tensor]] = [[] for _ in range(N)]
        step += 1
        for b in range(B):
            if done[b]:
                continue
            live = 0
            for rank, (value, pos) in enumerate(zip(top[b].tolist(), flat[b].tolist(),
                                                    strict=True)):
                if value == float("-inf"):
                    break
                row = b * K + pos // V
                token = pos % V
                tokens = histories[row] + [token]
                attn = attentions[row] + [attention[row]]
                if token == eos_id:
                    # Only an <eos> among the K best continuations ends a hypothesis (so that
                    # K = 1 is exactly greedy decoding).
                    if rank < K and len(finished[b]) < K:
                        finish(b, row, value, tokens, True, attn)
                    continue
                if live < K:
                    target = b * K + live
                    new_index[target] = row
                    new_cum[b, live] = value
                    new_tokens[target] = token
                    new_histories[target] = tokens
                    new_attentions[target] = attn
                    live += 1
            if len(finished[b]) >= K or live == 0:
                done[b] = True
            elif step >= limits[b]:
                for j in range(live):  # cut at the maximum length: finished without <eos>
                    target = b * K + j
                    finish(b, target, float(new_cum[b, j]), new_histories[target], False,
                           new_attentions[target])
                done[b] = True
        state = model.reorder_state(state, new_index)
        cum, previous = new_cum, new_tokens
        histories, attentions = new_histories, new_attentions
    out = []
    for b in range(B):
        ranked = sorted(finished[b], key=lambda h: h.score, reverse=True)
        out.append(ranked[:n_best])
    return out


@torch.no_grad()
def greedy_search(
    model: Any,
    context: Any,
    source_lengths: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    max_ratio: float = 2.0,
    max_extra: int = 5,
    no_repeat_ngram: int = 0,
    sampler: Callable[[Tensor], Tensor] | Sampler | None = None,
    pad_id: int = 0,
) -> list[Hypothesis]:
    """One hypothesis per source: the most likely next token at each step (``sampler`` None),
    or one drawn by ``sampler`` (e.g. :class:`rnnkit.text.Sampler` with temperature, top-k,
    top-p, seed). ``score`` is the log-probability under the model. ``pad_id`` and ``bos_id``
    are never produced."""
    _check_int("no_repeat_ngram", no_repeat_ngram, 0)
    limits = max_lengths(source_lengths, max_ratio, max_extra)
    sizes = source_lengths.tolist()
    B = len(limits)
    state = model.start(context)
    previous = torch.full((B,), bos_id, dtype=torch.int64)
    histories: list[list[int]] = [[] for _ in range(B)]
    attentions: list[list[Tensor]] = [[] for _ in range(B)]
    totals = [0.0] * B
    ended = [False] * B
    active = [True] * B
    step = 0
    while any(active):
        log_probs, state, attention = model.step(previous, state, context)
        log_probs = _block(log_probs.float().clone(), histories, no_repeat_ngram,
                           [pad_id, bos_id])
        attention = _attention_rows(attention, B)
        chosen = log_probs.argmax(-1) if sampler is None else sampler(log_probs)
        step += 1
        for b in range(B):
            if not active[b]:
                continue
            token = int(chosen[b])
            histories[b].append(token)
            attentions[b].append(attention[b])
            totals[b] += float(log_probs[b, token])
            if token == eos_id:
                ended[b], active[b] = True, False
            elif step >= limits[b]:
                active[b] = False
        previous = chosen.to(torch.int64)
    out = []
    for b in range(B):
        attn = attentions[b]
        weights = (torch.stack(attn)[:, :sizes[b]] if attn and attn[0].numel()
                   else torch.zeros(len(attn), 0))
        out.append(Hypothesis(histories[b], totals[b], totals[b], ended[b], weights))
    return out


__all__ = ["Hypothesis", "banned_tokens", "beam_search", "coverage_penalty", "greedy_search",
           "length_penalty", "max_lengths"]
