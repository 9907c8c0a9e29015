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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from rnnkit.errors import RNNKitError


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


#: Environment variable: seconds a collective operation waits for the other processes before
#: it fails (default :data:`DEFAULT_TIMEOUT_S`). A lost process then ends the run with an
#: error instead of leaving the survivors waiting for ever.
TIMEOUT_ENV = "RNNKIT_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 300.0


def _timeout_from_env() -> float:
    text = os.environ.get(TIMEOUT_ENV)
    if text is None or not text.strip():
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{TIMEOUT_ENV} must be a positive number of seconds, got {text!r}")
    return seconds


def launched_rank() -> int:
    """This process's rank: the process group's, else torchrun's ``RANK`` variable, else 0.

    Lets code that runs before :func:`init_distributed` (checking a run name) or after
    :func:`shutdown_distributed` (writing the summary) know whether it is rank 0.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    try:
        return int(os.environ.get("RANK", "0")) if "WORLD_SIZE" in os.environ else 0
    except ValueError:
        return 0


def init_distributed(backend: str | None = None, *,
                     timeout_s: float | None = None) -> DistributedContext:
    """Join the process group that torchrun describes in the environment.

    Without torchrun's variables (``WORLD_SIZE`` unset) nothing happens and a single-process
    context is returned, so one script serves both ``python train.py`` and
    ``torchrun ... train.py``.

    Args:
        backend: 'gloo' (CPU) or 'nccl' (GPU); default nccl when CUDA is available, else gloo.
        timeout_s: how long collective operations wait for the other processes (default:
            the ``RNNKIT_DIST_TIMEOUT`` variable, else 300 s).
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
    seconds = _timeout_from_env() if timeout_s is None else float(timeout_s)
    dist.init_process_group(backend=chosen, timeout=timedelta(seconds=seconds))
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
    """``DistributedDataParallel(model)`` in a multi-process run; the model itself otherwise.

    Modules with a ``sync_batch_stats`` attribute (e.g. the classifier's masked batch norm)
    get it set to True, so that their training statistics span every process.
    """
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    # Batch statistics must be those of the global batch, or N processes do not make the
    # update of one: modules that offer it sum theirs over the processes; torch's BatchNorm
    # becomes SyncBatchNorm where torch supports it (GPUs).
    for module in model.modules():
        if hasattr(module, "sync_batch_stats"):
            module.sync_batch_stats = True
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)

    if device.type == "cuda":
        return DistributedDataParallel(model, device_ids=[device.index],
                                       output_device=device.index)
    return DistributedDataParallel(model)


def all_reduce_sum(values: list[float], ctx: DistributedContext,
                   device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over all processes (returned unchanged in one process).

    Every process must call it with a list of the same length, at the same point of the run.
    """
    return _all_reduce(values, ctx, device, dist.ReduceOp.SUM)


def all_reduce_max(values: list[float], ctx: DistributedContext,
                   device: torch.device) -> list[float]:
    """Element-wise maximum of ``values`` over all processes (unchanged in one process)."""
    return _all_reduce(values, ctx, device, dist.ReduceOp.MAX)


def _all_reduce(values: list[float], ctx: DistributedContext, device: torch.device,
                op: dist.ReduceOp) -> list[float]:
    if not ctx.enabled or not values:
        return list(values)
    # nccl only reduces GPU tensors; float64 keeps sums of many float32 losses exact enough.
    where = device if ctx.backend == "nccl" else torch.device("cpu")
    packed = torch.tensor(values, dtype=torch.float64, device=where)
    dist.all_reduce(packed, op=op)
    return packed.tolist()


# --- what the task pipeline shares between ranks ---------------------------------------------
# Text travels as UTF-8 bytes in a uint8 tensor (length first), never as a pickle: the
# object collectives of torch.distributed unpickle what another process sends.


def _carrier(ctx: DistributedContext) -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if ctx.backend == "nccl" \
        else torch.device("cpu")


def broadcast_text(text: str | None, ctx: DistributedContext) -> str:
    """Rank 0's ``text``, on every rank (other ranks pass None); unchanged in one process."""
    if not ctx.enabled:
        return text or ""
    where = _carrier(ctx)
    data = (text or "").encode("utf-8") if ctx.is_main else b""
    size = torch.tensor([len(data)], dtype=torch.int64, device=where)
    dist.broadcast(size, src=0)
    payload = torch.zeros(int(size.item()), dtype=torch.uint8, device=where)
    if ctx.is_main and data:
        payload.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    if payload.numel():
        dist.broadcast(payload, src=0)
    return payload.cpu().numpy().tobytes().decode("utf-8")


class RankZeroFailed(RNNKitError, RuntimeError):
    """What the other ranks raise when rank 0 failed at a step they waited for; rank 0 raises
    (and prints) the error itself."""


class PeerLost(RNNKitError, RuntimeError):
    """A collective operation failed because another process of the run is gone (it failed,
    was killed, or did not answer within the process group's timeout)."""


def peer_lost(err: BaseException, ctx: DistributedContext, run_dir: object = None,
              resume: str = "") -> PeerLost | None:
    """``err`` as a :class:`PeerLost` with what to do next, if it is a failed collective
    operation of a multi-process run (gloo's and nccl's errors); None otherwise."""
    if not ctx.enabled or isinstance(err, (PeerLost, RankZeroFailed)):
        return None
    text = str(err)
    collective = isinstance(err, getattr(dist, "DistError", ())) or (
        isinstance(err, RuntimeError)
        and any(mark in text for mark in ("gloo", "NCCL", "nccl", "Connection reset",
                                          "Connection closed", "Timed out"))
    )
    if not collective:
        return None
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    where = (f"; the run directory {run_dir} is kept: continue it with rnnkit train --resume "
             f"{run_dir}{resume}") if run_dir is not None else ""
    return PeerLost(
        f"distributed run: rank {ctx.rank} of {ctx.world_size} lost contact with another "
        f"process, which failed or was killed (its own message says why; torchrun stops "
        f"the others){where}. The collective operation reported: {first}"
    )


def on_main(action: Callable[[], str], ctx: DistributedContext, what: str) -> str:
    """``action()`` on rank 0 only; its text result on every rank.

    If it raises on rank 0, the other ranks raise :class:`RankZeroFailed` (naming ``what``)
    instead of waiting for a result that will never come, and rank 0 re-raises the error.
    """
    if not ctx.enabled:
        return action()
    failure: BaseException | None = None
    result = ""
    if ctx.is_main:
        try:
            result = action()
        except BaseException as err:
            failure = err
    # A leading NUL marks a failure: no path or text the action returns starts with one.
    shared = broadcast_text("\0" + type(failure).__name__ if failure else result, ctx)
    if failure is not None:
        raise failure
    if shared.startswith("\0"):
        raise RankZeroFailed(f"rank 0 failed while it was {what} ({shared[1:]}); "
                             "its own message says why")
    return shared


def check_agreement(fingerprint: str, ctx: DistributedContext, what: str) -> None:
    """Refuse to go on unless every rank computed the same ``fingerprint`` (a digest of what
    must be identical everywhere, e.g. the fitted preprocessing).

    Raises:
        RuntimeError: naming ``what`` and the ranks that differ from rank 0.
    """
    if not ctx.enabled:
        return
    mine = broadcast_text(fingerprint if ctx.is_main else None, ctx)
    differs = all_reduce_sum([float(mine != fingerprint)], ctx, _carrier(ctx))[0]
    if differs:
        raise RuntimeError(
            f"distributed run: {what} differs between ranks ({int(differs)} of "
            f"{ctx.world_size} rank(s) differ from rank 0); every rank must read the same data "
            "with the same options (same files at the same paths on every machine)"
        )


def barrier(ctx: DistributedContext) -> None:
    """Wait for every rank (no-op in one process)."""
    if ctx.enabled:
        dist.barrier()
