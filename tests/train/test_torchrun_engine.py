"""What the task pipeline and the trainer share between ranks, with two gloo processes started
by ``torch.multiprocessing.spawn``: rank 0's text on every rank (without pickle), refusing
ranks that prepared different data, rank 0's failure told to the others, as many updates on
every rank when their shards differ in length, and a global-batch gradient when the ranks'
batches carry different numbers of targets."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from rnnkit.data.batching import SequenceBatch
from rnnkit.models import SequenceRegressor
from rnnkit.train import TrainConfig, Trainer
from rnnkit.train.distributed import (
    DistributedContext,
    RankZeroFailed,
    broadcast_text,
    check_agreement,
    current_context,
    on_main,
)

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="needs torch.distributed with gloo",
)


class Parts:
    """A loader whose ``shard(rank, 2)`` is the list of batches the test gives that rank
    (unsharded: the first list)."""

    def __init__(self, parts: list[list[SequenceBatch]], mine: int | None = None) -> None:
        self.parts, self.mine = parts, mine

    def _own(self) -> list[SequenceBatch]:
        return self.parts[self.mine if self.mine is not None else 0]

    def shard(self, rank: int, world_size: int) -> Parts:
        return Parts(self.parts, rank)

    def __len__(self) -> int:
        return len(self._own())

    def batches(self, epoch: int, start: int = 0):
        yield from self._own()[start:]


def _batches(count: int, length: int, seed: int, steps: int = 8) -> list[SequenceBatch]:
    """``count`` batches of 4 sequences padded to ``steps``, each ``length`` real steps long
    (so ``4 × length`` targets per batch)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        x = torch.randn(4, steps, 2, generator=g)
        y = torch.randn(4, steps, 1, generator=g)
        out.append(SequenceBatch(x, y, lengths=torch.full((4,), length)))
    return out


def _union(a: SequenceBatch, b: SequenceBatch) -> SequenceBatch:
    return SequenceBatch(torch.cat([a.inputs, b.inputs]), torch.cat([a.targets, b.targets]),
                         lengths=torch.cat([a.lengths, b.lengths]))


def _fit(loader: Parts, ctx: DistributedContext | None) -> Trainer:
    torch.manual_seed(0)
    model = SequenceRegressor(2, 4, cell="gru")
    config = TrainConfig(epochs=2, optimizer="sgd", lr=0.5, momentum=0.0, quiet=True,
                         plots=False, monitor="train_loss")
    trainer = Trainer(model, config, callbacks=[], distributed=ctx)
    trainer.fit(loader)
    return trainer


def _case_texts(ctx: DistributedContext) -> dict:
    out = {"broadcast": broadcast_text("runs/é-1" if ctx.is_main else None, ctx),
           "made": on_main(lambda: "runs/made", ctx, "making the run directory")}
    check_agreement("same digest", ctx, "the prepared data")  # equal: no error
    try:
        check_agreement(f"digest of rank {ctx.rank}", ctx, "the prepared data")
    except RuntimeError as err:
        out["disagree"] = str(err)

    def fail() -> str:
        raise ValueError("run directory 'runs/x' already exists")

    try:
        on_main(fail, ctx, "making the run directory")
    except RankZeroFailed as err:
        out["failed"] = ["RankZeroFailed", str(err)]
    except ValueError as err:
        out["failed"] = ["ValueError", str(err)]
    return out


def _case_uneven(ctx: DistributedContext) -> dict:
    # rank 0 has 3 batches per epoch, rank 1 has 5: both must stop after 3
    trainer = _fit(Parts([_batches(3, 8, 1), _batches(5, 8, 2)]), ctx)
    return {"step": trainer.step, "updates": [r["updates"] for r in trainer.history.epochs]}


def _case_weighted(ctx: DistributedContext) -> dict:
    # rank 0's batches carry 32 targets, rank 1's 8: the update must be that of the mean over
    # all 40, not the mean of the two ranks' means
    long, short = _batches(2, 8, 1), _batches(2, 2, 2)
    trainer = _fit(Parts([long, short]), ctx)
    union = Parts([[_union(a, b) for a, b in zip(long, short, strict=True)]])
    single = _fit(union, DistributedContext())
    got, want = trainer.model.state_dict(), single.model.state_dict()
    torch.manual_seed(0)
    start = SequenceRegressor(2, 4, cell="gru").state_dict()
    return {
        "max_diff": max(float((got[k] - want[k]).abs().max()) for k in want),
        "moved": max(float((want[k] - start[k]).abs().max()) for k in want),
        "train_loss": [trainer.history.epochs[-1]["train_loss"],
                       single.history.epochs[-1]["train_loss"]],
    }


def _case_budget(ctx: DistributedContext) -> dict:
    # Fake clocks: rank 0's passes 1 s per check (over a 2.5 s budget at the third batch end),
    # rank 1's is over budget at once; rank 0 decides, so both stop after update 3.
    from rnnkit.train.time_budget import TimeBudget

    ticks = iter(range(100)) if ctx.is_main else iter([0.0] + [100.0] * 99)
    budget = TimeBudget(2.5, clock=lambda: float(next(ticks)))
    torch.manual_seed(0)
    model = SequenceRegressor(2, 4, cell="gru")
    config = TrainConfig(epochs=3, optimizer="sgd", lr=0.1, quiet=True, plots=False,
                         monitor="train_loss")
    trainer = Trainer(model, config, callbacks=[budget], distributed=ctx)
    trainer.fit(Parts([_batches(5, 8, 1), _batches(5, 8, 2)]))
    return {"step": trainer.step, "epochs": len(trainer.history.epochs),
            "reason": trainer.stop_reason}


CASES = {"texts": _case_texts, "uneven": _case_uneven, "weighted": _case_weighted,
         "budget": _case_budget}


def _worker(rank: int, store: str, out: str, case: str) -> None:
    torch.set_num_threads(1)
    # A short timeout: a rank left waiting fails the test instead of hanging it.
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2,
                            timeout=timedelta(seconds=60))
    try:
        result = CASES[case](current_context())
        # Both ranks leave together: a rank that tears its connections down while the other
        # still reads the last collective's bytes makes gloo abort the reader (SIGABRT).
        dist.barrier()
    finally:
        dist.destroy_process_group()
    Path(out, f"{rank}.json").write_text(json.dumps(result))


def _spawn(case: str, tmp_path: Path) -> list[dict]:
    mp.spawn(_worker, args=(str(tmp_path / "store"), str(tmp_path), case), nprocs=2,
             join=True)
    return [json.loads((tmp_path / f"{r}.json").read_text()) for r in (0, 1)]


def test_rank_zero_text_agreement_and_failure_reach_every_rank(tmp_path):
    r0, r1 = _spawn("texts", tmp_path)
    assert r0["broadcast"] == r1["broadcast"] == "runs/é-1"
    assert r0["made"] == r1["made"] == "runs/made"
    for r in (r0, r1):
        assert r["disagree"] == (
            "distributed run: the prepared data differs between ranks (1 of 2 rank(s) differ "
            "from rank 0); every rank must read the same data with the same options (same "
            "files at the same paths on every machine)")
    assert r0["failed"] == ["ValueError", "run directory 'runs/x' already exists"]
    assert r1["failed"] == ["RankZeroFailed", "rank 0 failed while it was making the run "
                            "directory (ValueError); its own message says why"]


def test_ranks_with_unequal_batch_counts_make_the_same_updates(tmp_path):
    r0, r1 = _spawn("uneven", tmp_path)
    assert r0 == r1 == {"step": 6, "updates": [3.0, 3.0]}


def test_rank_zero_clock_decides_the_time_budget_for_every_rank(tmp_path):
    r0, r1 = _spawn("budget", tmp_path)
    assert r0 == r1 == {"step": 3, "epochs": 1, "reason": "time budget 2.5s reached"}


def test_unequal_target_counts_give_the_global_batch_update(tmp_path):
    r0, _ = _spawn("weighted", tmp_path)
    assert r0["moved"] > 1e-2  # the updates changed the weights
    assert r0["max_diff"] < 1e-6
    assert r0["train_loss"][0] == pytest.approx(r0["train_loss"][1], rel=1e-6)


@pytest.mark.parametrize(("task_name", "options", "changed"), [
    ("forecast", {"data": "sunspots", "hidden_size": 8}, {"val_fraction": 0.2}),
    ("classify", {"data": "basic-motions", "hidden_size": 8}, {"val_fraction": 0.3}),
])
def test_every_rank_prepares_the_same_data(task_name, options, changed):
    """What each rank checks against rank 0 before training: two independent preparations
    (as two processes make them) give one digest; another split gives another."""
    from rnnkit.tasks.pipeline import _fingerprint
    from rnnkit.tasks.registry import get_task

    task = get_task(task_name)

    def digest(**extra) -> str:
        config = task.config_class(**options, **extra)
        return _fingerprint(task, task.prepare(config, task.default_training(config),
                                               lambda text: None))

    first = digest()
    assert len(first) == 64 and digest() == first
    assert digest(**changed) != first
