"""ONNX lowering of the :mod:`rnnkit.nn` recurrent layers.

rnnkit runs a layer through a backend from :mod:`rnnkit.kernels` (numba loops, torch's fused
kernels, or the reference math); none of them can be traced by an exporter, and a traced Python
time loop would freeze the sequence length. ONNX has the recurrence itself as operators —
``LSTM``, ``GRU`` and ``RNN`` — with a per-sample ``sequence_lens`` input that gives exactly
rnnkit's variable-length contract (outputs past a length are zero, the final state is taken at
each sample's last real step, the reverse direction runs within each length). So at export
time every layer of a stack becomes one such node per layer (both directions in one node),
emitted with :func:`torch.onnx.ops.symbolic_multi_out`; outside an export the original layer
runs unchanged.

Weights are reordered from torch's gate layout to ONNX's once, when the exportable copy is made:

* LSTM: torch stacks (i, f, g, o), ONNX (i, o, f, c);
* GRU: torch (r, z, n), ONNX (z, r, h), and torch's GRU applies the reset gate after the
  recurrent product, which is ONNX's ``linear_before_reset=1``;
* Elman RNN: one gate; the nonlinearity becomes the node's ``activations``.

ONNX node shapes (time-major, D directions): X (T, B, F), W (D, G·H, F), R (D, G·H, H),
B (D, 2·G·H) = [b_ih; b_hh], sequence_lens (B,) int32, initial_h / initial_c (D, B, H);
outputs Y (T, D, B, H), Y_h and Y_c (D, B, H).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.errors import RNNKitError
from rnnkit.nn.rnn import RNNBase


class ExportError(RNNKitError, ValueError):
    """A model, an option or a verification result that stops an export."""


#: Cell table name -> (ONNX operator, gate permutation from torch's order to ONNX's, extras).
_ONNX_CELLS: dict[str, tuple[str, tuple[int, ...], dict[str, object]]] = {
    "lstm": ("LSTM", (0, 3, 1, 2), {}),
    "gru": ("GRU", (1, 0, 2), {"linear_before_reset": 1}),
    "rnn_tanh": ("RNN", (0,), {"activation": "Tanh"}),
    "rnn_relu": ("RNN", (0,), {"activation": "Relu"}),
    "rnn_sigmoid": ("RNN", (0,), {"activation": "Sigmoid"}),
}


def exportable_cells() -> list[str]:
    """Cell table names that have an ONNX operator."""
    return list(_ONNX_CELLS)


def _reorder(t: Tensor, order: tuple[int, ...]) -> Tensor:
    """Gate blocks of ``t`` (G·H, ...) put in ``order``."""
    return torch.cat([t.chunk(len(order))[i] for i in order]) if len(order) > 1 else t


class ExportableRecurrent(nn.Module):
    """A copy of an :mod:`rnnkit.nn` layer that exports as ONNX recurrence nodes.

    Same call as the layer: ``forward(input, hx=None, *, lengths=None)`` with input (B, T, F) if
    ``batch_first`` else (T, B, F), hx (L·D, B, H) or (h_0, c_0), lengths (B,). Outside
    ``torch.onnx.export`` it calls the wrapped layer, so a model holding it computes exactly
    what it did before.

    Raises:
        ExportError: the cell has no ONNX operator, or the layer projects (``proj_size``) or
            has zoneout.
    """

    def __init__(self, layer: RNNBase) -> None:
        super().__init__()
        if layer.mode not in _ONNX_CELLS:
            raise ExportError(
                f"cell {layer.mode!r} has no ONNX recurrence operator; exportable cells are "
                f"{exportable_cells()} (a cell from the cell table runs only in rnnkit)"
            )
        if getattr(layer, "zoneout", 0.0):
            raise ExportError(
                f"a layer with zoneout={layer.zoneout} has no ONNX operator (in evaluation its "
                "state is the expectation p·s_(t-1) + (1-p)·s_t, which ONNX recurrences lack); "
                "export needs zoneout=0"
            )
        if layer.proj_size:
            raise ExportError(
                f"an LSTM with proj_size={layer.proj_size} has no ONNX operator (ONNX LSTM has "
                "no projection); export needs proj_size=0"
            )
        self.layer = layer
        self.op, order, extras = _ONNX_CELLS[layer.mode]
        self.num_states = 2 if self.op == "LSTM" else 1
        self.directions = 2 if layer.bidirectional else 1
        H = layer.hidden_size
        self.activation = extras.get("activation")
        self.linear_before_reset = extras.get("linear_before_reset")
        for lay in range(layer.num_layers):
            ws, rs, bs = [], [], []
            for d in range(self.directions):
                sfx = f"_l{lay}" + ("_reverse" if d else "")
                w_ih = getattr(layer, "weight_ih" + sfx).detach()
                w_hh = getattr(layer, "weight_hh" + sfx).detach()
                gates = w_ih.shape[0]
                zeros = w_ih.new_zeros(gates)
                b_ih = getattr(layer, "bias_ih" + sfx, None)
                b_hh = getattr(layer, "bias_hh" + sfx, None)
                b_ih = zeros if b_ih is None else b_ih.detach()
                b_hh = zeros if b_hh is None else b_hh.detach()
                ws.append(_reorder(w_ih, order))
                rs.append(_reorder(w_hh, order))
                bs.append(torch.cat([_reorder(b_ih, order), _reorder(b_hh, order)]))
            self.register_buffer(f"onnx_w{lay}", torch.stack(ws).clone())  # (D, G·H, F_l)
            self.register_buffer(f"onnx_r{lay}", torch.stack(rs).clone())  # (D, G·H, H)
            self.register_buffer(f"onnx_b{lay}", torch.stack(bs).clone())  # (D, 2·G·H)
        self.hidden_size = H

    def forward(self, input: Tensor, hx: object = None, *, lengths: Tensor | None = None):
        if not torch.onnx.is_in_onnx_export():
            return self.layer(input, hx, lengths=lengths)
        return self._symbolic(input, hx, lengths)

    def _symbolic(self, x: Tensor, hx: object, lengths: Tensor | None):
        layer, D, H = self.layer, self.directions, self.hidden_size
        xt = x.transpose(0, 1) if layer.batch_first else x  # (T, B, F)
        T, B = xt.shape[0], xt.shape[1]
        seq = None if lengths is None else lengths.to(torch.int32)
        if hx is None:
            states: tuple[Tensor | None, ...] = (None,) * self.num_states
        else:
            states = tuple(hx) if isinstance(hx, tuple) else (hx,)
        finals: list[list[Tensor]] = [[] for _ in range(self.num_states)]
        attrs: dict[str, object] = {
            "hidden_size": H,
            "direction": "bidirectional" if D == 2 else "forward",
        }
        if self.activation is not None:
            attrs["activations"] = [self.activation] * D
        if self.linear_before_reset is not None:
            attrs["linear_before_reset"] = self.linear_before_reset
        for lay in range(layer.num_layers):
            rows = slice(lay * D, (lay + 1) * D)
            inputs = [
                xt,
                getattr(self, f"onnx_w{lay}"),
                getattr(self, f"onnx_r{lay}"),
                getattr(self, f"onnx_b{lay}"),
                seq,
                *(None if s is None else s[rows] for s in states),
            ]
            outs = torch.onnx.ops.symbolic_multi_out(
                self.op,
                inputs,
                attrs,
                dtypes=[xt.dtype] * (1 + self.num_states),
                shapes=[(T, D, B, H)] + [(D, B, H)] * self.num_states,
            )
            # Y (T, D, B, H) -> (T, B, D·H): both directions side by side, as torch does.
            xt = outs[0].permute(0, 2, 1, 3).reshape(T, B, D * H)
            for i in range(self.num_states):
                finals[i].append(outs[1 + i])
        out = xt.transpose(0, 1) if layer.batch_first else xt
        final = tuple(torch.cat(f) for f in finals)  # each (L·D, B, H)
        return out, (final if self.num_states > 1 else final[0])


def exportable_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` (in eval mode) whose every :mod:`rnnkit.nn` layer exports as
    ONNX recurrence nodes; the model's own code around them is traced as it is."""
    import copy

    clone = copy.deepcopy(model).eval()
    for name, child in list(clone.named_modules()):
        if isinstance(child, RNNBase):
            parent_name, _, attr = name.rpartition(".")
            parent = clone.get_submodule(parent_name) if parent_name else clone
            setattr(parent, attr, ExportableRecurrent(child))
    return clone
