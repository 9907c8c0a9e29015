"""Build a model only when it fits: its size is measured without allocating it, and an
allocation failure becomes a :class:`ModelTooLargeError` that says how much memory is needed
and which option to lower.

``rnnkit train --hidden-size 100000`` asks for an LSTM whose ``weight_hh`` alone is
400000 × 100000 floats (160 GB): torch's allocator then fails with a traceback, or the operating
system kills the process while the weights are initialised. :func:`build_model_within_memory`
first builds the model on torch's ``meta`` device (shapes only, no memory), counts parameters ×
bytes, compares what training needs with the memory this machine has available, and only then
builds it for real.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from rnnkit.errors import RNNKitError
from rnnkit.train.seeding import rng_state, set_rng_state

#: Copies of every parameter a training step keeps: weights, gradients and optimiser state
#: (adam and adamw keep two moments; sgd its momentum buffer and rmsprop its square average,
#: as with TrainConfig's defaults).
OPTIMIZER_COPIES = {"adam": 4, "adamw": 4, "sgd": 3, "rmsprop": 3}

_GB = 1024**3


class ModelTooLargeError(RNNKitError, MemoryError):
    """The model's parameters do not fit in the memory this machine has (message: how much
    they need, how much there is, and which option to lower).

    Attributes:
        parameters: the model's parameter count (None when it could not be measured).
        needed_bytes: memory its training needs (weights, gradients and optimiser state).
        available_bytes: memory available on the device, or None when unknown.
    """

    def __init__(self, message: str, *, parameters: int | None, needed_bytes: int | None,
                 available_bytes: int | None) -> None:
        super().__init__(message)
        self.parameters = parameters
        self.needed_bytes = needed_bytes
        self.available_bytes = available_bytes


@dataclass(frozen=True)
class ModelSize:
    """Parameters of a model, counted without allocating them.

    Attributes:
        parameters: number of parameter elements.
        bytes: parameters × bytes per element (summed over dtypes).
        largest: (name, shape) of the largest parameter tensor, or None for a parameterless model.
    """

    parameters: int
    bytes: int
    largest: tuple[str, tuple[int, ...]] | None

    def describe(self, copies: int) -> str:
        """'4.0e+10 parameters × 4 bytes = 149.0 GiB; training keeps 4 copies: 596.0 GiB'."""
        per = self.bytes / self.parameters if self.parameters else 0
        per_text = f"{per:g} bytes" if per == int(per) else f"{per:.2f} bytes on average"
        text = (f"{self.parameters:,} parameters × {per_text} = {_gib(self.bytes)}; training "
                f"keeps {copies} copies (weights, gradients, optimiser state): "
                f"{_gib(self.bytes * copies)}")
        if self.largest is not None:
            name, shape = self.largest
            text += f"; the largest tensor is {name} {tuple(shape)}"
        return text


def _gib(n: float) -> str:
    return f"{n / _GB:.1f} GiB"


def model_size(model: nn.Module) -> ModelSize:
    """Parameter count and bytes of ``model`` (works on ``meta`` tensors: nothing is read)."""
    count = size = 0
    largest: tuple[str, tuple[int, ...]] | None = None
    biggest = -1
    for name, p in model.named_parameters():
        n = p.numel()
        count += n
        size += n * p.element_size()
        if n > biggest:
            biggest, largest = n, (name, tuple(p.shape))
    return ModelSize(count, size, largest)


def measure(build: Callable[[], nn.Module]) -> ModelSize | None:
    """Build the model on the ``meta`` device and count it; None if the build cannot run there.

    The random generators are restored afterwards, so the real build that follows draws the
    same initial weights as a build without this measurement.
    """
    saved = rng_state()
    try:
        with torch.device("meta"):
            return model_size(build())
    except Exception:  # a model that reads tensor values while being built cannot be measured
        return None
    finally:
        set_rng_state(saved)


def available_memory(device: torch.device | str = "cpu") -> int | None:
    """Bytes of memory available for new allocations on ``device``, or None when unknown.

    CPU: ``MemAvailable`` of ``/proc/meminfo`` (what Linux can hand out without swapping), or
    the free physical pages elsewhere. CUDA: the free memory of that GPU.
    """
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return None
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the file counts in kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def options_to_lower(size: ModelSize | None) -> str:
    """The options that shrink the largest tensor: the embedding's for an embedding table,
    else the recurrent layers' (every task has --hidden-size and --num-layers)."""
    name = "" if size is None or size.largest is None else size.largest[0]
    if "embedding" in name.rsplit(".", 1)[0].lower():
        return "--embedding-dim (or the vocabulary size: --min-freq, --max-vocab)"
    return "--hidden-size (the recurrent weights grow with its square) or --num-layers"


def _too_large(size: ModelSize | None, copies: int, cause: str, lower: str,
               available: int | None) -> ModelTooLargeError:
    need = ("its size could not be measured beforehand" if size is None
            else size.describe(copies))
    return ModelTooLargeError(
        f"The model does not fit in memory: {cause} ({need}). Lower {lower}.",
        parameters=None if size is None else size.parameters,
        needed_bytes=None if size is None else size.bytes * copies,
        available_bytes=available,
    )


def _is_allocation_failure(err: BaseException) -> bool:
    if isinstance(err, MemoryError):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and (
        "out of memory" in text or "can't allocate" in text or "cannot allocate" in text
        or "not enough memory" in text
    )


def build_model_within_memory(
    build: Callable[[], nn.Module],
    *,
    optimizer: str = "adam",
    device: torch.device | str = "cpu",
    lower: str | None = None,
) -> nn.Module:
    """``build()``, after checking that the model's training fits in memory.

    Args:
        build: makes the model (e.g. ``lambda: task.build_model(prepared)``); it may be called
            twice, once on the ``meta`` device to measure it without allocating anything.
        optimizer: the ``TrainConfig.optimizer`` name; sets how many copies of each parameter
            training keeps (:data:`OPTIMIZER_COPIES`).
        device: the training device; its available memory is checked too (the model is built
            on the CPU and then moved there).
        lower: the options named in the message as the ones to lower; by default they are
            read from the largest tensor (:func:`options_to_lower`).

    Raises:
        ModelTooLargeError: the weights, gradients and optimiser state need more memory than
            the CPU (or the training device) has available, or the real build failed to
            allocate.
    """
    copies = OPTIMIZER_COPIES.get(optimizer, 4)
    size = measure(build)
    if lower is None:
        lower = options_to_lower(size)
    if size is not None:
        device = torch.device(device)
        places = [torch.device("cpu")] + ([device] if device.type != "cpu" else [])
        for place in places:
            # The CPU holds only the weights while they are built; the training device
            # holds weights, gradients and optimiser state.
            need = size.bytes * (copies if place == places[-1] else 1)
            available = available_memory(place)
            if available is not None and need > available:
                what = "training it" if place == places[-1] else "building it"
                cause = (f"{what} needs {_gib(need)} on {place}, and this machine has "
                         f"{_gib(available)} available there")
                raise _too_large(size, copies, cause, lower, available)
    try:
        return build()
    except (MemoryError, RuntimeError) as err:
        if not _is_allocation_failure(err):
            raise
        cause = f"allocating its weights failed ({type(err).__name__}: {str(err)[:160]})"
        raise _too_large(size, copies, cause, lower, available_memory("cpu")) from err
