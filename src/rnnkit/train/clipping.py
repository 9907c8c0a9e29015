"""Gradient clipping by global norm and by value, reporting the norm before clipping.

Exploding gradients are the classic failure of BPTT (Pascanu et al. 2013): the product of T
Jacobians ∂h_t/∂h_{t−1} can grow like ‖W_hh‖^T. Clipping bounds the size of one update:

* by global norm: with g the concatenation of all gradients and n = ‖g‖₂,
  g ← g · c / n when n > c (direction kept, length capped at c);
* by value: every entry g_i ← clamp(g_i, −v, v) (direction may change).

With both, value clipping runs first and the norm cap applies to its result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class ClipResult:
    """What happened to one update's gradient.

    Attributes:
        norm: global 2-norm of the gradient before any clipping (may be inf or nan).
        clipped: whether clipping changed the gradient.
    """

    norm: float
    clipped: bool


def grad_norm(grads: list[Tensor]) -> Tensor:
    """Global 2-norm ‖g‖₂ of a list of gradients, a 0-dim tensor (0 for an empty list)."""
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


def clip_gradients(
    parameters: Iterable[torch.nn.Parameter],
    *,
    max_norm: float | None = None,
    max_value: float | None = None,
) -> ClipResult:
    """Clip the ``.grad`` of ``parameters`` in place; return the norm before and whether it bit.

    Non-finite gradients are left alone (the divergence guard reports them; scaling by inf/nan
    would only hide which step went wrong).

    Args:
        parameters: parameters whose ``.grad`` to clip (those without one are skipped).
        max_norm: c > 0, the largest global 2-norm allowed, or None.
        max_value: v > 0, the largest absolute entry allowed, or None.
    """
    for name, value in (("max_norm", max_norm), ("max_value", max_value)):
        if value is not None and not value > 0:
            raise ValueError(f"clip_gradients: {name} must be None or > 0, got {value!r}")
    grads = [p.grad for p in parameters if p.grad is not None]
    norm = grad_norm(grads)
    norm_value = float(norm)
    if not torch.isfinite(norm):
        return ClipResult(norm_value, False)
    clipped = False
    if max_value is not None and grads:
        biggest = max((float(g.abs().max()) for g in grads if g.numel()), default=0.0)
        if biggest > max_value:
            for g in grads:
                g.clamp_(-max_value, max_value)
            clipped = True
            norm = grad_norm(grads)
    if max_norm is not None and float(norm) > max_norm:
        # The 1e-6 keeps the result at or below max_norm despite rounding, as torch does.
        scale = max_norm / (float(norm) + 1e-6)
        for g in grads:
            g.mul_(scale)
        clipped = True
    return ClipResult(norm_value, clipped)
