"""Where gradients vanish: Elman, GRU, LSTM (and any table cell) on long-range tasks at growing
lengths.

For every (cell, length, clipping) it trains a task model on one synthetic long-range task of
:mod:`rnnkit.data.synthetic` with the same update budget, measures the long-range diagnostics of
:mod:`rnnkit.train.diagnostics` on a fixed batch before and after training (‖∂L/∂h_t‖ against
distance from the loss, effective memory length at 1 %), and reports the test score beside the
score of the memoryless strategy:

* ``--task adding`` (default): the adding problem, two-halves variant (Hochreiter & Schmidhuber
  1997): a :class:`~rnnkit.models.SequenceRegressor`; test MSE (predicting 0 scores 2/3) and the
  share of sequences solved (|error| < 0.04). Published anchor at T = 100: LSTM MSE 0.0007, an
  Elman RNN stays near the trivial level (Hochreiter & Schmidhuber 1997; Le et al. 2015).
* ``--task temporal-order``: which of X/Y came first and second among distractors (experiment
  6a): a :class:`~rnnkit.models.SequenceClassifier`; test accuracy (guessing scores 0.25).
  Published: LSTM solves it, the Elman RNN does not.
* ``--task copy``: recall 10 symbols after a gap of T blanks (Arjovsky et al. 2016): a
  :class:`~rnnkit.models.SequenceTagger`; test cross-entropy per step (the memoryless strategy
  scores 10 log 8 / (T + 20)).

Writes ``<out>/<cell>_T<length>_<clip|noclip>/gradient_norms.png`` per run, ``<out>/boundary.png``
(test score against T, one line per cell and clipping; the dotted line is the memoryless
strategy) and ``<out>/results.csv``. Usage::

    python examples/long_range.py                     # adding: lstm, gru, rnn at T = 50, 100
    python examples/long_range.py --cells lstm rnn --lengths 100 --updates 3000 --no-unclipped
    python examples/long_range.py --task temporal-order --cells lstm rnn --lengths 50 100
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnkit.core.plotting import new_figure, save_figure
from rnnkit.data import (
    ADDING_SOLVED_TOLERANCE,
    ADDING_ZERO_MSE,
    BatchLoader,
    adding_problem,
    copy_memory,
    copy_memory_baseline,
    temporal_order,
)
from rnnkit.models import SequenceClassifier, SequenceRegressor, SequenceTagger
from rnnkit.train import TrainConfig, Trainer
from rnnkit.train.diagnostics import GradientDiagnostics, diagnose_batch


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", choices=sorted(TASKS), default="adding")
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


@dataclass(frozen=True)
class LongRangeTask:
    """One synthetic task: its data, its model, the score reported and the memoryless score."""

    data: Callable[[int, int, int], tuple[torch.Tensor, torch.Tensor]]  # (N, T, seed) → x, y
    target_at: str  # 'last' (one target per sequence) or 'every' (one per step)
    model: Callable[[str, int], torch.nn.Module]  # (cell, H) → task model
    score: str  # the Trainer.evaluate key reported
    trivial: Callable[[int], float]  # T → score of the memoryless strategy
    lower_is_better: bool


def _forget_bias(cell: str) -> float | None:
    return 1.0 if cell == "lstm" else None


TASKS = {
    "adding": LongRangeTask(
        lambda n, t, seed: adding_problem(n, t, seed=seed), "last",
        lambda cell, h: SequenceRegressor(2, h, cell=cell, tolerance=ADDING_SOLVED_TOLERANCE,
                                          forget_bias=_forget_bias(cell)),
        "test_mse", lambda t: ADDING_ZERO_MSE, True),
    "temporal-order": LongRangeTask(
        lambda n, t, seed: temporal_order(n, t, seed=seed), "last",
        lambda cell, h: SequenceClassifier(4, input_size=8, cell=cell, hidden_size=h),
        "test_accuracy", lambda t: 0.25, False),
    "copy": LongRangeTask(
        lambda n, t, seed: copy_memory(n, t, seed=seed), "every",
        lambda cell, h: SequenceTagger(10, input_kind="features", input_size=10, cell=cell,
                                       hidden_size=h, bidirectional=False),
        "test_loss", lambda t: copy_memory_baseline(t), True),
}


def run(cell: str, length: int, clip: float | None, args: argparse.Namespace) -> dict:
    task = TASKS[args.task]
    x, y = task.data(args.train_size, length, args.seed)
    xt, yt = task.data(1000, length, args.seed + 2)
    train = BatchLoader(x, y, batch_size=32, target_at=task.target_at, seed=args.seed)
    test = BatchLoader(xt, yt, batch_size=500, target_at=task.target_at, shuffle=False)
    probe = next(iter(BatchLoader(xt[:64], yt[:64], batch_size=64, target_at=task.target_at,
                                  shuffle=False).batches(0)))
    name = f"{cell}_T{length}_{'clip' if clip else 'noclip'}"
    torch.manual_seed(args.seed)
    model = task.model(cell, args.hidden)
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
        "score": scores[task.score], "trivial": task.trivial(length),
        "solved": scores.get("test_solved", float("nan")),
        "memory_before": before.memory_length(), "memory_after": after.memory_length(),
        "clipped_share": trainer.history.clipped_share, "seconds": time.perf_counter() - started,
        "words": after.describe(),
    }


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = [args.clip] + ([] if args.no_unclipped else [None])
    task = TASKS[args.task]
    metric = task.score.removeprefix("test_")
    print(f"{args.task}, H = {args.hidden}, {args.updates} updates of batch 32 (test {metric}; "
          f"the memoryless strategy in brackets; memory length at 1 % of ‖∂L/∂h‖)")
    print(f"{'run':<22} {metric:>9} {'(trivial)':>10} {'solved':>7} "
          f"{'memory before→after':>20} {'s':>6}", flush=True)
    rows = []
    for c in args.cells:
        for clip in clips:
            for t in args.lengths:
                r = run(c, t, clip, args)
                rows.append(r)  # each row as it finishes: a run takes minutes
                solved = "-" if math.isnan(r["solved"]) else f"{100 * r['solved']:.1f}%"
                print(f"{r['run']:<22} {r['score']:>9.4f} {r['trivial']:>10.4f} "
                      f"{solved:>7} {r['memory_before']:>9} → {r['memory_after']:<8} "
                      f"{r['seconds']:>6.0f}", flush=True)
    header = list(rows[0])[:-1]
    lines = [",".join(header)] + [",".join(str(r[k]) for k in header) for r in rows]
    (args.out / "results.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    fig, axes = new_figure(size=(6.4, 4.2))
    ax = axes[0, 0]
    for c in args.cells:
        for clip in clips:
            pts = [(r["T"], r["score"]) for r in rows if r["cell"] == c and r["clip"] ==
                   (clip or 0.0)]
            ax.plot(*zip(*pts, strict=True), marker="o",
                    label=f"{c}{'' if clip else ' (no clipping)'}")
    ax.plot(args.lengths, [task.trivial(t) for t in args.lengths], linestyle=":",
            color="grey", label="memoryless")
    if task.lower_is_better:
        ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel(f"test {metric}")
    ax.set_title(f"{args.task}: solved or not (near the dotted line)")
    ax.legend(fontsize=8)
    save_figure(fig, args.out / "boundary.png")
    print(f"\n{args.out / 'results.csv'}, {args.out / 'boundary.png'}, and gradient_norms.png "
          "per run")
    for r in rows:
        print(f"\n{r['run']}: {r['words']}")


if __name__ == "__main__":
    main()
