"""MiniRocket: the same labels and scores as sktime's transformer + scikit-learn's pipeline, the
state round trip for each transformer, the length rules, bad input, and its place in every
numeric classification report (sktime is optional: CI without it skips this file)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip(
    "sktime", reason="MiniRocket comes from sktime: pip install 'rnnkit[minirocket]'"
)

from sklearn.linear_model import RidgeClassifierCV  # sktime brings scikit-learn
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rnnkit.models.classification_baselines import SHIPPABLE
from rnnkit.models.minirocket_baseline import (
    ALPHAS,
    NUM_FEATURES,
    MiniRocketRidge,
    minirocket_cells,
)
from rnnkit.tasks import classify as C


def waves(n_per_class: int, channels: int, lengths, seed: int):
    """Three classes of noisy sines, frequencies 1, 2, 4 cycles per 30 steps, random phase
    (so that step-by-step distances do not separate them); one length per sequence drawn from
    ``lengths``."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k, cycles in enumerate((1, 2, 4)):
        for _ in range(n_per_class):
            t = np.arange(rng.choice(lengths))[:, None]
            phase = rng.uniform(0, 2 * np.pi, size=channels)
            xs.append(np.sin(2 * np.pi * cycles * t / 30 + phase)
                      + 0.1 * rng.normal(size=(len(t), channels)))
            ys.append(k)
    return xs, np.array(ys)


CASES = {
    "univariate": (1, [40], "MiniRocket"),
    "multivariate": (3, [40], "MiniRocketMultivariate"),
    "variable": (2, [30, 35, 45], "MiniRocketMultivariateVariable"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_scores_are_sktimes_features_through_the_papers_pipeline(case):
    channels, lengths, kind = CASES[case]
    x, y = waves(8, channels, lengths, seed=0)
    xq, yq = waves(5, channels, lengths, seed=1)
    model = MiniRocketRidge().fit(x, y)
    assert model.kind == kind
    features = model._transform(model._steps(x))
    assert features.shape == (len(x), NUM_FEATURES)
    pipeline = make_pipeline(StandardScaler(with_mean=False), RidgeClassifierCV(alphas=ALPHAS))
    pipeline.fit(features, y)
    queries = model._transform(model._steps(xq))
    np.testing.assert_allclose(model.decision(xq), pipeline.decision_function(queries),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(model.predict(xq), pipeline.predict(queries))
    assert model.alpha == pipeline[-1].alpha_
    assert np.mean(model.predict(xq) == yq) == 1.0  # frequency is what PPV features see


@pytest.mark.parametrize("case", list(CASES))
def test_the_state_round_trips_and_it_can_be_shipped(case):
    channels, lengths, _ = CASES[case]
    x, y = waves(6, channels, lengths, seed=2)
    xq, _ = waves(3, channels, [20, 40, 50], seed=3)  # lengths the training never had
    model = MiniRocketRidge().fit(x, y)
    again = SHIPPABLE["MiniRocket"].from_state(model.state())
    assert (again.kind, again.channels, again.alpha) == (model.kind, model.channels, model.alpha)
    np.testing.assert_array_equal(again.decision(xq), model.decision(xq))
    assert "MiniRocket" in C.TASK.fallback_methods


def test_two_classes_use_the_sign_of_one_score():
    x, y = waves(6, 1, [40], seed=4)
    keep = y < 2
    x2, y2 = [s for s, k in zip(x, keep, strict=True) if k], y[keep]
    model = MiniRocketRidge().fit(x2, y2)
    scores = model.decision(x2)
    assert scores.shape == (len(x2), 1)
    np.testing.assert_array_equal(model.predict(x2), (scores[:, 0] > 0).astype(int))


@pytest.mark.parametrize("case", list(CASES))
def test_lengths_are_grouped_and_short_sequences_padded(case):
    """Queries of several lengths: each one's features are those it gets alone; a query of 5
    steps gets those of itself padded with zeros (to the training length for the equal-length
    transformers, to 9 steps for the variable one)."""
    channels, lengths, _ = CASES[case]
    x, y = waves(4, channels, lengths, seed=5)
    model = MiniRocketRidge().fit(x, y)
    rng = np.random.default_rng(6)
    mixed = [rng.normal(size=(t, channels)) for t in (25, 60, 25, 5, 12)]
    together = model._transform(model._steps(mixed))
    alone = np.concatenate([model._transform(model._steps([s])) for s in mixed])
    np.testing.assert_array_equal(together, alone)
    target = 9 if case == "variable" else 40
    padded = np.concatenate([mixed[3], np.zeros((target - 5, channels))])
    np.testing.assert_array_equal(together[3], model._transform(model._steps([padded]))[0])
    assert not np.array_equal(together[0], together[2])  # features follow the sequence


def test_one_class_predicts_it_and_bad_input_is_refused():
    x, _ = waves(3, 1, [40], seed=7)
    y = np.full(len(x), 2)
    np.testing.assert_array_equal(MiniRocketRidge().fit(x, y).predict(x[:2]), [2, 2])
    with pytest.raises(ValueError, match=r"random_state must be an int, got 0.5"):
        MiniRocketRidge(0.5)
    with pytest.raises(ValueError, match=r"steps that are vectors.*got a sequence of shape "
                                         r"\(12, 2, 2\)"):
        MiniRocketRidge().fit([np.zeros((12, 2, 2))], np.array([0]))
    with pytest.raises(ValueError, match=r"one number of channels, got \[1, 2\]"):
        MiniRocketRidge().fit([np.zeros((12, 1)), np.zeros((12, 2))], np.array([0, 1]))
    with pytest.raises(ValueError, match=r"2 sequences and 1 class ids"):
        MiniRocketRidge().fit([np.zeros((12, 1)), np.zeros((12, 1))], np.array([0]))
    model = MiniRocketRidge().fit(*waves(3, 2, [40], seed=8))
    with pytest.raises(ValueError, match=r"must have 2 channels .* got \[3\]"):
        model.predict([np.zeros((12, 3))])
    with pytest.raises(ValueError, match="must be fit before predict"):
        MiniRocketRidge().predict([np.zeros((12, 1))])


def test_the_cell_count():
    # 9,996 × 2 channels × (12 + 9 (5 counts as 9) + 20) + ridge 3 × 9,996 × 3
    assert minirocket_cells([12, 5, 20], 2, 3) == 9_996 * 2 * 41 + 3 * 9_996 * 3
    # more training sequences than features: the ridge's min(N, F) is F
    assert minirocket_cells([10], 1, 20_000) == 9_996 * 10 + 20_000 * 9_996 * 9_996


def _npz(path, per_class=6, steps=12):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(2), per_class)
    x = (y[:, None, None] + 0.2 * rng.normal(size=(len(y), steps, 1))).astype(np.float32)
    np.savez(path, x=x, y=y)
    return str(path)


def test_every_numeric_report_has_it_and_says_when_it_is_skipped(tmp_path, library_baselines):
    data = _npz(tmp_path / "d.npz")
    training = C.default_training(epochs=1, plots=False)
    (tmp_path / "a").mkdir()
    config = C.ClassifyConfig(data=data, hidden_size=4, dtw_baseline="off")
    result = C.train(config, tmp_path / "a", training=training, quiet=True)
    m = result.metrics
    for part in ("val", "test"):
        assert m[part]["baselines"]["MiniRocket"]["accuracy"] == 1.0  # levels 0 and 1: easy
    assert m["minirocket_baseline"]["scored"] is True
    assert m["minirocket_baseline"]["transformer"] == "MiniRocket"
    assert "| MiniRocket | 1.0000 |" in result.summary()
    assert "9,996 features from sktime's MiniRocket" in result.summary()
    (tmp_path / "b").mkdir()
    capped = C.train(C.ClassifyConfig(data=data, hidden_size=4, dtw_baseline="off",
                                      minirocket_max_cells=100),
                     tmp_path / "b", training=training, quiet=True)
    d = capped.metrics["data"]
    total = d["train"] + d["val"] + d["test"]
    cells = 9_996 * 12 * total + d["train"] * 9_996 * d["train"]  # 12 steps, one channel
    assert capped.metrics["minirocket_baseline"]["cells"] == cells
    assert "MiniRocket" not in capped.metrics["test"]["baselines"]
    assert f"MiniRocket skipped: {cells:.3g} cells" in capped.summary()
    assert "> minirocket_max_cells=100" in capped.summary()
    (tmp_path / "c").mkdir()
    off = C.train(C.ClassifyConfig(data=data, hidden_size=4, dtw_baseline="off",
                                   minirocket_baseline="off"),
                  tmp_path / "c", training=training, quiet=True)
    assert "MiniRocket" not in off.metrics["test"]["baselines"]
    assert "minirocket_baseline" not in off.metrics


def test_the_environment_variable_leaves_it_out(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_LIBRARY_BASELINES", "off")
    (tmp_path / "a").mkdir()
    result = C.train(C.ClassifyConfig(data=_npz(tmp_path / "d.npz"), hidden_size=4),
                     tmp_path / "a", training=C.default_training(epochs=1, plots=False),
                     quiet=True)
    assert "MiniRocket" not in result.metrics["test"]["baselines"]
    assert "minirocket_baseline" not in result.metrics


def test_without_sktime_the_report_says_what_to_install(tmp_path, monkeypatch, library_baselines):
    monkeypatch.setitem(sys.modules, "sktime.transformations.rocket", None)  # import fails
    (tmp_path / "a").mkdir()
    result = C.train(C.ClassifyConfig(data=_npz(tmp_path / "d.npz"), hidden_size=4,
                                      dtw_baseline="off"),
                     tmp_path / "a", training=C.default_training(epochs=1, plots=False),
                     quiet=True)
    assert "MiniRocket" not in result.metrics["test"]["baselines"]
    record = result.metrics["minirocket_baseline"]
    assert record["scored"] is False
    assert record["note"].startswith("MiniRocket skipped: sktime is not installed, or older "
                                     "than 1.2")
    assert record["note"].endswith("pip install 'rnnkit[minirocket]'.")
    assert record["note"] in result.summary()


def test_a_bad_option_is_named():
    with pytest.raises(ValueError, match=r"minirocket_baseline must be one of \['auto', 'off'\], "
                                         r"got 'on'; minirocket_max_cells must be an int >= 1, "
                                         r"got 0"):
        C.ClassifyConfig(minirocket_baseline="on", minirocket_max_cells=0)


def test_fallback_ships_it_and_predict_labels_with_it(tmp_path, monkeypatch, library_baselines):
    """The other numeric baselines are made to answer class 0 always (half right), so MiniRocket
    is the best on validation; a network trained with a learning rate of ~0 loses to it, and
    fallback='baseline' ships it: the reloaded artifact labels exactly as it did in training."""
    def wrong(self, sequences):
        return np.zeros(len(sequences), dtype=np.int64)

    monkeypatch.setattr(C.NearestNeighbour, "predict", wrong)
    monkeypatch.setattr(C.ChannelStatsLogistic, "predict", wrong)
    data = _npz(tmp_path / "d.npz", per_class=10)
    (tmp_path / "run").mkdir()
    config = C.ClassifyConfig(data=data, hidden_size=4, fallback="baseline", dtw_baseline="off")
    result = C.train(config, tmp_path / "run",
                     training=C.default_training(epochs=1, lr=1e-9, plots=False), quiet=True)
    m = result.metrics
    assert m["verdict"]["best_baseline"] == m["fallback"]["method"] == "MiniRocket"
    again = C.evaluate(result.artifact_path)
    assert again["shipped"] == "MiniRocket"
    assert again["accuracy"] == pytest.approx(m["test"]["baselines"]["MiniRocket"]["accuracy"])
    out = C.predict(result.artifact_path, data)
    truth = np.load(data)["y"]
    np.testing.assert_array_equal(out["predicted_label"].astype(int).to_numpy(), truth)
