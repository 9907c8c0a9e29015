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


def test_video_with_a_convlstm_backbone_trains_reloads_and_refuses_export(tmp_path):
    from rnnkit.export.graphs import graph_for
    from rnnkit.export.recurrent import ExportError

    rng = np.random.default_rng(0)
    x = rng.random((12, 3, 6, 6)).astype(np.float32)
    np.savez(tmp_path / "videos.npz", x=x, y=np.array(["a", "b"] * 6))
    config = C.ClassifyConfig(data=str(tmp_path / "videos.npz"), hidden_size=4,
                              frame_features=4, frame_encoder="convgru", baselines=False)
    result = C.train(config, tmp_path, training=_fast(epochs=1), quiet=True)
    assert load_artifact(result.artifact_path).config["model"]["frame_encoder"] == "convgru"
    loaded = C.load_classifier(result.artifact_path)
    assert type(loaded.model.encoder.frames).__name__ == "ConvRecurrentFrameEncoder"
    probs = C.predict(result.artifact_path, tmp_path / "videos.npz")[["prob_a", "prob_b"]]
    assert probs.shape == (12, 2) and np.allclose(probs.sum(axis=1), 1.0)
    assert probs.std().max() > 0  # the frames, not a constant, decide
    with pytest.raises(ExportError, match="frame_encoder='convgru'"):
        graph_for("sequence-classifier").sequence(loaded)


def test_video_frame_sampling_and_augmentation_train_and_predict_from_segment_centres(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((12, 9, 6, 6)).astype(np.float32)
    np.savez(tmp_path / "videos.npz", x=x, y=np.array(["a", "b"] * 6))
    config = C.ClassifyConfig(data=str(tmp_path / "videos.npz"), hidden_size=4, frame_features=4,
                              frames=3, frame_stride=2, flip=True, crop=1, baselines=False)
    result = C.train(config, tmp_path, training=_fast(epochs=2), quiet=True)
    loaded = C.load_classifier(result.artifact_path)
    assert (loaded.preprocessing.frames, loaded.preprocessing.frame_stride) == (3, 2)
    # Prediction sees frames 0, 4, 8 of 0..8 (stride 2 → 0, 2, 4, 6, 8; 3 segments of those
    # five, positions [0, 2), [2, 4), [4, 5), centres 0, 2, 4): the model on exactly those.
    from rnnkit.data.classification_data import read_classification_data

    data = read_classification_data(str(tmp_path / "videos.npz"), C.columns_of(loaded.config))
    picked = [loaded.preprocessing.normalizer.transform(s[[0, 4, 8]]) for s in data.sequences]
    want = C.predict_proba(loaded.model, picked)
    got = C.predict(result.artifact_path, tmp_path / "videos.npz")[["prob_a", "prob_b"]]
    np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("option", [{"frames": 4}, {"flip": True}, {"crop": 2}])
def test_video_options_are_refused_for_numeric_sequences(tmp_path, option):
    _npz(tmp_path / "n.npz", per_class=6, classes=2)
    config = C.ClassifyConfig(data=str(tmp_path / "n.npz"), **option)
    name = next(iter(option))
    with pytest.raises(ValueError, match=rf"{name} apply to video or depth input .*got numeric "
                                         rf"steps of shape \(1,\); leave them at {name}="):
        C.train(config, tmp_path, training=_fast(epochs=1), quiet=True)


def test_video_option_values_are_checked():
    with pytest.raises(ValueError, match=r"frames must be .*got 0"):
        C.ClassifyConfig(frames=0)
    with pytest.raises(ValueError, match=r"flip must be true or false, got 'yes'"):
        C.ClassifyConfig(flip="yes")


def test_frame_encoder_is_refused_for_numeric_sequences(tmp_path):
    _npz(tmp_path / "n.npz", per_class=6, classes=2)
    config = C.ClassifyConfig(data=str(tmp_path / "n.npz"), frame_encoder="convlstm")
    with pytest.raises(ValueError, match="frame_encoder='convlstm' applies to video or depth"):
        C.train(config, tmp_path, training=_fast(epochs=1), quiet=True)


# ---- defaults that fit the data: validation split, update budget, selection, sampling -------


def _npz(path, per_class, classes, steps=6, seed=0):
    """``classes`` classes of ``per_class`` short 1-channel sequences (class = level)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), per_class)
    x = (y[:, None, None] + 0.1 * rng.normal(size=(len(y), steps, 1))).astype(np.float32)
    np.savez(path, x=x, y=y)
    return path


def test_ten_classes_of_five_get_one_validation_sequence_each(tmp_path):
    data = C.read_classification_data(str(_npz(tmp_path / "d.npz", 5, 10)), {})
    config = C.ClassifyConfig(data=str(tmp_path / "d.npz"), val_fraction=0.1, test_fraction=0.2)
    parts = C.split(data, C.resolve(config, "sequences"), 0, None)
    # 5 × 0.2 = 1 test and 4 × 0.1 → 0 validation per class by rounding; at least one instead.
    assert [len(parts[k]) for k in ("train", "val", "test")] == [30, 10, 10]
    assert sorted(parts["val"].labels.tolist()) == list(range(10))


def test_no_validation_data_is_said_and_selects_on_training_loss(tmp_path, capsys):
    path = _npz(tmp_path / "d.npz", 6, 2)
    config = C.ClassifyConfig(data=str(path), val_fraction=0.0, hidden_size=4, baselines=False)
    result = C.train(config, tmp_path, training=_fast(epochs=1))
    out = capsys.readouterr().out
    assert "warning: no validation data (val_fraction is 0)" in out
    facts = json.loads((tmp_path / "metrics.json").read_text())["data"]
    assert facts["validation"] == "none: val_fraction is 0; selection on the training loss"
    assert result.metrics["training"]["monitor"] == "train_loss"
    assert facts["selection"] == "train_loss (min)"


def test_budget_rule():
    from rnnkit.tasks.classify_config import batch_size_for, budget_epochs

    # 45 sequences in batches of 4: 12 updates an epoch; 600 updates take 50 epochs, and
    # patience is a quarter of the budget (150 updates = 13 epochs).
    assert budget_epochs(600, 12, 20, 4) == (50, 13)
    # Large data: the default epochs already give more than the budget.
    assert budget_epochs(600, 113, 20, 4) == (20, 4)
    assert budget_epochs(600, 1, 20, None) == (600, None)
    assert [batch_size_for(n) for n in (9, 45, 243, 3600)] == [4, 4, 24, 32]


def _prepare(config, training):
    """The task's prepare step alone (data, split, preprocessing, batches, adapted training)."""
    return C.TASK.prepare(config, training, lambda line: None)


def test_default_epochs_follow_the_budget_and_given_epochs_are_kept(tmp_path):
    path = _npz(tmp_path / "d.npz", 10, 2)
    config = C.ClassifyConfig(data=str(path), min_updates=120, test_fraction=0.2)
    # 16 training sequences in batches of 4 (the floor): 4 updates an epoch, so 120 updates
    # take 30 epochs (not the default 20), and patience is ceil(120 / 16) = 8 epochs.
    training = C.default_training(config)
    prepared = _prepare(config, training)
    assert prepared.config.batch_size == 4 and len(prepared.train_batches) == 4
    assert (training.epochs, training.early_stopping) == (30, 8)
    assert (training.monitor, training.monitor_mode) == ("val_selection", "max")
    assert prepared.parts["fit"]["budget"].startswith("at least 120 updates: 30 epochs of 4")
    # Options a user gave are kept.
    given = C.default_training(
        config, epochs=3, early_stopping=2, monitor="val_accuracy", monitor_mode="max"
    )
    _prepare(config, given)
    assert (given.epochs, given.early_stopping, given.monitor) == (3, 2, "val_accuracy")
    by_loss = C.ClassifyConfig(data=str(path), min_updates=120, selection="loss")
    training = C.default_training(by_loss)
    _prepare(by_loss, training)
    assert (training.epochs, training.monitor) == (30, "val_loss")
    # Text keeps its defaults: no update budget (and so the validation loss) and no conv branch.
    text = C.resolve(C.ClassifyConfig(), "text")
    assert (text.min_updates, text.conv_branch) == (0, False)


def test_class_balanced_draws():
    from rnnkit.data.bucketing import BucketLoader

    seqs = [np.zeros((3, 1), np.float32)] * 100
    targets = [0] * 90 + [1] * 10
    loader = BucketLoader(seqs, targets, batch_size=10, seed=3, class_balanced=True)
    drawn = np.concatenate([np.concatenate(loader._order(e)) for e in range(20)])
    assert len(drawn) == 2000
    share = float(np.mean(np.asarray(targets)[drawn]))
    assert 0.45 < share < 0.55  # the minority class drawn about as often as the majority
    again = BucketLoader(seqs, targets, batch_size=10, seed=3, class_balanced=True)
    assert all(np.array_equal(a, b) for a, b in zip(loader._order(4), again._order(4), strict=True))
    plain = BucketLoader(seqs, targets, batch_size=10, seed=3)
    assert sorted(np.concatenate(plain._order(0)).tolist()) == list(range(100))
    with pytest.raises(ValueError, match=r"class_balanced=True needs target_at='last'"):
        BucketLoader(seqs, [[0, 0, 0]] * 100, target_at="every", class_balanced=True)


def test_imbalanced_numeric_data_is_sampled_by_class(tmp_path):
    rng = np.random.default_rng(0)
    y = np.array([0] * 30 + [1] * 10)
    x = (y[:, None, None] + 0.1 * rng.normal(size=(40, 5, 1))).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    config = C.ClassifyConfig(data=str(tmp_path / "d.npz"))
    prepared = _prepare(config, C.default_training(config))
    assert prepared.parts["fit"]["sampling"] == "class-balanced"
    assert prepared.train_batches.draw_weights is not None
    off = C.ClassifyConfig(data=str(tmp_path / "d.npz"), sampling="shuffle")
    assert _prepare(off, C.default_training(off)).parts["fit"]["sampling"] == "shuffled"


@pytest.mark.parametrize("kind", ["numeric", "text"])
def test_fallback_ships_the_baseline_that_beat_the_network(tmp_path, kind, text_csv):
    """Ten classes told apart by level (1-NN perfect) or two review classes told apart by
    their words (bag of words perfect): a network trained for one epoch with a learning rate
    of ~0 loses, and fallback='baseline' ships the baseline — reloaded from the artifact, it
    labels exactly as it did at training, and says so."""
    if kind == "numeric":
        data = str(_npz(tmp_path / "d.npz", 8, 10))
        extra = {}
    else:
        data, extra = str(text_csv), {"id_column": "review_id"}
    config = C.ClassifyConfig(data=data, hidden_size=4, fallback="baseline", **extra)
    (tmp_path / "run").mkdir()
    result = C.train(config, tmp_path / "run", training=_fast(epochs=1, lr=1e-9), quiet=True)
    m = result.metrics
    method = m["fallback"]["method"]
    assert method == m["verdict"]["best_baseline"] and m["verdict"]["model_wins"] is False
    assert m["val"]["baselines"][method]["accuracy"] == m["fallback"]["baseline"]
    again = C.evaluate(result.artifact_path)
    assert again["shipped"] == method
    assert again["accuracy"] == pytest.approx(m["test"]["baselines"][method]["accuracy"])
    out = C.predict(result.artifact_path, data)
    assert not any(col.startswith("prob_") for col in out.columns)
    from rnnkit.tasks.pipeline import verdict_text

    assert f"the {method} baseline is shipped" in verdict_text(m["verdict"], m["fallback"])
