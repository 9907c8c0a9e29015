"""The shared sequence driver: layers × directions × lengths × dropout, for every cell family.

Each (layer, direction) pair is one call to a backend picked by :mod:`rnnkit.kernels`; the
driver only wires those calls together the way ``torch.nn.RNN/LSTM/GRU`` do:

* layer l > 0 reads the concatenated outputs of both directions of layer l − 1, (T, B, D·H_out);
* dropout (training mode only) is applied to every layer's output except the last;
* the final states are stacked as (L·D, B, S) in the order layer-major, direction-minor;
* recurrent dropout (one mask per sequence, layer and direction, training mode only) and
  zoneout: such a call is marked ``regularised``; the driver draws its masks
  (:func:`rnnkit.functional.draw_masks`) before choosing the backend and hands the same masks
  to whichever serves it — a backend with its own regularised loops (``serves_regularised``,
  the numba LSTM/GRU/Elman) through ``run_layer_regularised``, any other through the cell's
  reference step wrapped by :func:`rnnkit.functional.regularised_cell`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.functional import (
    LayerWeights,
    Recurrence,
    State,
    draw_masks,
    regularised_cell,
)
from rnnkit.kernels import LayerCall, select_backend
from rnnkit.kernels.cost_model import call_shape


def run_stack(
    recurrence: Recurrence,
    x: Tensor,
    state: State,
    weights: Sequence[LayerWeights],
    *,
    num_layers: int,
    bidirectional: bool,
    lengths: Tensor | None = None,
    dropout: float = 0.0,
    training: bool = False,
    backend: str = "auto",
    recurrent_dropout: float = 0.0,
    zoneout: float = 0.0,
) -> tuple[Tensor, State]:
    """Run a stack of recurrent layers over a time-major sequence.

    Args:
        recurrence: the cell family.
        x: (T, B, F) input.
        state: initial state, a tuple of (L·D, B, S) tensors.
        weights: L·D :class:`LayerWeights`, index ``layer * D + direction``.
        num_layers: L. bidirectional: D = 2 if True else 1.
        lengths: (B,) int64 per-sample lengths or None.
        dropout: probability applied between layers when ``training``.
        backend: 'auto' or a registered backend name.
        recurrent_dropout: p of the variational mask on h_{t−1}, applied when ``training``.
        zoneout: p of zoneout on every state tensor (masks in training, expectation otherwise).

    Returns:
        output (T, B, D·H_out) and the final state, a tuple of (L·D, B, S).
    """
    directions = 2 if bidirectional else 1
    grad = torch.is_grad_enabled()
    finals: list[list[Tensor]] = [[] for _ in range(recurrence.num_states)]
    layer_input = x
    drop_h = training and recurrent_dropout > 0
    regularised = drop_h or zoneout > 0
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            k = layer * directions + direction
            w = weights[k]
            reverse = direction == 1
            call = LayerCall(
                mode=recurrence.mode,
                device_type=layer_input.device.type,
                dtype=layer_input.dtype,
                has_bias=w.b_ih is not None or w.b_hh is not None,
                has_proj=w.w_hr is not None,
                has_lengths=lengths is not None,
                reverse=reverse,
                requires_grad=grad
                and (
                    layer_input.requires_grad
                    or any(s.requires_grad for s in state)
                    or any(p is not None and p.requires_grad for p in (*w[:5], *(w.extra or ())))
                ),
                regularised=regularised,
                shape=call_shape(layer_input, w),  # for backend='auto''s cost model
            )
            layer_state = tuple(s[k] for s in state)
            if not regularised:
                runner = select_backend(call, backend)
                if k == 0 and x.shape[1] > 0 and hasattr(runner, "run_stack"):
                    # The backend chosen for the first call runs the whole stack in one call
                    # (torch: as torch.nn does, without rnnkit's per-direction glue).
                    return runner.run_stack(
                        recurrence, x, state, weights, num_layers=num_layers,
                        bidirectional=bidirectional, lengths=lengths, dropout=dropout,
                        training=training,
                    )
                out, final = runner.run_layer(
                    recurrence, layer_input, layer_state, w, lengths, reverse
                )
            else:
                # Drawn here, once per sequence, layer and direction (Gal & Ghahramani), so
                # that every backend reads the same masks.
                masks = draw_masks(layer_state, layer_input.shape[0], recurrent_dropout,
                                   zoneout, training)
                runner = select_backend(call, backend)
                if getattr(runner, "serves_regularised", False):
                    out, final = runner.run_layer_regularised(
                        recurrence, layer_input, layer_state, w, lengths, reverse, masks
                    )
                else:
                    cell = regularised_cell(recurrence, h_mask=masks.h_mask, zoneout_p=zoneout,
                                            training=training, zone=masks.zone)
                    out, final = runner.run_layer(cell, layer_input, layer_state, w, lengths,
                                                  reverse)
            outputs.append(out)
            for i, f in enumerate(final):
                finals[i].append(f)
        layer_input = outputs[0] if directions == 1 else torch.cat(outputs, dim=2)
        if training and dropout > 0 and layer < num_layers - 1:
            layer_input = F.dropout(layer_input, dropout, training=True)
    return layer_input, tuple(torch.stack(f) for f in finals)
