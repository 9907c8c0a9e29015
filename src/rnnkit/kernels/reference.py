"""The reference backend: the plain-torch loop of :mod:`rnnkit.functional`, autograd for backward.

It serves every call on every device and dtype, so it is the fallback of last resort.
"""

from __future__ import annotations

from torch import Tensor

from rnnkit.functional import LayerWeights, Recurrence, State, run_sequence
from rnnkit.kernels.registry import LayerCall


class ReferenceBackend:
    """Runs :func:`rnnkit.functional.run_sequence`; slow, obviously correct, always available."""

    name = "reference"
    runs_cell_step = True  # it runs recurrence.step, so it serves regularised calls too

    def unsupported_reason(self, call: LayerCall) -> str | None:
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
        return run_sequence(recurrence, x, state, weights, lengths, reverse)
