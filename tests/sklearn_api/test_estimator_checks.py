"""scikit-learn's own estimator checks on RNNClassifier and RNNRegressor.

Every check applies: a 2-D input (N, F) is read as N one-step sequences of F features, so the
checks' tabular data are valid sequences. RNNForecaster is not run through them: its ``fit``
takes one series ``y`` (``fit(y)``, as forecasting libraries do), not samples ``X`` with
targets ``y``, so none of the checks' calls ``fit(X, y)`` mean what they test; it has its own
tests in test_estimators.py. Small models and few epochs keep the run short.
"""

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks

from rnnkit.sklearn import RNNClassifier, RNNRegressor

#: Checks that cannot apply to these estimators, each with its reason (none at present).
EXPECTED_FAILED: dict[str, str] = {}


@parametrize_with_checks(
    [RNNClassifier(hidden_size=8, epochs=6), RNNRegressor(hidden_size=8, epochs=6)],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
