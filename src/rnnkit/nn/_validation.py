"""Boundary checks shared by every layer: each names the layer, the argument, what was expected
and what arrived, and raises ``ValueError`` or ``TypeError`` (never ``assert``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def check_size(layer: str, name: str, value: object, *, allow_zero: bool = False) -> int:
    """An integer hyperparameter that must be positive (or >= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{layer}: {name} must be an int, got {type(value).__name__} {value!r}")
    low = 0 if allow_zero else 1
    if value < low:
        bound = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"{layer}: {name} must be {bound} integer, got {value}")
    return value


def check_dropout(layer: str, dropout: object) -> float:
    """Dropout probability between layers: a number in [0, 1)."""
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
        raise TypeError(f"{layer}: dropout must be a float in [0, 1), got {dropout!r}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"{layer}: dropout must be in [0, 1), got {dropout}")
    return float(dropout)


def check_choice(layer: str, name: str, value: object, allowed: Sequence[str]) -> str:
    """A string option from a fixed set."""
    if value not in allowed:
        raise ValueError(f"{layer}: {name} must be one of {list(allowed)}, got {value!r}")
    return str(value)


def check_tensor(layer: str, name: str, value: object) -> Tensor:
    """Something that must be a floating-point tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{layer}: {name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{layer}: {name} must be a floating-point tensor, got {value.dtype}")
    return value


def check_rank(layer: str, name: str, x: Tensor, batched_rank: int) -> bool:
    """Whether ``x`` is batched: rank ``batched_rank`` (batched) or one less (unbatched)."""
    if x.dim() not in (batched_rank - 1, batched_rank):
        raise ValueError(
            f"{layer}: {name} must be {batched_rank - 1}-D (unbatched) or {batched_rank}-D "
            f"(batched), got a {x.dim()}-D tensor of shape {tuple(x.shape)}"
        )
    return x.dim() == batched_rank


def input_layout(x: Tensor, batch_first: bool) -> str:
    """How a sequence input of rank 2 or 3 is read, e.g. ``batch-first (B, T, F)``."""
    if x.dim() == 2:
        return "unbatched (T, F)"
    return "batch-first (B, T, F)" if batch_first else "time-major (T, B, F)"


def check_features(
    layer: str, x: Tensor, input_size: int, layout: str | None = None, what: str = "input shape"
) -> None:
    """The last dimension of the input must be ``input_size``.

    ``x`` must be the tensor as the user passed it (before any transpose or unsqueeze), so the
    shape in the message is the one they can find in their code; ``layout`` says how it is read.
    """
    if x.shape[-1] != input_size:
        where = f"{what} {tuple(x.shape)}" + (f", {layout}" if layout else "")
        raise ValueError(
            f"{layer}: input.size(-1) must be equal to input_size={input_size}, "
            f"got {x.shape[-1]} ({where})"
        )


def check_like_parameters(layer: str, name: str, x: Tensor, reference: Tensor) -> None:
    """``x`` must share the dtype and device of the layer's parameters."""
    if x.dtype != reference.dtype:
        raise TypeError(
            f"{layer}: {name} must have the parameters' dtype {reference.dtype}, got {x.dtype} "
            f"(convert the tensor, or the layer with .to({x.dtype}))"
        )
    if x.device != reference.device:
        raise ValueError(
            f"{layer}: {name} must be on the parameters' device {reference.device}, got {x.device}"
        )


def check_shape(layer: str, name: str, x: Tensor, expected: tuple[int, ...]) -> None:
    """A state tensor of an exact shape (no broadcasting)."""
    if tuple(x.shape) != expected:
        raise ValueError(f"{layer}: {name} must have shape {expected}, got {tuple(x.shape)}")


def normalize_lengths(layer: str, lengths: object, batch: int, steps: int) -> Tensor:
    """Per-sample lengths as an int64 CPU tensor (B,), each in [1, T]."""
    if isinstance(lengths, Tensor):
        if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
            raise TypeError(f"{layer}: lengths must hold integers, got dtype {lengths.dtype}")
        if lengths.dim() != 1:
            raise ValueError(
                f"{layer}: lengths must be 1-D with one entry per sample, "
                f"got shape {tuple(lengths.shape)}"
            )
        lens = lengths.detach().to("cpu", torch.int64)
    elif isinstance(lengths, Sequence) and not isinstance(lengths, (str, bytes)):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in lengths):
            raise TypeError(f"{layer}: lengths must hold integers, got {list(lengths)!r}")
        lens = torch.tensor(list(lengths), dtype=torch.int64)
    else:
        raise TypeError(
            f"{layer}: lengths must be a 1-D integer tensor or a sequence of ints, "
            f"got {type(lengths).__name__}"
        )
    if lens.numel() != batch:
        raise ValueError(
            f"{layer}: lengths must have one entry per batch sample ({batch}), got {lens.numel()}"
        )
    bad = ((lens < 1) | (lens > steps)).nonzero()
    if bad.numel():
        i = int(bad[0, 0])
        raise ValueError(
            f"{layer}: lengths must be in [1, {steps}] (the input has {steps} steps), "
            f"got {int(lens[i])} at index {i}"
        )
    return lens


def check_flag(layer: str, name: str, value: object) -> bool:
    """A boolean option (an int 0/1 or a string would hide a typo, so only a bool passes)."""
    if not isinstance(value, bool):
        raise TypeError(f"{layer}: {name} must be True or False, got {type(value).__name__} "
                        f"{value!r}")
    return value


def check_recurrent_regularisers(
    layer: str, recurrent_dropout: object, zoneout: object, cell
) -> tuple[float, float]:
    """``recurrent_dropout`` in [0, 1) and ``zoneout`` in [0, 1], as floats.

    Recurrent dropout masks the h_{t−1} a cell's gates read, so a cell whose gates do not read
    it (``cell.recurrent_weights`` False: minGRU, minLSTM) refuses it rather than silently
    dropping its carried state instead.
    """
    values = []
    for name, value, top, interval in (("recurrent_dropout", recurrent_dropout, 1.0, "[0, 1)"),
                                       ("zoneout", zoneout, None, "[0, 1]")):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{layer}: {name} must be a float in {interval}, got "
                            f"{type(value).__name__} {value!r}")
        value = float(value)
        if not (0.0 <= value <= 1.0) or value == top:
            raise ValueError(f"{layer}: {name} must be in {interval}, got {value}")
        values.append(value)
    if values[0] and not cell.recurrent_weights:
        raise ValueError(
            f"{layer}: recurrent_dropout needs a cell whose gates read h_(t-1); the cell "
            f"{cell.name!r} has no recurrent weights, got recurrent_dropout={values[0]} "
            "(use dropout= between layers, or zoneout=)"
        )
    return values[0], values[1]
