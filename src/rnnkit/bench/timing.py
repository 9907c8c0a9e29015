"""How a time is taken: warm-up, interleaved repeats, medians; the clock can be replaced.

Threads are left at torch's default (the report records ``torch.get_num_threads()``), so the
numbers are those a user gets without tuning.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable

#: A monotonic clock in seconds; tests pass a fake one.
Clock = Callable[[], float]


def median_ms(seconds: Iterable[float]) -> float:
    """Median of durations in seconds, in milliseconds (robust to the odd descheduled run)."""
    return statistics.median(seconds) * 1e3


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, clock: Clock = time.perf_counter
) -> dict[str, float]:
    """Median milliseconds of each function, run alternately ``repeats`` times after a warm-up.

    Alternating the contenders spreads slow phases of a busy machine over all of them instead of
    penalising whichever ran during the slow phase.
    """
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: median_ms(t) for name, t in times.items()}


def repeats_for(
    fn: Callable[[], object], budget_s: float, low: int, high: int,
    clock: Clock = time.perf_counter,
) -> int:
    """How many repeats of ``fn`` fit in ``budget_s`` seconds (from one timed call), clamped
    to [low, high]."""
    start = clock()
    fn()
    once = clock() - start
    return max(low, min(high, int(budget_s / max(once, 1e-6))))
