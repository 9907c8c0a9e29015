"""TimeBudget: stop after the batch in progress once the wall-clock budget is spent (fake clock).
"""

from __future__ import annotations

import pytest

from rnnkit.train import BestWeights, TimeBudget, TrainConfig, Trainer, parse_duration
from rnnkit.train.callbacks import Callback
from rnnkit.train.time_budget import format_duration
from tests.train.helpers import adding_loader, regressor

QUIET = {"quiet": True, "plots": False}


class FakeClock:
    """Advances by ``tick`` seconds every time it is read after ``start`` reads."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


class Steps(Callback):
    """Records the update count at every batch end and epoch end."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.epochs: list[int] = []
        self.fit_ended = False

    def on_batch_end(self, trainer):
        self.batches.append(trainer.step)

    def on_epoch_end(self, trainer, row):
        self.epochs.append(row["epoch"])

    def on_fit_end(self, trainer):
        self.fit_ended = True


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800.0), ("90s", 90.0), ("1h30m", 5400.0), ("2.5h", 9000.0), ("45", 45.0),
     (" 1H 5M 3S ", 3903.0), ("0.5", 0.5), (".5m", 30.0), (12, 12.0), (1.5, 1.5)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "30x", "1m1h", "1h1h", "-5", "abc", "inf", True, None])
def test_parse_duration_rejects_bad_input_naming_the_argument(text):
    with pytest.raises(ValueError, match=r"^time_budget must be a duration such as '90s', "
                                         r"'30m', '1h30m' or '2.5h', or a number of seconds, got"):
        parse_duration(text, "time_budget")


@pytest.mark.parametrize("value", ["0", "0s", 0, -3.0, float("nan")])
def test_parse_duration_rejects_non_positive(value):
    with pytest.raises(ValueError, match=r"^duration must be a positive, finite duration, got"):
        parse_duration(value)


def test_format_duration():
    assert [format_duration(s) for s in (30, 1800, 5400, 9000, 90, 2.5, 3600)] == [
        "30s", "30m", "1h30m", "2h30m", "1m30s", "2.5s", "1h"]


def test_the_budget_stops_mid_epoch_after_the_current_update_and_fit_ends_normally():
    # 4 batches per epoch; each clock read advances 1 s: start reads 1, batch ends read 2, 3...
    budget = TimeBudget("2.5s", clock=FakeClock(1.0))
    steps, best = Steps(), BestWeights("val_loss", "min")
    trainer = Trainer(regressor(), TrainConfig(epochs=5, lr=0.01, **QUIET),
                      callbacks=[budget, steps, best])
    history = trainer.fit(adding_loader(n=64, batch_size=16),
                          adding_loader(n=16, seed=1, shuffle=False))
    # Batch 1 ends at 1 s elapsed, batch 2 at 2 s, batch 3 at 3 s >= 2.5 s: stop after update 3.
    assert steps.batches == [1, 2, 3]
    assert trainer.step == 3 and trainer.stop_training
    assert trainer.stop_reason == "time budget 2.5s reached"
    assert budget.stopped and budget.stopped_at_step == 3 and budget.elapsed == 3.0
    # The cut epoch is closed as usual (validation, history row), then fit ends normally.
    assert steps.epochs == [0] and [r["step"] for r in history.epochs] == [3]
    assert "val_loss" in history.epochs[0]
    assert best.epoch == 0 and best.weights is not None and steps.fit_ended


def test_an_unspent_budget_changes_nothing():
    budget = TimeBudget("1h", clock=FakeClock(1.0))
    trainer = Trainer(regressor(), TrainConfig(epochs=2, lr=0.01, **QUIET), callbacks=[budget])
    trainer.fit(adding_loader(n=32, batch_size=16))
    assert trainer.step == 4 and not budget.stopped and trainer.stop_reason is None


def test_the_budget_is_also_checked_after_validation():
    clock = FakeClock(0.0)

    class SlowValidation(Callback):
        def on_epoch_end(self, trainer, row):
            clock.now += 100.0  # the epoch's end took long

    budget = TimeBudget(50, clock=clock)
    trainer = Trainer(regressor(), TrainConfig(epochs=3, lr=0.01, **QUIET),
                      callbacks=[SlowValidation(), budget])
    history = trainer.fit(adding_loader(n=32, batch_size=16))
    assert len(history.epochs) == 1 and trainer.step == 2  # no second epoch was started
    assert trainer.stop_reason == "time budget 50s reached"


def test_max_steps_and_early_stopping_give_their_reason_too():
    trainer = Trainer(regressor(), TrainConfig(epochs=3, max_steps=3, **QUIET))
    trainer.fit(adding_loader(n=32, batch_size=16))
    assert trainer.stop_reason == "max_steps 3 reached"
    trainer = Trainer(regressor(), TrainConfig(epochs=9, lr=0.01, early_stopping=1,
                                               monitor_mode="max", **QUIET))
    trainer.fit(adding_loader(n=32), adding_loader(n=32, seed=1, shuffle=False))
    # Epochs are counted from 1 in messages (the 2nd epoch did not improve on the 1st).
    assert trainer.stop_reason == "early stopping after epoch 2"


def test_a_run_stopped_by_the_budget_resumes_with_a_fresh_budget(tmp_path):
    config = TrainConfig(epochs=3, lr=0.01, out_dir=str(tmp_path), **QUIET)
    first = Trainer(regressor(), config)
    first.callbacks.insert(0, TimeBudget(1.5, clock=FakeClock(1.0)))
    first.fit(adding_loader(n=64, batch_size=16))
    assert first.step == 2 and first.stop_reason == "time budget 1.5s reached"

    again = Trainer(regressor(), config)
    budget = TimeBudget("1h", clock=FakeClock(1.0))
    again.callbacks.insert(0, budget)
    again.fit(adding_loader(n=64, batch_size=16), resume=True)
    # Epoch 0 was closed at the time stop; epochs 1 and 2 run in full (4 updates each).
    assert again.step == 2 + 8 and not again.stop_training and again.stop_reason is None
    assert [r["epoch"] for r in again.history.epochs] == [0, 1, 2]


def test_time_budget_rejects_a_bad_budget():
    with pytest.raises(ValueError, match=r"^TimeBudget: seconds must be a duration"):
        TimeBudget("soon")
