"""A small training run for the kill-and-resume test (run as a script, not collected).

    python resume_run.py OUT_DIR [--pause-at STEP] [--resume]

Trains an LSTM with dropout (so every update draws from the torch RNG) on the adding problem for
3 epochs of 12 batches, writing ``last.safetensors`` every 4 updates. ``--pause-at`` makes the
run stop moving after that update and write ``OUT_DIR/paused`` (the test then SIGKILLs it);
``--resume`` continues from ``OUT_DIR/last.safetensors``. The final weights go to
``OUT_DIR/final.safetensors``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from rnnkit.core.state import save_state
from rnnkit.data import BatchLoader, adding_problem
from rnnkit.models import SequenceRegressor
from rnnkit.train import Callback, TrainConfig, Trainer, default_callbacks


class PauseAt(Callback):
    """Hold the process still after update ``step`` so that it can be killed there."""

    def __init__(self, step: int, marker: Path) -> None:
        self.step, self.marker = step, marker

    def on_batch_end(self, trainer: Trainer) -> None:
        if trainer.step >= self.step:
            self.marker.write_text(str(trainer.step))
            while True:  # wait for SIGKILL
                time.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--pause-at", type=int, default=None)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the same thread count in every run: identical float results

    x, y = adding_problem(96, 16, seed=0)
    train = BatchLoader(x, y, batch_size=8, target_at="last", seed=0)
    torch.manual_seed(0)
    model = SequenceRegressor(2, 8, cell="lstm", num_layers=2, dropout=0.25)
    config = TrainConfig(epochs=3, lr=0.01, clip_norm=1.0, out_dir=str(args.out_dir),
                         checkpoint_every=4, quiet=True, plots=False, seed=0)
    callbacks = default_callbacks(config)
    if args.pause_at is not None:
        callbacks.append(PauseAt(args.pause_at, args.out_dir / "paused"))
    Trainer(model, config, callbacks=callbacks).fit(train, resume=args.resume)
    save_state(args.out_dir / "final.safetensors", model.state_dict())


if __name__ == "__main__":
    main()
