"""The ``scan`` backend: the minimal cells (minGRU, minLSTM) as a log-space parallel scan.

Their recurrence is linear in h (:mod:`rnnkit.functional.minimal`), so a whole layer is a few
cumulative operations over time (``cumsum``, ``logcumsumexp``) on top of one matrix product:
O(log T) depth, which is what a GPU wants. It is plain torch, so it runs on every device and
dtype, with autograd for backward. On the CPU the ``numba`` backend's fused sequential scan comes
first for ``auto``; this one serves CUDA (and anything numba declines).
"""

from __future__ import annotations

from torch import Tensor

from rnnkit.functional import LayerWeights, Recurrence, State
from rnnkit.functional.minimal import MIN_CELLS, min_sequence_parallel
from rnnkit.kernels.registry import LayerCall


class ScanBackend:
    """:func:`rnnkit.functional.min_sequence_parallel` for the cells of ``MIN_CELLS``."""

    name = "scan"

    def unsupported_reason(self, call: LayerCall) -> str | None:
        if call.mode not in MIN_CELLS:
            return f"serves the parallel-in-time cells {list(MIN_CELLS)} only, got {call.mode!r}"
        if not call.dtype.is_floating_point:
            return f"needs a floating-point dtype, got {call.dtype}"
        return None

    def run_layer(
        self,
        recurrence: Recurrence,
        x: Tensor,
        state: State,
        weights: LayerWeights,
        lengths: Tensor | None,
        reverse: bool,
    ) -> tuple[Tensor, State]:
        out, h_n = min_sequence_parallel(recurrence.name, x, state[0], weights, lengths, reverse)
        return out, (h_n,)
