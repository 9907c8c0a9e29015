"""LSTM and GRU variants against the same cell written with ``torch.nn`` modules in a Python loop
(``rnnkit bench --variants``).

torch's fused LSTM and GRU have neither layer normalisation inside the cell nor recurrent
dropout or zoneout, so today a user writes these variants as a loop over
``nn.Linear``/``nn.LayerNorm`` or ``nn.LSTMCell`` (:class:`LoopLayerNormLSTM`,
:class:`LoopLayerNormGRU`, :class:`LoopZoneoutLSTM`, :class:`LoopRecurrentDropoutLSTM` below,
each the textbook version). This compares rnnkit's layer options — ``LSTM(layer_norm=True)``,
``GRU(layer_norm=True)``, ``LSTM(zoneout=p)`` and ``LSTM(recurrent_dropout=p)`` — with them,
holding the same weights (:func:`variant_pairs`), and shows the fused
``torch.nn.LSTM``/``torch.nn.GRU`` of the same family without the variant as the speed a user
gives up. Contenders run
alternately in one process after a warm-up (:func:`rnnkit.bench.timing.interleaved`); ratio =
loop ms / rnnkit ms (> 1: rnnkit is faster than the hand-written loop).

Shape legend: T time, B batch, F input features, H hidden units.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

import rnnkit.nn as rnn
from rnnkit.bench.cases import inference, training_step
from rnnkit.bench.report import table
from rnnkit.bench.timing import interleaved

#: (B, T, F, H) of the comparison: a small-batch training shape where the loop is the cost.
VARIANT_SHAPE = (16, 100, 32, 128)

#: The zoneout probability of the zoneout contenders.
ZONEOUT = 0.1

#: The recurrent-dropout probability of the recurrent-dropout contenders.
RECURRENT_DROPOUT = 0.25


class LoopLayerNormLSTM(nn.Module):
    """Layer-normalised LSTM as users write it: ``nn.Linear`` and ``nn.LayerNorm`` in a loop.

    The same math as ``rnnkit.nn.LSTM(layer_norm=True)`` (the input and recurrent
    pre-activations normalised separately, the cell state before the output tanh); time-major
    x (T, B, F) -> (output (T, B, H), (h_T, c_T)), zero initial state.
    """

    def __init__(self, features: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.ih = nn.Linear(features, 4 * hidden, bias=False)
        self.hh = nn.Linear(hidden, 4 * hidden, bias=False)
        self.norm_ih = nn.LayerNorm(4 * hidden)
        self.norm_hh = nn.LayerNorm(4 * hidden)
        self.norm_c = nn.LayerNorm(hidden)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h = c = x.new_zeros(x.shape[1], self.hidden)
        outputs = []
        for x_t in x:
            gates = self.norm_ih(self.ih(x_t)) + self.norm_hh(self.hh(h))
            i, f, g, o = gates.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(self.norm_c(c))
            outputs.append(h)
        return torch.stack(outputs), (h, c)

    def copy_into(self, layer: rnn.LSTM) -> None:
        """Give ``layer`` (``rnnkit.nn.LSTM(layer_norm=True)``) this module's weights."""
        with torch.no_grad():
            for ours, theirs in (
                (layer.weight_ih_l0, self.ih.weight), (layer.weight_hh_l0, self.hh.weight),
                (layer.ln_weight_ih_l0, self.norm_ih.weight), (layer.bias_ih_l0, self.norm_ih.bias),
                (layer.ln_weight_hh_l0, self.norm_hh.weight), (layer.bias_hh_l0, self.norm_hh.bias),
                (layer.ln_weight_c_l0, self.norm_c.weight), (layer.ln_bias_c_l0, self.norm_c.bias),
            ):
                ours.copy_(theirs)


class LoopLayerNormGRU(nn.Module):
    """Layer-normalised GRU as users write it: ``nn.Linear`` and ``nn.LayerNorm`` in a loop.

    The same math as ``rnnkit.nn.GRU(layer_norm=True)`` (input and recurrent projections
    normalised separately; the reset gate multiplies the normalised recurrent candidate);
    time-major x (T, B, F) -> (output (T, B, H), h_T), zero initial state.
    """

    def __init__(self, features: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.ih = nn.Linear(features, 3 * hidden, bias=False)
        self.hh = nn.Linear(hidden, 3 * hidden, bias=False)
        self.norm_ih = nn.LayerNorm(3 * hidden)
        self.norm_hh = nn.LayerNorm(3 * hidden)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = x.new_zeros(x.shape[1], self.hidden)
        outputs = []
        for x_t in x:
            u_r, u_z, u_n = self.norm_ih(self.ih(x_t)).chunk(3, dim=1)
            v_r, v_z, v_n = self.norm_hh(self.hh(h)).chunk(3, dim=1)
            r = torch.sigmoid(u_r + v_r)
            z = torch.sigmoid(u_z + v_z)
            n = torch.tanh(u_n + r * v_n)
            h = (1 - z) * n + z * h
            outputs.append(h)
        return torch.stack(outputs), h

    def copy_into(self, layer: rnn.GRU) -> None:
        """Give ``layer`` (``rnnkit.nn.GRU(layer_norm=True)``) this module's weights."""
        with torch.no_grad():
            for ours, theirs in (
                (layer.weight_ih_l0, self.ih.weight), (layer.weight_hh_l0, self.hh.weight),
                (layer.ln_weight_ih_l0, self.norm_ih.weight), (layer.bias_ih_l0, self.norm_ih.bias),
                (layer.ln_weight_hh_l0, self.norm_hh.weight), (layer.bias_hh_l0, self.norm_hh.bias),
            ):
                ours.copy_(theirs)


class LoopZoneoutLSTM(nn.Module):
    """Zoneout LSTM as users write it: ``nn.LSTMCell`` in a loop with a Bernoulli mask per step
    (training) or the expectation (evaluation), on h and c; x (T, B, F) -> (output, (h, c))."""

    def __init__(self, features: int, hidden: int, p: float) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(features, hidden)
        self.p = p

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h = c = x.new_zeros(x.shape[1], self.cell.hidden_size)
        outputs = []
        for x_t in x:
            h_new, c_new = self.cell(x_t, (h, c))
            if self.training:
                h = torch.where(torch.rand_like(h) < self.p, h, h_new)
                c = torch.where(torch.rand_like(c) < self.p, c, c_new)
            else:
                h = self.p * h + (1 - self.p) * h_new
                c = self.p * c + (1 - self.p) * c_new
            outputs.append(h)
        return torch.stack(outputs), (h, c)

    def copy_into(self, layer: rnn.LSTM) -> None:
        """Give ``layer`` (``rnnkit.nn.LSTM(zoneout=p)``) this module's weights."""
        layer.load_state_dict({f"{k}_l0": v for k, v in self.cell.state_dict().items()})


class LoopRecurrentDropoutLSTM(nn.Module):
    """Variational recurrent dropout as users write it: ``nn.LSTMCell`` in a loop reading
    m ⊙ h_{t−1} with one inverted-dropout mask m (B, H) per sequence (training only);
    x (T, B, F) -> (output, (h, c)). The mask is drawn as rnnkit draws it, so under the same
    seed both compute the same thing."""

    def __init__(self, features: int, hidden: int, p: float) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(features, hidden)
        self.p = p

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h = c = x.new_zeros(x.shape[1], self.cell.hidden_size)
        keep = 1.0 - self.p
        mask = torch.empty_like(h).bernoulli_(keep).div_(keep) if self.training else None
        outputs = []
        for x_t in x:
            h, c = self.cell(x_t, (h if mask is None else h * mask, c))
            outputs.append(h)
        return torch.stack(outputs), (h, c)

    def copy_into(self, layer: rnn.LSTM) -> None:
        """Give ``layer`` (``rnnkit.nn.LSTM(recurrent_dropout=p)``) this module's weights."""
        layer.load_state_dict({f"{k}_l0": v for k, v in self.cell.state_dict().items()})


def variant_pairs(features: int, hidden: int) -> dict[str, tuple[nn.Module, nn.Module]]:
    """Per variant: (the torch.nn loop, the rnnkit.nn layer) holding the same weights."""
    pairs: dict[str, tuple[nn.Module, nn.Module]] = {}
    loop_ln = LoopLayerNormLSTM(features, hidden)
    ours_ln = rnn.LSTM(features, hidden, layer_norm=True)
    loop_ln.copy_into(ours_ln)
    pairs["layer-norm LSTM"] = (loop_ln, ours_ln)
    loop_gru = LoopLayerNormGRU(features, hidden)
    ours_gru = rnn.GRU(features, hidden, layer_norm=True)
    loop_gru.copy_into(ours_gru)
    pairs["layer-norm GRU"] = (loop_gru, ours_gru)
    loop_zo = LoopZoneoutLSTM(features, hidden, ZONEOUT)
    ours_zo = rnn.LSTM(features, hidden, zoneout=ZONEOUT)
    loop_zo.copy_into(ours_zo)
    pairs[f"zoneout {ZONEOUT} LSTM"] = (loop_zo, ours_zo)
    loop_rd = LoopRecurrentDropoutLSTM(features, hidden, RECURRENT_DROPOUT)
    ours_rd = rnn.LSTM(features, hidden, recurrent_dropout=RECURRENT_DROPOUT)
    loop_rd.copy_into(ours_rd)
    pairs[f"recurrent dropout {RECURRENT_DROPOUT} LSTM"] = (loop_rd, ours_rd)
    return pairs


@dataclass
class VariantTiming:
    """Median ms of the loop and of rnnkit for one variant and task, and of torch's fused plain
    cell of the same family (``torch.nn.LSTM`` or ``torch.nn.GRU``, without the variant)."""

    variant: str
    task: str  # 'inference' (evaluation mode) or 'training' (training mode, forward + backward)
    loop_ms: float
    rnnkit_ms: float
    fused_ms: float

    @property
    def ratio(self) -> float:
        """loop ms / rnnkit ms: > 1 when rnnkit is faster than the hand-written loop."""
        return self.loop_ms / self.rnnkit_ms


def time_variants(shape: tuple[int, int, int, int] = VARIANT_SHAPE,
                  repeats: int = 7) -> list[VariantTiming]:
    """Interleaved medians of every variant's loop and rnnkit layer (and torch's fused plain
    LSTM and GRU), inference and training, at ``shape`` (B, T, F, H)."""
    batch, steps, features, hidden = shape
    torch.manual_seed(0)
    pairs = variant_pairs(features, hidden)
    fused = {"LSTM": torch.nn.LSTM(features, hidden), "GRU": torch.nn.GRU(features, hidden)}
    x = torch.randn(steps, batch, features)
    results = []
    for task, make in (("inference", inference), ("training", training_step)):
        fns = {f"fused {k}": make(m.train(task == "training"), x) for k, m in fused.items()}
        for name, (loop, ours) in pairs.items():
            fns[f"{name}/loop"] = make(loop.train(task == "training"), x)
            fns[f"{name}/rnnkit"] = make(ours.train(task == "training"), x)
        ms = interleaved(fns, repeats)
        results += [VariantTiming(name, task, ms[f"{name}/loop"], ms[f"{name}/rnnkit"],
                                  ms[f"fused {name.split()[-1]}"]) for name in pairs]
    return results


def format_variants(results: list[VariantTiming], shape: tuple[int, int, int, int],
                    markdown: bool = False) -> str:
    """The table of :func:`time_variants` as text or Markdown."""
    batch, steps, features, hidden = shape
    title = f"B={batch} T={steps} F={features} H={hidden}, float32, median ms"
    head = ("variant", "task", "torch.nn loop ms", "rnnkit ms", "loop / rnnkit",
            "torch.nn.LSTM/GRU (plain, fused) ms")
    rows = [(r.variant, r.task, f"{r.loop_ms:.1f}", f"{r.rnnkit_ms:.1f}", f"{r.ratio:.2f}x",
             f"{r.fused_ms:.1f}") for r in results]
    return (f"**{title}**\n\n" if markdown else f"{title}\n") + table(head, rows, markdown)
