"""Implementations of the recurrences and the registry that picks one per layer call.

Preference order for ``backend="auto"``:

1. ``numba`` — fused CPU kernels with hand-written BPTT (:mod:`rnnkit.kernels.cpu`);
2. ``torch`` — torch's own fused kernels; the choice for CUDA tensors (cuDNN);
3. ``scan`` — the minimal cells (minGRU, minLSTM) as a parallel scan in torch ops (GPU);
4. ``reference`` — the plain-torch loop with autograd backward, serving everything.

On the CPU, a call with a known shape that both ``numba`` and ``torch`` serve goes to whichever
the calibrated cost model predicts faster (:mod:`rnnkit.kernels.cost_model`).

Which cells exist is the cell table's business (:mod:`rnnkit.functional.cell_table`); a backend
serves the cells it has entry points for and declines the others by name, so a new cell runs on
the reference backend before (or without) any fused kernel.
"""

from rnnkit.kernels.cpu import NumbaBackend
from rnnkit.kernels.reference import ReferenceBackend
from rnnkit.kernels.registry import (
    Backend,
    LayerCall,
    StepBackend,
    StepRunner,
    available_backends,
    explain,
    explain_step,
    get_backend,
    register_backend,
    select_backend,
    select_step_backend,
)
from rnnkit.kernels.scan import ScanBackend
from rnnkit.kernels.torch_native import TorchBackend

register_backend(ReferenceBackend())
register_backend(ScanBackend(), first=True)
register_backend(TorchBackend(), first=True)
register_backend(NumbaBackend(), first=True)

__all__ = [
    "Backend",
    "LayerCall",
    "NumbaBackend",
    "ReferenceBackend",
    "ScanBackend",
    "StepBackend",
    "StepRunner",
    "TorchBackend",
    "available_backends",
    "explain",
    "explain_step",
    "get_backend",
    "register_backend",
    "select_backend",
    "select_step_backend",
]
