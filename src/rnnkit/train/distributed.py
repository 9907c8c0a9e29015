"""Data-parallel training with ``torch.distributed`` and DDP, launched by ``torchrun``.

Launch the same script once per process; torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``::

    torchrun --standalone --nproc_per_node=2 examples/adding_problem.py   # CPU: gloo
    torchrun --standalone --nproc_per_node=4 train.py --device cuda       # GPUs: nccl

In the script, call :func:`init_distributed` before building the :class:`rnnkit.train.Trainer`
(which finds the process group by itself). What the engine then does:

* the model is wrapped in ``DistributedDataParallel``, which averages gradients over processes
  during ``backward`` — with equal per-process batches, one update equals one single-process
  update on the combined batch;
* every loader is ``shard(rank, world_size)``-ed: each process sees its own part of every batch
  (``batch_size`` is per process);
* losses and metrics are summed over processes before dividing, so every process logs the same
  exact values, and the divergence guard decides the same way on all of them;
* only rank 0 writes checkpoints, history and plots, and shows a progress bar.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in a data-parallel run (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints (rank 0)."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Whether a process group with more than one process is active."""
        return self.world_size > 1


def current_context() -> DistributedContext:
    """The context of the active process group, or a single-process one when there is none."""
    if dist.is_available() and dist.is_initialized():
        return DistributedContext(
            rank=dist.get_rank(),
            world_size=dist.get_world_size(),
            local_rank=int(os.environ.get("LOCAL_RANK", "0")),
            backend=str(dist.get_backend()),
        )
    return DistributedContext()


def init_distributed(backend: str | None = None, *, timeout_s: float = 300.0) -> DistributedContext:
    """Join the process group that torchrun describes in the environment.

    Without torchrun's variables (``WORLD_SIZE`` unset) nothing happens and a single-process
    context is returned, so one script serves both ``python train.py`` and
    ``torchrun ... train.py``.

    Args:
        backend: 'gloo' (CPU) or 'nccl' (GPU); default nccl when CUDA is available, else gloo.
        timeout_s: how long collective operations wait for the other processes.
    """
    if dist.is_available() and dist.is_initialized():
        return current_context()
    if "WORLD_SIZE" not in os.environ:
        return DistributedContext()
    if not dist.is_available():
        raise RuntimeError(
            "init_distributed: WORLD_SIZE is set but this torch build has no torch.distributed"
        )
    for var in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        if var not in os.environ:
            raise RuntimeError(
                f"init_distributed: WORLD_SIZE is set but {var} is not; launch with torchrun "
                "(or set RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT yourself)"
            )
    chosen = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if chosen not in ("gloo", "nccl"):
        raise ValueError(f"init_distributed: backend must be 'gloo' or 'nccl', got {chosen!r}")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if chosen == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=chosen, timeout=timedelta(seconds=timeout_s))
    return current_context()


def shutdown_distributed() -> None:
    """Leave the process group (call once at the end of a torchrun script).

    Waits for every process first, so that none tears its connections down while rank 0 is
    still writing files or plotting.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


#: The device forms training accepts ('cuda:N' is GPU N, 'mps' Apple's GPU).
DEVICE_FORMS = "'cpu', 'cuda', 'cuda:N' (GPU number N) or 'mps'"
_DEVICE_TYPES = ("cpu", "cuda", "mps")


def _cuda_absent_reason() -> str:
    """Why this torch sees no CUDA GPU, in words."""
    if torch.version.cuda is None:
        return f"this torch ({torch.__version__}) was built without CUDA"
    return (f"this torch ({torch.__version__}, CUDA {torch.version.cuda}) finds no usable GPU "
            "(no driver, no device, or CUDA_VISIBLE_DEVICES hides them)")


def device_problem(device: object) -> str | None:
    """What is wrong with a training ``device`` string on this machine, or None.

    Checked when a :class:`~rnnkit.train.TrainConfig` is made, before any data is read: the
    form ('cpu', 'cuda', 'cuda:N', 'mps'), then whether this machine has that device.
    """
    if not isinstance(device, str) or not device.strip():
        return f"device must be {DEVICE_FORMS}, got {device!r}"
    try:
        chosen = torch.device(device)
    except (RuntimeError, ValueError):
        chosen = None
    if chosen is None or chosen.type not in _DEVICE_TYPES:
        from rnnkit.core.suggest import did_you_mean

        return (f"device must be {DEVICE_FORMS}, got {device!r}"
                f"{did_you_mean(device.split(':')[0], _DEVICE_TYPES)}")
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            return (f"device must be a device this machine has, got {device!r}, but CUDA is not "
                    f"available: {_cuda_absent_reason()}; use device='cpu' (--device cpu)")
        count = torch.cuda.device_count()
        if chosen.index is not None and chosen.index >= count:
            return (f"device must be a GPU of this machine, 'cuda:0' to 'cuda:{count - 1}' "
                    f"({count} GPU(s) visible), got {device!r}")
    if chosen.type == "mps" and not torch.backends.mps.is_available():
        return (f"device must be a device this machine has, got {device!r}, but Apple's MPS "
                "backend is not available; use device='cpu' (--device cpu)")
    return None


def resolve_device(device: str, ctx: DistributedContext) -> torch.device:
    """The device of this process: 'cuda' means this process's GPU (``cuda:LOCAL_RANK``).

    Raises ``ValueError`` (see :func:`device_problem`) for a device this machine does not have.
    """
    problem = device_problem(device)
    if problem is not None:
        raise ValueError(f"Trainer: {problem}")
    chosen = torch.device(device)
    if chosen.type == "cuda" and chosen.index is None:
        return torch.device("cuda", ctx.local_rank if ctx.enabled else torch.cuda.current_device())
    return chosen


def wrap_model(model: nn.Module, ctx: DistributedContext, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` in a multi-process run; the model itself otherwise."""
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        return DistributedDataParallel(model, device_ids=[device.index],
                                       output_device=device.index)
    return DistributedDataParallel(model)


def all_reduce_sum(values: list[float], ctx: DistributedContext,
                   device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over all processes (returned unchanged in one process).

    Every process must call it with a list of the same length, at the same point of the run.
    """
    if not ctx.enabled or not values:
        return list(values)
    # nccl only reduces GPU tensors; float64 keeps sums of many float32 losses exact enough.
    where = device if ctx.backend == "nccl" else torch.device("cpu")
    packed = torch.tensor(values, dtype=torch.float64, device=where)
    dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    return packed.tolist()
