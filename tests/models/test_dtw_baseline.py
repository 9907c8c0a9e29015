"""1-NN DTW: dtaidistance's distances against a plain dynamic program, labels, the artifact
state, bad input, and its place in every numeric classification report."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dtaidistance")

from rnnkit.models.classification_baselines import SHIPPABLE
from rnnkit.models.dtw_baseline import NearestNeighbourDTW, dtw_cells
from rnnkit.tasks import classify as C


def reference_dtw(a: np.ndarray, b: np.ndarray, radius: int) -> float:
    """DTW by the textbook recurrence, band |i − j| ≤ radius widened by the length difference
    (dtaidistance's rule), squared Euclidean step cost, square root at the end."""
    n, m = len(a), len(b)
    d = np.full((n + 1, m + 1), np.inf)
    d[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if j - i <= radius + max(0, m - n) and i - j <= radius + max(0, n - m):
                cost = float(np.sum((a[i - 1] - b[j - 1]) ** 2))
                d[i, j] = cost + min(d[i - 1, j], d[i, j - 1], d[i - 1, j - 1])
    return float(np.sqrt(d[n, m]))


@pytest.mark.parametrize("channels", [1, 2], ids=["univariate", "two-channel"])
def test_distances_are_the_banded_dynamic_program(channels):
    rng = np.random.default_rng(0)
    train = [rng.normal(size=(t, channels)).cumsum(0) for t in (20, 24, 30)]
    queries = [rng.normal(size=(t, channels)).cumsum(0) for t in (22, 30)]
    model = NearestNeighbourDTW(0.1).fit(train, np.array([0, 1, 2]))
    assert model.radius == 3  # ⌊0.1 · 30⌋
    got = model.distances(queries)
    want = np.array([[reference_dtw(q, t, 3) for t in train] for q in queries])
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert not np.allclose(got, np.array([[reference_dtw(q, t, 0) for t in train]
                                          for q in queries]))  # the band matters


def test_a_shifted_pattern_is_matched_where_euclidean_1nn_is_not():
    """Two classes: a narrow tall bump, or a wide low one. The test sequences hold the same
    shapes three steps later (within the band of 4). Warping lines the narrow bumps up; step by
    step (Euclidean), a shifted narrow bump is closer to the wide one."""
    t = np.arange(40)

    def bump(centre, wide):
        width, height = (3.0, 0.5) if wide else (1.0, 1.0)
        return (height * np.exp(-0.5 * ((t - centre) / width) ** 2))[:, None]

    train = [bump(10, False), bump(10, True), bump(30, False), bump(30, True)]
    y = np.array([0, 1, 0, 1])
    test = [bump(13, False), bump(13, True), bump(27, False), bump(27, True)]
    np.testing.assert_array_equal(NearestNeighbourDTW(0.1).fit(train, y).predict(test), y)
    euclid = C.NearestNeighbour().fit(train, y).predict(test)
    np.testing.assert_array_equal(euclid, [1, 1, 1, 1])


def test_the_state_round_trips_and_it_can_be_shipped():
    rng = np.random.default_rng(1)
    train = [rng.normal(size=(t, 2)) for t in (8, 11, 9, 12)]
    queries = [rng.normal(size=(t, 2)) for t in (10, 7, 12)]
    model = NearestNeighbourDTW(0.2).fit(train, np.array([1, 0, 1, 0]))
    again = SHIPPABLE["1-NN DTW"].from_state(model.state())
    assert again.radius == model.radius == 2
    np.testing.assert_array_equal(again.distances(queries), model.distances(queries))
    assert "1-NN DTW" in C.TASK.fallback_methods


def test_bad_input_is_refused_with_the_received_value():
    with pytest.raises(ValueError, match=r"band must be a number in \(0, 1\], got 0"):
        NearestNeighbourDTW(0)
    with pytest.raises(ValueError, match=r"steps as vectors.*got a sequence of shape \(4, 2, 2\)"):
        NearestNeighbourDTW().fit([np.zeros((4, 2, 2))], np.array([0]))
    model = NearestNeighbourDTW().fit([np.zeros((4, 2))], np.array([0]))
    with pytest.raises(ValueError, match=r"must have 2 channels .* got \[3\]"):
        model.predict([np.zeros((4, 3))])
    assert dtw_cells([3, 4], [5, 5, 5]) == 7 * 15


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
    # MiniRocket off: this file is about 1-NN DTW (tests/models/test_minirocket_baseline.py).
    result = C.train(C.ClassifyConfig(data=data, hidden_size=4, minirocket_baseline="off"),
                     tmp_path / "a",
                     training=training, quiet=True)
    m = result.metrics
    for part in ("val", "test"):
        assert m[part]["baselines"]["1-NN DTW"]["accuracy"] == 1.0  # levels 0 and 1: easy
    assert m["dtw_baseline"]["scored"] is True
    assert "| 1-NN DTW | 1.0000 |" in result.summary()
    assert "10% Sakoe-Chiba band" in result.summary()
    (tmp_path / "b").mkdir()
    capped = C.train(C.ClassifyConfig(data=data, hidden_size=4, dtw_max_cells=100,
                                      minirocket_baseline="off"),
                     tmp_path / "b", training=training, quiet=True)
    d = capped.metrics["data"]
    cells = (12 * d["train"]) * (12 * (d["val"] + d["test"]))  # every sequence has 12 steps
    assert capped.metrics["dtw_baseline"]["cells"] == cells
    assert "1-NN DTW" not in capped.metrics["test"]["baselines"]
    assert f"1-NN DTW skipped: {cells:.3g} DTW cells" in capped.summary()
    assert "> dtw_max_cells=100" in capped.summary()


def test_the_environment_variable_leaves_it_out(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_LIBRARY_BASELINES", "off")
    (tmp_path / "a").mkdir()
    result = C.train(C.ClassifyConfig(data=_npz(tmp_path / "d.npz"), hidden_size=4),
                     tmp_path / "a", training=C.default_training(epochs=1, plots=False),
                     quiet=True)
    assert "1-NN DTW" not in result.metrics["test"]["baselines"]
    assert "dtw_baseline" not in result.metrics


def test_fallback_ships_it_and_predict_labels_with_it(tmp_path, monkeypatch, library_baselines):
    """The other numeric baselines are made to answer class 0 always (half right), so 1-NN DTW is
    the best on validation; a network trained with a learning rate of ~0 loses to it, and
    fallback='baseline' ships it: the reloaded artifact labels exactly as it did in training."""
    def wrong(self, sequences):
        return np.zeros(len(sequences), dtype=np.int64)

    monkeypatch.setattr(C.NearestNeighbour, "predict", wrong)
    monkeypatch.setattr(C.ChannelStatsLogistic, "predict", wrong)
    data = _npz(tmp_path / "d.npz", per_class=10)
    (tmp_path / "run").mkdir()
    result = C.train(C.ClassifyConfig(data=data, hidden_size=4, fallback="baseline",
                                      minirocket_baseline="off"),
                     tmp_path / "run", training=C.default_training(epochs=1, lr=1e-9, plots=False),
                     quiet=True)
    m = result.metrics
    assert m["verdict"]["best_baseline"] == m["fallback"]["method"] == "1-NN DTW"
    again = C.evaluate(result.artifact_path)
    assert again["shipped"] == "1-NN DTW"
    assert again["accuracy"] == pytest.approx(m["test"]["baselines"]["1-NN DTW"]["accuracy"])
    out = C.predict(result.artifact_path, data)
    truth = np.load(data)["y"]
    np.testing.assert_array_equal(out["predicted_label"].astype(int).to_numpy(), truth)
