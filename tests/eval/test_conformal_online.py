"""Online conformal calibration (rnnkit.eval.conformal.online_widths): coverage under drift,
no future value in any window's calibration, adaptive conformal inference, recency window,
time keys and the artifact round trip."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rnnkit.eval.conformal import (
    ConformalCalibration,
    online_widths,
    sortable_times,
    split_widths,
)


def _consecutive_times(n: int, h: int) -> np.ndarray:
    """Window i forecasts rows i + 1 … i + h of one series (stride 1)."""
    return (np.arange(n)[:, None] + 1 + np.arange(h)[None]).astype(np.float64)


def _drifting_scores(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scores = rng.normal(0.0, 1.0, (620, 2, 1))
    scores[20:] *= 3.0  # the errors triple after the validation period
    return scores


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_online_calibration_recovers_coverage_that_split_loses_under_drift(seed) -> None:
    scores = _drifting_scores(seed)
    times = _consecutive_times(len(scores), 2)
    test = scores[20:]
    covered = {}
    for rule in ("split", "online", "recent", "aci"):
        widen, _ = online_widths(scores, times, 0.8, start=20, rule=rule)
        covered[rule] = float(np.mean(test <= widen))  # E ≤ Q̂: inside [l − Q̂, u + Q̂]
    assert covered["split"] < 0.7
    for rule in ("online", "recent", "aci"):
        assert abs(covered[rule] - 0.8) <= 0.05, (rule, covered)


def test_split_rule_is_the_validation_rank_statistic_at_every_origin() -> None:
    scores = _drifting_scores(0)
    times = _consecutive_times(620, 2)
    times[20:] += 1  # as in a backtest: the test period starts after the last validation target
    widen, final = online_widths(scores, times, 0.8, start=20, rule="split")
    expected = split_widths(scores[:20], 0.8)
    assert np.array_equal(widen, np.broadcast_to(expected, widen.shape))
    assert np.array_equal(final, expected)


def _brute_force(scores, times, level, start):
    """Q̂ of each test window from the scores observed before its first target time."""
    n, h, C = scores.shape
    out = np.full((n - start, h, C), np.nan)
    for i in range(start, n):
        for k in range(h):
            seen = np.sort(scores[times[:, k] < times[i, 0], k, 0])
            out[i - start, k, 0] = seen[math.ceil((len(seen) + 1) * level) - 1]
    return out


def test_each_window_is_calibrated_on_exactly_the_targets_observed_at_its_origin() -> None:
    rng = np.random.default_rng(4)
    # a panel of two series on the same clock, windows interleaved out of time order
    h, per = 3, 40
    times = np.concatenate([_consecutive_times(per, h)] * 2)
    order = rng.permutation(2 * per)
    times = times[order]
    val = times[:, -1] <= 15  # validation: every target at or before row 15
    idx = np.concatenate([np.flatnonzero(val), np.flatnonzero(~val)])
    times = times[idx]
    start = int(val.sum())
    scores = rng.normal(size=(len(times), h, 1))
    widen, _ = online_widths(scores, times, 0.8, start=start)
    assert np.allclose(widen, _brute_force(scores, times, 0.8, start))


@pytest.mark.parametrize("rule", ["online", "recent", "aci"])
def test_no_window_sees_its_own_or_a_later_target(rule) -> None:
    rng = np.random.default_rng(5)
    h = 4
    times = _consecutive_times(60, h)
    scores = rng.normal(size=(60, h, 1))
    widen, _ = online_widths(scores, times, 0.8, start=15, rule=rule, gamma=0.05)
    i = 40  # first target at row 41
    for k in range(h):
        # the targets observed when window i is forecast stop at row 40: later ones, its own
        # included, are huge; if any leaked into window i's calibration, its Q̂ would move
        later = times[:, k] >= times[i, 0]
        leaked = scores.copy()
        leaked[later, k] = 1e6
        again, _ = online_widths(leaked, times, 0.8, start=15, rule=rule, gamma=0.05)
        assert np.array_equal(again[i - 15, k], widen[i - 15, k])
        # the check can fail: moving one value observed in time does move it
        earlier = np.flatnonzero(~later)
        moved = scores.copy()
        moved[earlier, k] = moved[earlier, k] + 5.0
        shifted, _ = online_widths(moved, times, 0.8, start=15, rule=rule, gamma=0.05)
        assert shifted[i - 15, k, 0] == pytest.approx(widen[i - 15, k, 0] + 5.0)


def test_adaptive_conformal_inference_follows_gibbs_and_candes() -> None:
    # 10 validation scores 0 … 9, then test windows that all miss (score 100), h = 1
    scores = np.concatenate([np.arange(10.0), np.full(3, 100.0)])[:, None, None]
    times = np.arange(1.0, 14.0)[:, None]
    online, _ = online_widths(scores, times, 0.8, start=10, rule="online")
    # rank ⌈(m + 1)·0.8⌉ of m = 10, 11, 12 scores: 9th, 10th, 11th smallest
    assert online[:, 0, 0].tolist() == [8.0, 9.0, 100.0]
    aci, final = online_widths(scores, times, 0.8, start=10, rule="aci", gamma=0.1)
    # α: 0.2, then the first window's miss (100 > 8): 0.2 + 0.1·(0.2 − 1) = 0.12, then the
    # second window covers (100 ≤ 100): 0.14; ranks ⌈11·0.8⌉ = 9, ⌈12·0.88⌉ = 11,
    # ⌈13·0.86⌉ = 12; the final, after the third covers too (α 0.16): ⌈14·0.84⌉ = 12
    assert aci[:, 0, 0].tolist() == [8.0, 100.0, 100.0]
    assert final[0, 0] == 100.0


def test_recent_rule_keeps_the_latest_validation_sized_window() -> None:
    scores = np.concatenate([np.arange(10.0), np.full(12, 50.0)])[:, None, None]
    times = np.arange(1.0, 23.0)[:, None]
    widen, final = online_widths(scores, times, 0.8, start=10, rule="recent")
    # the first test window sees the 10 validation scores (9th smallest: 8); window 20 sees
    # 20 observed scores and keeps the latest 10, all test scores of 50
    assert widen[10, 0, 0] == 50.0 and widen[0, 0, 0] == 8.0
    assert final[0, 0] == 50.0


def test_unknown_rule_and_start_are_refused() -> None:
    scores, times = np.zeros((5, 1, 1)), np.arange(5.0)[:, None]
    with pytest.raises(ValueError, match=r"rule must be one of .*got 'rolling'"):
        online_widths(scores, times, 0.8, start=2, rule="rolling")
    with pytest.raises(ValueError, match=r"start must be in 1 … 5 .*got 0"):
        online_widths(scores, times, 0.8, start=0)


def test_timestamps_compare_in_time_order() -> None:
    t = pd.date_range("2021-12-30", periods=4, freq="D")
    times = np.array([[t[0], t[1]], [t[2], t[3]]], dtype=object)
    values = sortable_times(times)
    assert values.shape == (2, 2)
    assert np.all(np.diff(values.ravel()) == 86_400e9)  # nanoseconds, whatever the unit
    assert np.array_equal(sortable_times(np.array([[3, 4]], dtype=object)), [[3.0, 4.0]])


def test_calibration_round_trips_with_its_rule() -> None:
    c = ConformalCalibration(0.8, 0.1, 0.9, np.array([[0.5], [-0.25]]), 33, "online")
    again = ConformalCalibration.from_dict(c.to_dict())
    assert (again.level, again.lower, again.upper, again.windows, again.rule) == (
        0.8, 0.1, 0.9, 33, "online")
    assert np.array_equal(again.widen, c.widen)
    # an artifact written before the online rule reads as split
    old = {k: v for k, v in c.to_dict().items() if k != "rule"}
    assert ConformalCalibration.from_dict(old).rule == "split"


def test_per_window_calibration_moves_each_window_by_its_own_widening() -> None:
    q = np.array([[[[1.0, 2.0]]], [[[1.0, 2.0]]]])  # (B=2, h=1, C=1, Q=2)
    c = ConformalCalibration(0.8, 0.1, 0.9, np.array([[[0.5]], [[-0.25]]]), 12, "online")
    out = c.apply(q, [0.1, 0.9])
    assert out[:, 0, 0].tolist() == [[0.5, 2.5], [1.25, 1.75]]
    with pytest.raises(ValueError, match="holds 2 windows, got quantiles of 1"):
        c.apply(q[:1], [0.1, 0.9])
