"""A small data-parallel run for the DDP test (run as a script, not collected).

    python -m torch.distributed.run --standalone --nproc_per_node=2 ddp_run.py OUT BATCH
    python ddp_run.py OUT BATCH          # the single-process reference

BATCH is the per-process batch size. Two runs, ``OUT/full`` (full BPTT) and ``OUT/truncated``
(k1 = 4, k2 = 6), each write (rank 0) ``initial.safetensors``, ``final.safetensors`` and the
engine's own files; every rank lists the files the engine wrote in ``written-<rank>.txt``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import rnnkit.core.files
from rnnkit.core.state import save_state
from rnnkit.data import BatchLoader, adding_problem
from rnnkit.models import SequenceRegressor
from rnnkit.train import (
    DistributedContext,
    TrainConfig,
    Trainer,
    init_distributed,
    shutdown_distributed,
)


def train(out: Path, batch: int, bptt: str, ctx: DistributedContext) -> None:
    x, y = adding_problem(64, 12, seed=0)
    xv, yv = adding_problem(32, 12, seed=1)
    data = BatchLoader(x, y, batch_size=batch, target_at="last", seed=0)
    val = BatchLoader(xv, yv, batch_size=batch, target_at="last", shuffle=False)
    torch.manual_seed(0)
    model = SequenceRegressor(2, 8, cell="lstm", tolerance=0.1)
    if ctx.is_main:
        save_state(out / "initial.safetensors", model.state_dict())
    strategy = {"k1": 4, "k2": 6} if bptt == "truncated" else {}
    config = TrainConfig(epochs=2, lr=0.02, clip_norm=0.5, out_dir=str(out), quiet=True,
                         plots=False, bptt=bptt, **strategy)
    written: list[str] = []
    original = rnnkit.core.files.atomic_write_bytes

    def recording(path, data):  # every file the engine writes goes through this function
        written.append(Path(path).name)
        return original(path, data)

    rnnkit.core.files.atomic_write_bytes = recording
    try:
        Trainer(model, config).fit(data, val)
    finally:
        rnnkit.core.files.atomic_write_bytes = original
    out.mkdir(parents=True, exist_ok=True)
    (out / f"written-{ctx.rank}.txt").write_text("\n".join(sorted(set(written))))
    if ctx.is_main:
        save_state(out / "final.safetensors", model.state_dict())


def main() -> None:
    out, batch = Path(sys.argv[1]), int(sys.argv[2])
    ctx = init_distributed()
    torch.set_num_threads(1)
    for bptt in ("full", "truncated"):
        train(out / bptt, batch, bptt, ctx)
    shutdown_distributed()


if __name__ == "__main__":
    main()
