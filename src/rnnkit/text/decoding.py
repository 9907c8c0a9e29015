"""Choosing the next token from a model's scores: greedy, temperature, top-k, top-p (nucleus).

Shape legend: B batch, V vocabulary.

Given logits z (B, V) for the next token, sampling at temperature τ draws from
``softmax(z / τ)`` after two optional filters:

* top-k keeps the k largest logits of each row;
* top-p keeps the smallest set of most likely tokens whose probability sums to at least p
  (Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration"); the most likely
  token is always kept.

τ = 0 is greedy decoding (the arg-max; ties go to the lowest id). A :class:`Sampler` owns a
seeded ``torch.Generator``: the same seed, model and prompt give the same text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor


def _check(temperature: float, top_k: int | None, top_p: float | None) -> None:
    if (isinstance(temperature, bool) or not isinstance(temperature, (int, float))
            or not math.isfinite(temperature) or temperature < 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                              or top_k < 1):
        raise ValueError(f"top_k must be None or an int >= 1, got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float))
                              or not 0 < top_p <= 1):
        raise ValueError(f"top_p must be None or a number in (0, 1], got {top_p!r}")


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """``logits`` (B, V) with the tokens outside top-k / top-p set to −inf (a new tensor)."""
    out = logits.clone()
    if top_k is not None and top_k < out.shape[-1]:
        kth = torch.topk(out, top_k, dim=-1).values[..., -1:]  # (B, 1)
        out = out.masked_fill(out < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(out, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        # Drop a token when the tokens before it already reach p: the first is always kept.
        before = torch.cumsum(probs, dim=-1) - probs
        drop_sorted = before >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        out = out.masked_fill(drop, float("-inf"))
    return out


def sample_next(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The next token id of each row of ``logits`` (B, V) or (V,): (B,) or a 0-d tensor."""
    _check(temperature, top_k, top_p)
    if (not isinstance(logits, Tensor) or logits.dim() not in (1, 2)
            or not logits.is_floating_point()):
        raise ValueError(
            "logits must be a float tensor of shape (B, V) or (V,), got "
            + (f"{logits.dtype} {tuple(logits.shape)}" if isinstance(logits, Tensor)
               else type(logits).__name__)
        )
    single = logits.dim() == 1
    z = logits.detach().float().reshape(-1, logits.shape[-1])  # (B, V)
    if temperature == 0:
        ids = z.argmax(dim=-1)
    else:
        z = filter_logits(z / temperature, top_k, top_p)
        probs = torch.softmax(z, dim=-1)
        ids = torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)
    return ids[0] if single else ids


@dataclass
class Sampler:
    """A seeded sampling rule: ``sampler(logits)`` -> next ids (see :func:`sample_next`).

    Args:
        temperature: τ; 0 is greedy.
        top_k: keep the k most likely tokens (None: all).
        top_p: keep the nucleus of probability p (None or 1: all).
        seed: seeds the sampler's own generator (None: drawn from torch's global one), so
            sampling never disturbs, nor depends on, the global random state when given.
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    generator: torch.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _check(self.temperature, self.top_k, self.top_p)
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or self.seed < 0):
            raise ValueError(f"seed must be None or an int >= 0, got {self.seed!r}")
        self.generator = torch.Generator()
        if self.seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(self.seed)

    def __call__(self, logits: Tensor) -> Tensor:
        return sample_next(logits, temperature=self.temperature, top_k=self.top_k,
                           top_p=self.top_p, generator=self.generator)
