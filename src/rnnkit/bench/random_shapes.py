"""Shapes drawn at random (``rnnkit bench --random N --seed S``): where does rnnkit lose to torch?

The fixed grid shows the shapes someone chose; this draws them. Each case is, with its own
generator (``random.Random(seed)``, so a seed gives the same cases everywhere):

* a layer from :data:`rnnkit.bench.cases.KINDS` and a task (inference or training);
* B ∈ [1, 512], T ∈ [1, 2000], F ∈ [1, 512], H ∈ [16, 1024], each log-uniform (every scale
  equally likely), rounded to an integer;
* with or without per-sample lengths (drawn uniformly in [1, T], the batch given to both as an
  unsorted ``PackedSequence``, the way torch users pass them) and uni- or bidirectional.

A case whose matrix-product work (:func:`rnnkit.bench.cases.inference_flop`, × D, × 3 for
training) exceeds ``max_gflop`` is reported as skipped instead of timed, which caps the total
time. The rest are timed like the grid (torch, rnnkit's ``numba`` backend and, unless turned off,
rnnkit's ``backend="auto"`` alternately, medians) and the report gives, for numba and for auto,
the worst and median ratio (torch ms / rnnkit ms; below 1 rnnkit is slower) and every case where
rnnkit loses by more than ``tolerance``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit.nn as rnn
from rnnkit.bench.cases import KINDS, inference_flop
from rnnkit.bench.timing import interleaved

#: Ranges (inclusive) of the log-uniform draws.
RANGES = {"batch": (1, 512), "steps": (1, 2000), "features": (1, 512), "hidden": (16, 1024)}
_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


@dataclass(frozen=True)
class Case:
    """One drawn configuration."""

    kind: str
    task: str  # 'inference' or 'training'
    batch: int
    steps: int
    features: int
    hidden: int
    lengths: bool
    bidirectional: bool

    @property
    def gflop(self) -> float:
        """Matrix-product GFLOPs of the call (both directions; training 3× the forward)."""
        flop = inference_flop(_GATES[self.kind], self.batch, self.steps, self.features,
                              self.hidden)
        return flop * (2 if self.bidirectional else 1) * (3 if self.task == "training" else 1) / 1e9

    def describe(self) -> str:
        """e.g. 'GRU training B=256 T=20 F=64 H=128 lengths bidirectional'."""
        flags = [f for f, on in (("lengths", self.lengths), ("bidirectional",
                                                               self.bidirectional)) if on]
        return " ".join([self.kind, self.task, f"B={self.batch}", f"T={self.steps}",
                         f"F={self.features}", f"H={self.hidden}", *flags])


@dataclass
class CaseResult:
    """A case with its medians (None when skipped for its size, auto_ms when not timed)."""

    case: Case
    torch_ms: float | None
    rnnkit_ms: float | None  # backend='numba'
    auto_ms: float | None = None  # backend='auto'
    auto_backend: str | None = None  # what 'auto' ran (its first layer's forward direction)

    @property
    def ratio(self) -> float | None:
        """torch ms / numba ms."""
        if self.torch_ms is None or self.rnnkit_ms is None:
            return None
        return self.torch_ms / self.rnnkit_ms

    @property
    def auto_ratio(self) -> float | None:
        """torch ms / auto ms."""
        if self.torch_ms is None or self.auto_ms is None:
            return None
        return self.torch_ms / self.auto_ms


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    return min(high, max(low, round(math.exp(rng.uniform(math.log(low), math.log(high))))))


def draw_cases(count: int, seed: int) -> list[Case]:
    """``count`` cases from ``random.Random(seed)`` (same seed, same cases)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive int, got {count!r}")
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        kind = rng.choice(KINDS)
        task = rng.choice(("inference", "training"))
        sizes = {name: _log_uniform(rng, *bounds) for name, bounds in RANGES.items()}
        cases.append(Case(kind, task, lengths=rng.random() < 0.5,
                          bidirectional=rng.random() < 0.5, **sizes))
    return cases


def _closure(layer: torch.nn.Module, x, training: bool):
    if training:
        def step() -> None:
            layer.zero_grad(set_to_none=True)
            out, _ = layer(x)
            (out.data if hasattr(out, "batch_sizes") else out).sum().backward()
        return step

    def forward() -> None:
        with torch.no_grad():
            layer(x)
    return forward


def time_case(case: Case, repeats: int, seed: int = 0, auto: bool = True) -> CaseResult:
    """Interleaved medians of torch, rnnkit's numba backend and (``auto``) backend='auto'."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    theirs = getattr(torch.nn, case.kind)(case.features, case.hidden,
                                          bidirectional=case.bidirectional)
    layers = {"torch": theirs}
    for backend in ("numba", "auto") if auto else ("numba",):
        layers[backend] = getattr(rnn, case.kind)(case.features, case.hidden,
                                                  bidirectional=case.bidirectional,
                                                  backend=backend)
        layers[backend].load_state_dict(theirs.state_dict())
    x = torch.randn(case.steps, case.batch, case.features, generator=gen)
    if case.lengths:
        lengths = torch.randint(1, case.steps + 1, (case.batch,), generator=gen)
        x = pack_padded_sequence(x, lengths, enforce_sorted=False)
    training = case.task == "training"
    ms = interleaved({name: _closure(layer, x, training) for name, layer in layers.items()},
                     repeats)
    return CaseResult(case, ms["torch"], ms["numba"], ms.get("auto"),
                      auto_choice(case) if auto else None)


_MODES = {"RNN": "rnn_tanh", "LSTM": "lstm", "GRU": "gru"}


def auto_choice(case: Case) -> str:
    """The backend 'auto' picks for the case's first layer (forward direction), asked of the
    registry with the call the driver builds."""
    from rnnkit.kernels import LayerCall, select_backend
    from rnnkit.kernels.cost_model import bucket_shape

    call = LayerCall(_MODES[case.kind], "cpu", torch.float32, True, False, case.lengths, False,
                     case.task == "training",
                     shape=bucket_shape(case.steps, case.batch, case.features, case.hidden,
                                        case.hidden))
    return select_backend(call).name


def run_random(count: int, seed: int, max_gflop: float = 2.0, repeats: int = 3,
               progress=None, auto: bool = True) -> list[CaseResult]:
    """Draw ``count`` cases and time those within ``max_gflop`` (the others are skipped)."""
    results = []
    for i, case in enumerate(draw_cases(count, seed)):
        if case.gflop > max_gflop:
            result = CaseResult(case, None, None)
        else:
            result = time_case(case, repeats, seed=i, auto=auto)
        results.append(result)
        if progress:
            text = "skipped"
            if result.ratio is not None:
                text = (f"torch {result.torch_ms:.2f} ms, numba {result.rnnkit_ms:.2f} ms "
                        f"({result.ratio:.2f}x)")
            if result.auto_ratio is not None:
                text += (f", auto ({result.auto_backend}) {result.auto_ms:.2f} ms "
                         f"({result.auto_ratio:.2f}x)")
            progress(f"[{i + 1}/{count}] {case.describe()}: {text}")
    return results


def _summary(label: str, ratios: list[tuple[float, Case]], tolerance: float) -> list[str]:
    ordered = sorted(ratios, key=lambda rc: rc[0])
    worst, case = ordered[0]
    median = ordered[len(ordered) // 2][0]
    losing = sum(r < 1 - tolerance for r, _ in ordered)
    return [f"{label}: worst ratio {worst:.2f}x ({case.describe()}); median {median:.2f}x",
            f"{label} slower than torch by more than {tolerance:.0%}: {losing} of {len(ordered)}"]


def format_random(results: list[CaseResult], seed: int, tolerance: float = 0.05,
                  markdown: bool = False) -> str:
    """Summary (worst and median ratio, losing cases; numba, then auto when timed) and the
    table of every timed case, worst numba ratio first."""
    timed = [r for r in results if r.ratio is not None]
    skipped = len(results) - len(timed)
    with_auto = bool(timed) and all(r.auto_ratio is not None for r in timed)
    lines = [f"random shapes, seed {seed}: {len(results)} drawn, {len(timed)} timed, "
             f"{skipped} skipped for size"]
    if timed:
        lines += _summary("numba", [(r.ratio, r.case) for r in timed], tolerance)  # type: ignore[misc]
        if with_auto:
            lines += _summary("auto", [(r.auto_ratio, r.case) for r in timed],  # type: ignore[misc]
                              tolerance)
    head = ("case", "torch ms", "numba ms", "ratio")
    if with_auto:
        head += ("auto ran", "auto ms", "auto ratio")
    rows = []
    for r in sorted(timed, key=lambda r: r.ratio):  # type: ignore[arg-type, return-value]
        row = (r.case.describe(), f"{r.torch_ms:.2f}", f"{r.rnnkit_ms:.2f}", f"{r.ratio:.2f}x")
        if with_auto:
            row += (str(r.auto_backend), f"{r.auto_ms:.2f}", f"{r.auto_ratio:.2f}x")
        rows.append(row)
    if markdown:
        lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        widths = [max(len(c) for c in col) for col in zip(head, *rows, strict=True)]
        lines += ["", "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)
