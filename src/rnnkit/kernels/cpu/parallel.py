"""Batch split across cores: each thread runs the whole time loop for its slice of the batch.

Recurrent steps are sequential, so parallelism across time is not available; across the batch it
is, with no synchronisation per step (each slice carries its own state) and single-threaded BLAS
inside each slice. The compiled loops release the GIL (``nogil=True``), so plain Python threads
run them truly in parallel. The calling thread runs the first slice itself.

The number of slices is ``torch.get_num_threads()`` (capped by the batch and by the amount of
work), so ``torch.set_num_threads`` controls rnnkit's kernels as it controls torch's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import torch

# Below this many multiply-adds (~0.2 ms of one core) a second thread is not worth waking.
MIN_WORK_PER_SLICE = 8_000_000

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < workers:
            if _pool is not None:
                _pool.shutdown(wait=True)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rnnkit-kernel")
            _pool_size = workers
        return _pool


def batch_slices(batch: int, work: float, threads: int | None = None) -> list[tuple[int, int]]:
    """Split rows 0:batch into contiguous slices, one per thread worth using.

    Args:
        batch: B.  work: multiply-adds of the whole call (sets how many threads pay off).
        threads: thread budget; ``torch.get_num_threads()`` when None.
    """
    threads = torch.get_num_threads() if threads is None else threads
    count = max(1, min(threads, batch, int(work // MIN_WORK_PER_SLICE)))
    bounds = [round(i * batch / count) for i in range(count + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(count)]


def run_slices(task: Callable[[int, int], None], slices: list[tuple[int, int]]) -> None:
    """Run ``task(b0, b1)`` for every slice, the first on the calling thread, and wait for all.

    An exception in any slice is re-raised here after every slice has finished.
    """
    if len(slices) == 1:
        task(*slices[0])
        return
    pool = _executor(len(slices) - 1)
    futures: list[Future[None]] = [pool.submit(task, b0, b1) for b0, b1 in slices[1:]]
    try:
        task(*slices[0])
    finally:
        for future in futures:
            future.exception()  # wait for every slice before any buffer can be freed
    for future in futures:
        future.result()
