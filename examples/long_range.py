"""Where gradients vanish: Elman, GRU and LSTM on the adding problem at growing lengths.

For every (cell, length, clipping) it trains a :class:`~rnnkit.models.SequenceRegressor` on the
adding problem (Hochreiter & Schmidhuber 1997, two-halves variant: the target is the sum of two
marked values, the first at least T/2 steps before the end; predicting 0 scores MSE 2/3) with
the same update budget, measures the long-range diagnostics of :mod:`rnnkit.train.diagnostics`
on a fixed batch before and after training (‖∂L/∂h_t‖ against distance from the loss, effective
memory length at 1 %), and reports the test MSE and the share of sequences solved
(|error| < 0.04). Published anchor at T = 100: LSTM MSE 0.0007, an Elman RNN stays near the
trivial level (Hochreiter & Schmidhuber 1997; Le et al. 2015).

Writes ``<out>/<cell>_T<length>_<clip|noclip>/gradient_norms.png`` per run, ``<out>/boundary.png``
(test MSE against T, one line per cell and clipping; the dotted line is predicting 0) and
``<out>/results.csv``. Usage::

    python examples/long_range.py                               # lstm, gru, rnn at T = 50, 100
    python examples/long_range.py --cells lstm rnn --lengths 100 --updates 3000 --no-unclipped
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from rnnkit.core.plotting import new_figure, save_figure
from rnnkit.data import ADDING_SOLVED_TOLERANCE, ADDING_ZERO_MSE, BatchLoader, adding_problem
from rnnkit.models import SequenceRegressor
from rnnkit.train import TrainConfig, Trainer
from rnnkit.train.diagnostics import GradientDiagnostics, diagnose_batch


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    p.add_argument("--lengths", nargs="+", type=int, default=[50, 100])
    p.add_argument("--hidden", type=int, default=8, help="H, hidden units")
    p.add_argument("--updates", type=int, default=3000, help="optimiser updates per run")
    p.add_argument("--train-size", type=int, default=4000)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--clip", type=float, default=1.0, help="gradient-norm clipping")
    p.add_argument("--no-unclipped", action="store_true", help="skip the runs without clipping")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/long_range"))
    return p.parse_args()


def run(cell: str, length: int, clip: float | None, args: argparse.Namespace) -> dict:
    x, y = adding_problem(args.train_size, length, seed=args.seed)
    xt, yt = adding_problem(1000, length, seed=args.seed + 2)
    train = BatchLoader(x, y, batch_size=32, target_at="last", seed=args.seed)
    test = BatchLoader(xt, yt, batch_size=500, target_at="last", shuffle=False)
    probe = next(iter(BatchLoader(xt[:64], yt[:64], batch_size=64, target_at="last",
                                  shuffle=False).batches(0)))
    name = f"{cell}_T{length}_{'clip' if clip else 'noclip'}"
    torch.manual_seed(args.seed)
    model = SequenceRegressor(2, args.hidden, cell=cell, tolerance=ADDING_SOLVED_TOLERANCE,
                              forget_bias=1.0 if cell == "lstm" else None)
    before = diagnose_batch(model, probe)
    epochs = math.ceil(args.updates / len(train))
    diagnostics = GradientDiagnostics(probe, every=max(1, epochs // 6), out_dir=args.out / name)
    config = TrainConfig(
        epochs=epochs, max_steps=args.updates, lr=args.lr, schedule="step",
        step_size=max(1, args.updates // 3), gamma=0.5, clip_norm=clip, monitor="train_loss",
        seed=args.seed, quiet=True, plots=False,
    )
    started = time.perf_counter()
    trainer = Trainer(model, config, callbacks=[diagnostics])
    trainer.fit(train)
    scores = trainer.evaluate(test)
    after = diagnose_batch(model, probe)
    return {
        "run": name, "cell": cell, "T": length, "clip": clip or 0.0,
        "test_mse": scores["test_mse"], "solved": scores["test_solved"],
        "memory_before": before.memory_length(), "memory_after": after.memory_length(),
        "clipped_share": trainer.history.clipped_share, "seconds": time.perf_counter() - started,
        "words": after.describe(),
    }


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = [args.clip] + ([] if args.no_unclipped else [None])
    rows = [run(c, t, clip, args) for c in args.cells for clip in clips for t in args.lengths]
    print(f"adding problem, H = {args.hidden}, {args.updates} updates of batch 32 "
          f"(predicting 0 scores MSE {ADDING_ZERO_MSE:.3f}; memory length at 1 % of ‖∂L/∂h‖)")
    print(f"{'run':<22} {'test MSE':>9} {'solved':>7} {'memory before→after':>20} {'s':>6}")
    for r in rows:
        print(f"{r['run']:<22} {r['test_mse']:>9.4f} {100 * r['solved']:>6.1f}% "
              f"{r['memory_before']:>9} → {r['memory_after']:<8} {r['seconds']:>6.0f}")
    header = list(rows[0])[:-1]
    lines = [",".join(header)] + [",".join(str(r[k]) for k in header) for r in rows]
    (args.out / "results.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    fig, axes = new_figure(size=(6.4, 4.2))
    ax = axes[0, 0]
    for c in args.cells:
        for clip in clips:
            pts = [(r["T"], r["test_mse"]) for r in rows if r["cell"] == c and r["clip"] ==
                   (clip or 0.0)]
            ax.plot(*zip(*pts, strict=True), marker="o",
                    label=f"{c}{'' if clip else ' (no clipping)'}")
    ax.axhline(ADDING_ZERO_MSE, linestyle=":", color="grey", label="predict 0")
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("test MSE")
    ax.set_title("adding problem: solved (low) or not (near the dotted line)")
    ax.legend(fontsize=8)
    save_figure(fig, args.out / "boundary.png")
    print(f"\n{args.out / 'results.csv'}, {args.out / 'boundary.png'}, and gradient_norms.png "
          "per run")
    for r in rows:
        print(f"\n{r['run']}: {r['words']}")


if __name__ == "__main__":
    main()
