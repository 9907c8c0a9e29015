"""RNNClassifier and RNNRegressor: learning, variable lengths, the estimator contract, and use
inside GridSearchCV, cross_val_score and Pipeline."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from rnnkit.sklearn import RNNClassifier, RNNRegressor


def sign_task(n=60, t=8, seed=0):
    """Class 1 when the mean of channel 0 over time is positive (needs the whole sequence)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, t, 2)).astype(np.float32)
    return X, (X[:, :, 0].mean(axis=1) > 0).astype(int)


def sum_task(n=80, seed=0):
    """Variable-length sequences whose target is the sum of channel 0."""
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(int(t), 2)) for t in rng.integers(3, 10, size=n)]
    return X, np.array([x[:, 0].sum() for x in X])


@pytest.mark.parametrize("seed", [0, 1])
def test_classifier_learns_a_whole_sequence_rule(seed):
    X, y = sign_task(seed=seed)
    Xt, yt = sign_task(seed=seed + 10)
    clf = RNNClassifier(hidden_size=8, epochs=25, random_state=seed).fit(X, y)
    assert clf.score(Xt, yt) >= 0.8  # chance is about 0.5
    proba = clf.predict_proba(Xt)
    assert proba.shape == (60, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert clf.classes_.tolist() == [0, 1] and clf.n_features_in_ == 2


def test_regressor_learns_sums_of_variable_length_sequences():
    X, y = sum_task()
    Xt, yt = sum_task(seed=5)
    reg = RNNRegressor(hidden_size=8, epochs=40).fit(X, y)
    assert reg.score(Xt, yt) > 0.7  # R²: predicting the mean scores 0
    # Lengths are respected: padding a sequence with more steps changes the answer only
    # through the steps themselves, and the one-by-one prediction equals the batched one.
    one = np.array([reg.predict([x])[0] for x in Xt[:5]])
    np.testing.assert_allclose(one, reg.predict(Xt[:5]), rtol=1e-5, atol=1e-5)


def test_labels_keep_their_own_values_and_refit_is_deterministic():
    X, y = sign_task()
    names = np.where(y == 1, "up", "down")
    a = RNNClassifier(hidden_size=4, epochs=3, random_state=3).fit(X, names)
    b = clone(a).fit(X, names)
    assert set(a.predict(X)) <= {"up", "down"}
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_partial_fit_continues_training():
    X, y = sign_task()
    clf = RNNClassifier(hidden_size=8, random_state=0)
    with pytest.raises(ValueError, match="classes must be given on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X, y, classes=[0, 1])
    first = clf.predict_proba(X)
    for _ in range(15):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 16
    assert not np.allclose(first, clf.predict_proba(X))
    assert clf.score(X, y) > 0.8


def test_grid_search_cross_val_and_pipeline():
    X, y = sign_task(n=45)
    search = GridSearchCV(RNNClassifier(epochs=5), {"hidden_size": [4, 8]}, cv=3).fit(X, y)
    assert search.best_params_["hidden_size"] in (4, 8)
    assert search.cv_results_["mean_test_score"].shape == (2,)
    scores = cross_val_score(RNNRegressor(hidden_size=4, epochs=5), *sum_task(n=30), cv=3)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    # A step before the estimator in a Pipeline: doubling the inputs changes nothing that
    # the estimator's own standardisation does not undo.
    pipe = Pipeline([("double", FunctionTransformer(lambda a: a * 2)),
                     ("rnn", RNNClassifier(hidden_size=4, epochs=3))]).fit(X, y)
    alone = RNNClassifier(hidden_size=4, epochs=3).fit(X, y)
    np.testing.assert_allclose(pipe.predict_proba(X), alone.predict_proba(X), atol=1e-5)


def test_bad_inputs_name_what_was_expected():
    X, y = sign_task(n=10)
    clf = RNNClassifier(epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but RNNClassifier is expecting 2"):
        clf.predict(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"every sequence must have the same number of "
                                         r"features, got \[2, 3\]"):
        clf.predict([np.zeros((4, 2)), np.zeros((4, 3))])
    with pytest.raises(ValueError, match="hidden_size must be an integer >= 1, got 0"):
        RNNClassifier(hidden_size=0).fit(X, y)
    with pytest.raises(ValueError, match="y must hold at least 2 classes, got 1 class"):
        RNNClassifier(epochs=1).fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="RNNRegressor: X contains NaN"):
        RNNRegressor(epochs=1).fit(np.full((4, 3, 1), np.nan), np.zeros(4))


@pytest.mark.parametrize("seed", [0, 1])
def test_forecaster_continues_a_seasonal_series(seed):
    from rnnkit.sklearn import RNNForecaster

    t = np.arange(300)
    y = 5.0 + 2.0 * np.sin(2 * np.pi * t / 24)  # a daily season, in data units
    f = RNNForecaster(input_length=24, horizon=6, hidden_size=16, epochs=15,
                      random_state=seed).fit(y[:-6])
    forecast = f.predict()
    assert forecast.shape == (6,)
    assert f.score(y[-6:]) > 0.9  # R² against what followed
    np.testing.assert_allclose(f.predict(y[:-6]), forecast)  # the same context
    two = np.stack([y, -y], axis=1)
    g = RNNForecaster(input_length=12, horizon=3, hidden_size=8, epochs=2).fit(two)
    assert g.predict().shape == (3, 2)
    with pytest.raises(ValueError, match="y has 1 channels, but the forecaster was fit on 2"):
        g.predict(y)
    with pytest.raises(ValueError, match=r"at least input_length \+ horizon = 15 steps, got 10"):
        RNNForecaster(input_length=12, horizon=3).fit(y[:10])
    before = g.predict()
    g.partial_fit(two)
    assert g.n_iter_ == 3 and not np.allclose(before, g.predict())
