"""Long-range diagnostics: how far back the loss still reaches, saturated gates, W_hh's radius.

On one batch of real sequences, :func:`diagnose_batch` measures

* the gradient norm ‖∂L/∂h_t‖ of every layer's output h_t, for every step t, averaged over the
  sequences that have a step t, and laid out by *distance from the end* d = T_i − 1 − t (the loss
  of a sequence-level task sits at the last step; d = 0 is where it sees the state directly).
  A norm that falls by orders of magnitude with d is a vanishing gradient: the model cannot
  learn from inputs that far back (Bengio et al. 1994; Hochreiter & Schmidhuber 1997);
* the share of saturated gates per layer: sigmoid gates (LSTM i, f, o; GRU r, z) within 0.05 of
  0 or 1, and tanh units of an Elman network beyond ±0.95 — a saturated unit passes almost no
  gradient;
* the spectral radius ρ(W_hh) of every layer's recurrent matrix, per gate block (H × H):
  for an Elman network ρ < 1 bounds how fast gradients vanish, ρ ≫ 1 lets them explode;
* the *effective memory length*: the largest distance at which the gradient norm is still at
  least ``fraction`` (1 % by default) of its value at d = 0.

How the per-layer gradients are obtained: the model's recurrent stack (an ``rnnkit.nn`` layer
with L layers) is run, for the measurement only, unrolled step by step with one cell per layer
and the same weights — the same computation (dropout is off: the model is in eval mode) — so
every state h_t is a node of the graph and its gradient is the total ∂L/∂h_t (through the
layer above and through every later step). Bidirectional stacks are refused (their "distance
from the loss" has no single direction).

:class:`GradientDiagnostics` is the training callback: it measures a fixed batch after every
``every`` epochs and, at the end of training, writes ``gradient_norms.png`` (norm against
distance, log scale, one line per measured epoch, epochs with clipped updates marked) and keeps
the measurements in ``records``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.train.callbacks import Callback

#: Gate blocks of the stacked weights, in torch's order, and which are sigmoid gates.
GATES: dict[str, tuple[str, ...]] = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
SIGMOID_GATES: dict[str, tuple[int, ...]] = {"lstm": (0, 1, 3), "gru": (0, 1),
                                             "mingru": (0,), "minlstm": (0, 1)}
#: A sigmoid is saturated within this distance of 0 or 1; a tanh unit beyond 1 − this.
SATURATION = 0.05


def find_recurrent(model: nn.Module) -> tuple[nn.Module, str, nn.Module]:
    """(parent, attribute name, layer) of the model's first ``rnnkit.nn`` recurrent stack.

    Raises:
        ValueError: the model has none, or it is bidirectional.
    """
    from rnnkit.nn.rnn import RNNBase

    for name, parent in model.named_modules():
        for attr, child in parent.named_children():
            if isinstance(child, RNNBase):
                if child.bidirectional:
                    raise ValueError(
                        "model: the diagnostics need a unidirectional recurrent stack (the "
                        "distance from the loss runs one way), got a bidirectional one at "
                        f"{(name + '.' if name else '') + attr}"
                    )
                return parent, attr, child
    raise ValueError(f"model must contain an rnnkit.nn recurrent layer, got {type(model).__name__}")


class _Unrolled(nn.Module):
    """The model's recurrent stack, unrolled step by step with one :class:`rnnkit.nn.Cell` per
    layer (the same weights and reference math), keeping every state h_t of every layer as a
    node of the graph: its gradient is then the total derivative ∂L/∂h_t — through the
    layer above and through all later steps of its own layer."""

    def __init__(self, stack: nn.Module) -> None:
        super().__init__()
        from rnnkit.nn.cells import Cell

        self.stack = [stack]  # not a submodule: its parameters stay the model's own
        self.cells = []
        for k in range(stack.num_layers):
            cell = Cell(stack.mode, stack.input_size if k == 0 else stack.hidden_size,
                        stack.hidden_size, bias=getattr(stack, "bias", True))
            with torch.no_grad():
                for name, param in cell.named_parameters():
                    param.copy_(getattr(stack, f"{name}_l{k}"))
            self.cells.append(cell)
        self.states: list[list[Tensor]] = []  # per layer, T tensors (B, H)
        self.inputs: list[Tensor] = []  # per layer, its input (B, T, F_k)

    def forward(self, x: Tensor, state: Any = None, *, lengths: Tensor | None = None) -> Any:
        if state is not None:
            raise ValueError("diagnostics: an initial state is not supported (None expected)")
        B, T = x.shape[:2]
        real = (torch.arange(T)[None, :] < (torch.full((B,), T) if lengths is None
                                           else torch.as_tensor(lengths))[:, None])
        self.states, self.inputs, finals = [], [], []
        for cell in self.cells:
            self.inputs.append(x)
            carried, hs, outs = None, [], []
            for t in range(T):
                new = cell(x[:, t], carried)
                parts = new if isinstance(new, tuple) else (new,)
                if carried is not None:  # past a length the state stays at its last real step
                    keep = real[:, t, None]
                    old = carried if isinstance(carried, tuple) else (carried,)
                    parts = tuple(torch.where(keep, n, o) for n, o in zip(parts, old, strict=True))
                parts[0].retain_grad()
                hs.append(parts[0])
                outs.append(parts[0] * real[:, t, None])  # outputs past a length are zero
                carried = parts if len(parts) > 1 else parts[0]
            self.states.append(hs)
            finals.append(carried if isinstance(carried, tuple) else (carried,))
            x = torch.stack(outs, dim=1)  # (B, T, H)
        stacked = tuple(torch.stack(parts, dim=0) for parts in zip(*finals, strict=True))
        return x, (stacked if len(stacked) > 1 else stacked[0])


@dataclass
class Diagnosis:
    """What :func:`diagnose_batch` measured.

    Attributes:
        cell: the cell's name.
        grad_norm: per layer, (D,) mean ‖∂L/∂h‖ at distance d = 0 … D−1 from the end.
        saturation: per layer, the share of saturated gates (or tanh units).
        spectral_radius: per layer, {gate: ρ(W_hh block)}; for a cell without W_hh (minGRU,
            minLSTM) {"mean a_t": its mean carry factor} instead (see :func:`_carry`).
        loss: the batch's loss.
        fraction: the threshold of :meth:`memory_length`.
    """

    cell: str
    grad_norm: list[np.ndarray]
    saturation: list[float]
    spectral_radius: list[dict[str, float]]
    loss: float
    fraction: float = 0.01
    extra: dict[str, Any] = field(default_factory=dict)

    def memory_length(self, layer: int = 0) -> int:
        """The largest distance at which ‖∂L/∂h‖ is still ≥ ``fraction`` of its value at d = 0
        (0: the gradient is gone one step back)."""
        g = self.grad_norm[layer]
        if not len(g) or not g[0] > 0:
            return 0
        above = np.flatnonzero(g >= self.fraction * g[0])
        return int(above.max()) if len(above) else 0

    def describe(self) -> str:
        """The findings in words (what ``summary.md`` and ``rnnkit diagnose`` print)."""
        lines = []
        steps = len(self.grad_norm[0])
        for k, g in enumerate(self.grad_norm):
            m = self.memory_length(k)
            ratio = g[-1] / g[0] if g[0] > 0 else float("nan")
            reach = (
                f"still at least {self.fraction:.0%} of its value at the last step over all "
                f"{steps} steps: the whole sequence can be learnt from"
                if m >= steps - 1 else
                f"falls below {self.fraction:.0%} of its value at the last step after {m} "
                f"steps: inputs further back than that barely change what the model learns"
            )
            values = self.spectral_radius[k]
            radius = ", ".join(f"{gate} {r:.2f}" for gate, r in values.items())
            radius = (f"none (gates read x_t only; mean carry factor a_t {values['mean a_t']:.3f})"
                      if "mean a_t" in values else radius)
            lines.append(
                f"Layer {k + 1} ({self.cell}): the gradient of the loss with respect to the "
                f"state {reach} (effective memory length {m} steps; ‖∂L/∂h‖ at distance "
                f"{steps - 1} is {ratio:.2g} × its value at 0). Saturated gates: "
                f"{self.saturation[k]:.1%}. Spectral radius of W_hh: {radius}."
            )
        return "\n".join(lines)


def _saturation(cell: str, layer: nn.Module, x: Tensor, h: Tensor, mask: Tensor) -> float:
    """Share of saturated sigmoid gates (LSTM, GRU) or tanh units (others) of one layer over the
    real steps: x (B, T, F) its input, h (B, T, H) its output, mask (B, T)."""
    with torch.no_grad():
        m = mask.unsqueeze(-1)  # (B, T, 1)
        if cell in SIGMOID_GATES:
            H = layer.hidden_size
            h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)  # (B, T, H)
            pre = x @ layer.weight_ih.T  # (B, T, G·H)
            if getattr(layer, "weight_hh", None) is not None:  # minGRU/minLSTM gates read x only
                pre = pre + h_prev @ layer.weight_hh.T
            for bias in ("bias_ih", "bias_hh"):
                if getattr(layer, bias, None) is not None:
                    pre = pre + getattr(layer, bias)
            gates = torch.sigmoid(torch.stack(
                [pre[..., g * H : (g + 1) * H] for g in SIGMOID_GATES[cell]]))  # (G', B, T, H)
            hit = (gates < SATURATION) | (gates > 1 - SATURATION)
            return float((hit & m.bool()).sum() / (m.sum() * H * len(SIGMOID_GATES[cell])))
        hit = h.abs() > 1 - SATURATION
        return float((hit & m.bool()).sum() / (m.sum() * h.shape[-1]))


def _carry(cell: str, layer: nn.Module, x: Tensor, mask: Tensor) -> dict[str, float]:
    r"""Mean per-step carry factor of a cell without a recurrent matrix (minGRU, minLSTM):
    h_t = a_t ⊙ h_{t−1} + b_t, so ∂h_t/∂h_{t−1} = diag(a_t) and a gradient over d steps shrinks
    by about mean(a)^d — what ρ(W_hh) says for the other cells. x (B, T, F), mask (B, T)."""
    from rnnkit.functional.minimal import log_coefficients

    with torch.no_grad():
        gx = x @ layer.weight_ih.T  # (B, T, G·H)
        if getattr(layer, "bias_ih", None) is not None:
            gx = gx + layer.bias_ih
        a = log_coefficients(cell, gx)[0].exp()  # (B, T, H)
        m = mask.unsqueeze(-1).to(a.dtype)
        return {"mean a_t": float((a * m).sum() / (m.sum() * a.shape[-1]))}


def _radius(cell: str, stack: nn.Module, k: int) -> dict[str, float]:
    w = getattr(stack, f"weight_hh_l{k}").detach().double()
    H = w.shape[1]
    names = GATES.get(cell, ("W_hh",)) if w.shape[0] != H else ("W_hh",)
    if len(names) * H != w.shape[0]:
        names = tuple(f"block {i + 1}" for i in range(w.shape[0] // H))
    return {
        n: float(torch.linalg.eigvals(w[i * H : (i + 1) * H]).abs().max())
        for i, n in enumerate(names)
    }


def diagnose_batch(model: nn.Module, batch: Any, *, fraction: float = 0.01) -> Diagnosis:
    """Measure gradients, saturation and spectral radii of ``model`` on one batch.

    ``batch`` is what the model's loader yields (``inputs`` (B, T, F), ``lengths``, targets,
    mask); the model follows the task-model protocol (``forward``, ``loss``). The model's
    weights, gradients and mode are left as they were.

    Raises:
        ValueError: no recurrent stack, a bidirectional one, or ``fraction`` outside (0, 1).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    parent, attr, stack = find_recurrent(model)
    if not stack.batch_first:
        raise ValueError("model: the diagnostics need a batch-first recurrent stack (B, T, F)")
    chained = _Unrolled(stack)
    was_training = model.training
    saved = {n: (None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()}
    model.eval()
    parent._modules[attr] = chained
    try:
        with torch.enable_grad():
            outputs, _ = model(batch.inputs, lengths=batch.lengths)
            loss = model.loss(outputs, batch)
            loss.backward()
        B, T = batch.inputs.shape[:2]
        lengths = (torch.full((B,), T) if batch.lengths is None
                   else torch.as_tensor(batch.lengths)).long()
        mask = torch.arange(T)[None, :] < lengths[:, None]  # (B, T) real steps
        norms, saturation, radii = [], [], []
        for k, (hs, x) in enumerate(zip(chained.states, chained.inputs, strict=True)):
            h = torch.stack([s.detach() for s in hs], dim=1)  # (B, T, H)
            g = torch.stack([s.grad if s.grad is not None else torch.zeros_like(s)
                             for s in hs], dim=1).norm(dim=-1)  # (B, T)
            # Distance from each sequence's end: d = T_i − 1 − t; mean over sequences with d.
            per_d = np.zeros(T)
            counts = np.zeros(T)
            for b in range(B):
                n = int(lengths[b])
                per_d[:n] += g[b, :n].flip(0).numpy()
                counts[:n] += 1
            norms.append(per_d / np.maximum(counts, 1))
            saturation.append(_saturation(stack.mode, chained.cells[k], x.detach(), h, mask))
            radii.append(_radius(stack.mode, stack, k)
                         if hasattr(stack, f"weight_hh_l{k}")
                         else _carry(stack.mode, chained.cells[k], x.detach(), mask))
    finally:
        parent._modules[attr] = stack
        for n, p in model.named_parameters():
            p.grad = saved[n]
        model.train(was_training)
    return Diagnosis(stack.mode, norms, saturation, radii, float(loss.detach()), fraction)


def plot_gradient_norms(records: list[tuple[int, Diagnosis, bool]], path: str | Path,
                        title: str = "") -> Path:
    """PNG: ‖∂L/∂h_t‖ of the first layer against distance from the loss, log scale, one line
    per (epoch, diagnosis, clipped) record; epochs with clipped updates are dashed and marked
    'clipped' in the legend."""
    from rnnkit.core.plotting import new_figure, save_figure

    fig, axes = new_figure(size=(7.0, 4.5), purpose="the gradient-norm plot")
    ax = axes[0, 0]
    import matplotlib  # present: new_figure checked it

    cmap = matplotlib.colormaps["viridis"]
    for i, (epoch, d, clipped) in enumerate(records):
        g = d.grad_norm[0]
        color = cmap(i / max(1, len(records) - 1))
        ax.plot(np.arange(len(g)), np.where(g > 0, g, np.nan), color=color,
                linestyle="--" if clipped else "-",
                label=f"epoch {epoch}" + (" (clipped)" if clipped else ""))
    ax.set_yscale("log")
    ax.set_xlabel("distance from the loss (steps before the end)")
    ax.set_ylabel("‖∂L/∂h_t‖ (layer 1, mean over the batch)")
    ax.set_title(title or "gradient reaching back in time")
    ax.grid(True, which="both", alpha=0.3)
    if len(records) <= 12:
        ax.legend(fontsize=7)
    return save_figure(fig, path)


class GradientDiagnostics(Callback):
    """Measure :func:`diagnose_batch` on ``batch`` every ``every`` epochs; at the end of
    training write ``out_dir/gradient_norms.png`` (when ``out_dir`` is given).

    Attributes:
        records: (1-based epoch, :class:`Diagnosis`, whether any update of that epoch was
            clipped) per measurement.
    """

    def __init__(self, batch: Any, *, every: int = 1, out_dir: str | Path | None = None,
                 fraction: float = 0.01) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.batch, self.every, self.fraction = batch, every, fraction
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.records: list[tuple[int, Diagnosis, bool]] = []
        self._epochs = 0

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        self._epochs += 1
        if self._epochs % self.every:
            return
        clipped = bool(row.get("clipped_share") or 0) and math.isfinite(
            float(row.get("clipped_share") or 0))
        self.records.append(
            (self._epochs, diagnose_batch(trainer.model, self.batch, fraction=self.fraction),
             clipped)
        )

    def on_fit_end(self, trainer: Any) -> None:
        if self.out_dir is not None and self.records and trainer.is_main:
            plot_gradient_norms(self.records, self.out_dir / "gradient_norms.png")

    def summary(self) -> dict[str, Any]:
        """The measurements as JSON (what a run's ``metrics.json`` keeps): the last
        measurement's findings (memory length, saturation, ρ(W_hh) per layer, in numbers and
        in words) and the first layer's memory length at every measured epoch."""
        if not self.records:
            raise ValueError("no measurement yet: the callback measures at an epoch's end")
        epoch, last, _ = self.records[-1]
        return {
            "epoch": epoch,
            "fraction": last.fraction,
            "memory_length": [last.memory_length(k) for k in range(len(last.grad_norm))],
            "saturation": [float(s) for s in last.saturation],
            "spectral_radius": [{g: float(r) for g, r in rad.items()}
                                for rad in last.spectral_radius],
            "memory_length_by_epoch": {str(e): d.memory_length() for e, d, _ in self.records},
            "clipped_epochs": [e for e, _, clipped in self.records if clipped],
            "text": last.describe(),
        }
