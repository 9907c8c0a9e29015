"""Timing statistics on a fake clock: warm-up, interleaving, medians, repeat budgets."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rnnkit.bench.timing import interleaved, median_ms, repeats_for


class FakeClock:
    """A clock that only moves when a fake workload says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def workload(clock: FakeClock, name: str, seconds: list[float],
             calls: list[str]) -> Callable[[], None]:
    durations = iter(seconds)

    def run() -> None:
        calls.append(name)
        clock.now += next(durations)

    return run


def test_median_ms() -> None:
    assert median_ms([0.003, 0.001, 0.002]) == pytest.approx(2.0)
    assert median_ms([0.001, 0.002, 0.004, 0.010]) == pytest.approx(3.0)


def test_interleaved_warms_up_alternates_and_takes_medians() -> None:
    clock, calls = FakeClock(), []
    fns = {
        # the first (warm-up) call is slow and must not count
        "a": workload(clock, "a", [9.0, 0.001, 0.005, 0.003], calls),
        "b": workload(clock, "b", [9.0, 0.002, 0.100, 0.002], calls),
    }
    ms = interleaved(fns, repeats=3, clock=clock)
    assert ms == pytest.approx({"a": 3.0, "b": 2.0})
    assert calls == ["a", "b", "a", "b", "a", "b", "a", "b"]


def test_repeats_for_fills_the_budget_within_bounds() -> None:
    clock = FakeClock()
    assert repeats_for(workload(clock, "x", [0.1], []), 1.0, 3, 30, clock=clock) == 10
    assert repeats_for(workload(clock, "x", [0.01], []), 1.0, 3, 30, clock=clock) == 30
    assert repeats_for(workload(clock, "x", [2.0], []), 1.0, 3, 30, clock=clock) == 3
    assert repeats_for(workload(clock, "x", [0.0], []), 1.0, 3, 30, clock=clock) == 30
