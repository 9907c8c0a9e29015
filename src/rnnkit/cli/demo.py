"""``rnnkit demo``: build each layer, check it against torch.nn with the same weights, time both."""

from __future__ import annotations

import argparse
import time

import torch

import rnnkit.nn as rnn


def _time(fn, repeats: int) -> float:
    fn()  # warm-up (first calls may compile or allocate)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e3


def compare_with_torch(
    kind: str,
    batch: int = 8,
    steps: int = 50,
    features: int = 16,
    hidden: int = 32,
    repeats: int = 5,
) -> dict[str, float]:
    """Same weights in ``torch.nn.<kind>`` and ``rnnkit.nn.<kind>``: output and gradient
    differences, and median milliseconds of a training step (forward + backward) of each."""
    theirs = getattr(torch.nn, kind)(features, hidden, num_layers=2, batch_first=True)
    ours = getattr(rnn, kind)(features, hidden, num_layers=2, batch_first=True)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(batch, steps, features)

    def step(layer):
        layer.zero_grad()
        out, _ = layer(x)
        out.square().mean().backward()
        return out

    out_t, out_r = step(theirs), step(ours)
    grad_diff = max(
        (a.grad - b.grad).abs().max().item()
        for a, b in zip(theirs.parameters(), ours.parameters(), strict=True)
    )
    return {
        "output_diff": (out_t - out_r).abs().max().item(),
        "grad_diff": grad_diff,
        "torch_ms": _time(lambda: step(theirs), repeats),
        "rnnkit_ms": _time(lambda: step(ours), repeats),
    }


def run(args: argparse.Namespace) -> int:
    torch.manual_seed(0)
    print("rnnkit.nn vs torch.nn, same weights, 2 layers, (B, T, F, H) = (8, 50, 16, 32)")
    print(
        f"{'layer':<6} {'max |Δ output|':>15} {'max |Δ grad|':>13} {'torch ms':>9} "
        f"{'rnnkit ms':>10} {'speed-up':>9}"
    )
    worst = 0.0
    for kind in ("RNN", "LSTM", "GRU"):
        r = compare_with_torch(kind)
        worst = max(worst, r["output_diff"], r["grad_diff"])
        print(
            f"{kind:<6} {r['output_diff']:>15.2e} {r['grad_diff']:>13.2e} {r['torch_ms']:>9.2f} "
            f"{r['rnnkit_ms']:>10.2f} {r['torch_ms'] / r['rnnkit_ms']:>8.2f}x"
        )
    verdict = "agree" if worst < 1e-4 else "DISAGREE"
    print(f"outputs and gradients {verdict} with torch.nn (largest difference {worst:.1e})")
    return 0 if worst < 1e-4 else 1


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="check rnnkit.nn against torch.nn and time both",
        description="Build RNN, LSTM and GRU in rnnkit and torch with the same weights, compare "
        "outputs and gradients, and time a training step of each.\n\nExample: rnnkit demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.set_defaults(run=run)
