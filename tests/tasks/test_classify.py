"""The classification task end to end: a learning test on real data, artifact round trips,
every input format, and the messages of bad input."""

import importlib.metadata
import json

import numpy as np
import pandas as pd
import pytest

from rnnkit.io.artifact import load_artifact
from rnnkit.tasks import classify as C


def _installed(package):
    try:
        importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _fast(**overrides):
    return C.default_training(**{"epochs": 2, "plots": False, **overrides})


POSITIVE = ["a good film", "great fun", "good acting and a great story", "I loved it", "great"]
NEGATIVE = ["a bad film", "dull and boring", "bad acting and a dull story", "I hated it", "awful"]


@pytest.fixture
def text_csv(tmp_path):
    rows = [(f"r{i}", t, "pos") for i, t in enumerate(POSITIVE * 4)]
    rows += [(f"r{i + 20}", t, "neg") for i, t in enumerate(NEGATIVE * 4)]
    path = tmp_path / "reviews.csv"
    pd.DataFrame(rows, columns=["review_id", "text", "label"]).to_csv(path, index=False)
    return path


@pytest.mark.skipif(not _installed("scikit-learn"), reason="scikit-learn (data) not installed")
def test_learns_digits_and_the_artifact_predicts_identically(tmp_path):
    config = C.ClassifyConfig(data="digits", max_train=500, hidden_size=32)
    result = C.train(config, tmp_path, training=_fast(epochs=6, lr=1e-2), quiet=True)
    test = result.metrics["test"]
    # Loose bound: chance is 0.10; a small LSTM over 8 rows of 8 pixels gets far above it.
    assert test["model"]["accuracy"] > 0.7
    assert set(test["baselines"]) == {
        "1-nearest-neighbour",
        "per-channel statistics logistic regression",
    }
    assert json.loads((tmp_path / "metrics.json").read_text())["test"]["model"]["n"] == 359
    # Reloading rebuilds a model that scores exactly the same on the fixed test split.
    again = C.evaluate(result.artifact_path)
    assert again["confusion_matrix"] == test["model"]["confusion_matrix"]
    art = load_artifact(result.artifact_path)
    assert art.kind == "sequence-classifier" and art.preprocessing["labels"] == list(range(10))
    assert "accuracy" in result.summary() and "1-nearest-neighbour" in result.table()


def test_text_csv_round_trip_keeps_identifying_columns(tmp_path, text_csv):
    config = C.ClassifyConfig(
        data=str(text_csv),
        hidden_size=8,
        embedding_dim=8,
        min_freq=1,
        test_fraction=0.25,
        val_fraction=0.2,
    )
    result = C.train(config, tmp_path, training=_fast(plots=True), quiet=True)
    assert (tmp_path / "confusion_matrix.png").exists()
    assert result.metrics["data"]["test"] == 10 and result.metrics["data"]["classes"] == 2
    assert "bag-of-words logistic regression" in result.metrics["test"]["baselines"]
    frame = pd.DataFrame({"review_id": ["x1", "x2"], "text": ["great fun", "unseen words only"]})
    out = C.predict(result.artifact_path, frame)
    assert list(out.columns) == ["review_id", "text", "predicted_label", "prob_neg", "prob_pos"]
    np.testing.assert_allclose(out[["prob_neg", "prob_pos"]].sum(axis=1), 1.0, rtol=1e-6)
    # Same input, same probabilities, whether given as a frame, a file or a list of texts.
    path = tmp_path / "new.csv"
    frame.to_csv(path, index=False)
    from_file = C.predict(result.artifact_path, path)
    from_list = C.predict(result.artifact_path, frame["text"].tolist())
    np.testing.assert_array_equal(from_file["prob_pos"], out["prob_pos"])
    np.testing.assert_array_equal(from_list["prob_pos"], out["prob_pos"])


def test_long_csv_and_npz_sequences(tmp_path):
    rng = np.random.default_rng(0)
    rows, xs, ys = [], [], []
    for i in range(40):
        n = int(rng.integers(4, 9))
        label = "up" if i % 2 else "down"
        values = np.linspace(0, 1, n) * (1 if label == "up" else -1) + 0.05 * rng.normal(size=n)
        rows += [(f"s{i}", t, v, 2 * v, label) for t, v in enumerate(values)]
        xs.append(np.stack([values, 2 * values], axis=1))
        ys.append(label)
    path = tmp_path / "long.csv"
    pd.DataFrame(rows, columns=["sid", "t", "a", "b", "label"]).to_csv(path, index=False)
    config = C.ClassifyConfig(data=str(path), id_column="sid", time_column="t", hidden_size=8)
    run = tmp_path / "run"
    run.mkdir()
    result = C.train(config, run, training=_fast(), quiet=True)
    assert result.metrics["data"]["kind"] == "sequences"
    out = C.predict(result.artifact_path, path)
    assert out["sid"].tolist() == [f"s{i}" for i in range(40)]
    assert set(out["predicted_label"]) <= {"up", "down"}

    padded = np.zeros((40, 8, 2), np.float32)
    for i, x in enumerate(xs):
        padded[i, : len(x)] = x
    npz = tmp_path / "seq.npz"
    np.savez(npz, x=padded, y=np.array(ys), lengths=np.array([len(x) for x in xs]))
    run2 = tmp_path / "run2"
    run2.mkdir()
    result2 = C.train(
        C.ClassifyConfig(data=str(npz), hidden_size=8), run2, training=_fast(), quiet=True
    )
    assert result2.metrics["data"]["train"] + result2.metrics["data"]["val"] == 32


def test_bad_input_messages(tmp_path, text_csv):
    df = pd.read_csv(text_csv)
    empty = df.copy()
    empty.loc[3, "text"] = "   "
    empty.to_csv(tmp_path / "empty.csv", index=False)
    with pytest.raises(
        ValueError,
        match=r"must hold text on every row, got 1 empty row\(s\), first at data row\(s\) \[4\]",
    ):
        C.train(
            C.ClassifyConfig(data=str(tmp_path / "empty.csv")),
            tmp_path,
            training=_fast(),
            quiet=True,
        )
    one = df.assign(label="pos")
    one.to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(
        ValueError,
        match=r"label column 'label' must hold at least 2 distinct classes .* got 1: \['pos'\]",
    ):
        C.train(
            C.ClassifyConfig(data=str(tmp_path / "one.csv")), tmp_path, training=_fast(), quiet=True
        )
    with pytest.raises(
        ValueError, match=r"label_column='lable' is not a column \(did you mean 'label'\?\)"
    ):
        C.train(
            C.ClassifyConfig(data=str(text_csv), label_column="lable"),
            tmp_path,
            training=_fast(),
            quiet=True,
        )
    with pytest.raises(
        ValueError, match=r"got 'rotten-tomatos' \(did you mean 'rotten-tomatoes'\?\)"
    ):
        C.train(C.ClassifyConfig(data="rotten-tomatos"), tmp_path, training=_fast(), quiet=True)
    with pytest.raises(
        ValueError,
        match=r"ClassifyConfig: pooling must be one of \['last', 'mean', 'max', 'attention'\], got",
    ):
        C.ClassifyConfig(pooling="sum")
    with pytest.raises(
        ValueError, match=r"unknown option\(s\) 'hiden_size' \(did you mean 'hidden_size'\?\)"
    ):
        C.ClassifyConfig.from_dict({"hiden_size": 3})


def test_unseen_labels_at_evaluation_and_empty_text_at_prediction(tmp_path, text_csv):
    config = C.ClassifyConfig(
        data=str(text_csv), hidden_size=4, embedding_dim=4, min_freq=1, baselines=False
    )
    result = C.train(config, tmp_path, training=_fast(epochs=1), quiet=True)
    other = pd.DataFrame({"text": ["great", "meh"], "label": ["pos", "neutral"]})
    with pytest.raises(
        ValueError,
        match=r"seen in training \['neg', 'pos'\], got unseen label\(s\) \['neutral'\]",
    ):
        C.evaluate(result.artifact_path, other)
    with pytest.raises(ValueError, match=r"text column 'text' must hold text on every row"):
        C.predict(result.artifact_path, pd.DataFrame({"text": ["fine", ""]}))
    with pytest.raises(ValueError, match=r"first at data row\(s\) \[2\]"):
        C.predict(result.artifact_path, ["fine", " \t "])


def test_video_npz_goes_through_the_frame_encoder(tmp_path):
    rng = np.random.default_rng(0)
    # A bright dot moving right or left over 4 frames of 6×6.
    x = np.zeros((24, 4, 6, 6), np.float32)
    y = np.array(["right", "left"] * 12)
    for i in range(24):
        row = int(rng.integers(6))
        for t in range(4):
            x[i, t, row, t + 1 if y[i] == "right" else 4 - t] = 1.0
    np.savez(tmp_path / "videos.npz", x=x, y=y)
    config = C.ClassifyConfig(data=str(tmp_path / "videos.npz"), hidden_size=4, frame_features=4)
    result = C.train(config, tmp_path, training=_fast(epochs=1), quiet=True)
    art = load_artifact(result.artifact_path)
    assert art.config["model"]["input_kind"] == "frames"
    assert art.config["model"]["frame_shape"] == [6, 6]
    out = C.predict(result.artifact_path, tmp_path / "videos.npz")
    assert len(out) == 24 and list(out.columns)[-2:] == ["prob_left", "prob_right"]
