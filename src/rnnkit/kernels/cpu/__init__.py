"""Fused CPU kernels compiled with numba, with hand-written BPTT (the ``numba`` backend).

Modules, one job each:

* :mod:`.backend` — :class:`NumbaBackend`: which calls it serves; the cells' entry points,
  registered by cell name (:func:`~.backend.register_cell_kernel`);
* :mod:`.functions` — one ``torch.autograd.Function`` per cell family, the large products, and
  the registration of each family's cells;
* :mod:`.elman`, :mod:`.gru`, :mod:`.lstm` — the compiled sequential loops, forward and backward;
* :mod:`.step` — the compiled single-step kernel behind ``layer.step`` (streaming);
* :mod:`.activations` — tanh/σ that vectorise in float32;
* :mod:`.blas` (+ :mod:`._openblas`, :mod:`._native`) — MKL or OpenBLAS, found at run time;
* :mod:`.parallel` — the batch split across cores;
* :mod:`.compile` — lazy, announced, disk-cached compilation per (family, dtype); a family is a
  module listing its kernels in ``KERNELS``, their signatures read off their parameter names.

Importing this package does not import numba: :class:`NumbaBackend` reports a missing numba as the
reason it declines, and the reference backend runs instead.
"""

from rnnkit.kernels.cpu.backend import NumbaBackend, environment_problem

__all__ = ["NumbaBackend", "environment_problem"]
