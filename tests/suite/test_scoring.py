"""Holdout scores as the forecasting competitions compute them."""

import numpy as np
import pytest

from rnnkit.suite.scoring import holdout_scores, mase_scale, mean_scores


def test_scores_by_hand():
    train = np.array([1.0, 2.0, 4.0, 7.0])  # |Δ| = 1, 2, 3 → scale 2 (m = 1)
    s = holdout_scores(train, np.array([10.0, 10.0]), np.array([8.0, 12.0]), season=1)
    assert s["mase"] == pytest.approx(2.0 / 2.0)
    assert s["smape"] == pytest.approx(100 * np.mean([4 / 18, 4 / 22]))
    assert s["mape"] == pytest.approx(20.0)


def test_mase_scale_falls_back_to_one_step_for_short_series():
    y = np.array([1.0, 3.0, 2.0])
    assert mase_scale(y, season=12) == pytest.approx(mase_scale(y, season=1)) == 1.5
    assert np.isnan(mase_scale(np.ones(5), season=1))  # a constant series has no scale


def test_mean_scores_skip_nan_and_shape_is_checked():
    out = mean_scores(
        [{"mase": 1.0, "smape": 2.0, "mape": np.nan}, {"mase": 3.0, "smape": 4.0, "mape": np.nan}]
    )
    assert out["mase"] == 2.0 and out["smape"] == 3.0 and np.isnan(out["mape"])
    with pytest.raises(ValueError, match=r"forecast must have the holdout's shape \(2,\)"):
        holdout_scores(np.ones(4), np.ones(2), np.ones(3), season=1)
