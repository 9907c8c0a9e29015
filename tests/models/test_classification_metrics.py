"""Classification metrics against hand-computed values; the confusion-matrix PNG; word-level
segmentation scores; the non-recurrent baselines."""

import numpy as np
import pytest

from rnnkit.models.classification_baselines import (
    BagOfWordsLogistic,
    ChannelStatsLogistic,
    MostFrequentTag,
    NearestNeighbour,
    resample,
)
from rnnkit.models.classification_metrics import (
    classification_report,
    plot_confusion_matrix,
    segmentation_scores,
)


def test_report_values_by_hand():
    # true:  a a a b b c      predicted: a a b b c c
    report = classification_report([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], ["a", "b", "c"])
    assert report.confusion.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    np.testing.assert_allclose(report.precision, [1.0, 0.5, 0.5])
    np.testing.assert_allclose(report.recall, [2 / 3, 0.5, 1.0])
    f1 = [0.8, 0.5, 2 / 3]
    np.testing.assert_allclose(report.f1, f1)
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.macro_f1 == pytest.approx(np.mean(f1))
    d = report.to_dict()
    assert d["per_class"]["b"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    table = report.format_table()
    assert "macro-F1" in table and "0.667" in table
    assert report.format_confusion().splitlines()[1].split() == ["a", "2", "1", "0"]


def test_class_never_predicted_counts_as_zero_precision():
    report = classification_report([0, 1], [0, 0], ["x", "y"])
    assert report.precision.tolist() == [0.5, 0.0]
    assert report.f1[1] == 0.0


def test_bad_ids_are_refused():
    with pytest.raises(
        ValueError, match=r"y_pred must hold class ids in \[0, 2\), got range \[0, 5\]"
    ):
        classification_report([0, 1], [0, 5], ["x", "y"])
    with pytest.raises(ValueError, match="same length"):
        classification_report([0, 1], [0], ["x", "y"])


def test_confusion_matrix_png(tmp_path):
    report = classification_report([0, 1, 1], [0, 1, 0], ["neg", "pos"])
    path = plot_confusion_matrix(report, tmp_path / "cm.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_segmentation_scores():
    gold = [["b", "e", "s", "b", "m", "e"]]  # words: [0,2) [2,3) [3,6)
    pred = [["b", "e", "s", "s", "b", "e"]]  # words: [0,2) [2,3) [3,4) [4,6)
    s = segmentation_scores(gold, pred)
    assert s["word_precision"] == pytest.approx(2 / 4)
    assert s["word_recall"] == pytest.approx(2 / 3)
    assert s["word_f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


def test_bag_of_words_learns_keyword_rule():
    rng = np.random.default_rng(0)
    # Token 2 means class 1, token 3 class 0; tokens 4..49 are noise.
    docs, y = [], []
    for _ in range(300):
        label = int(rng.integers(2))
        docs.append([2 if label else 3, *rng.integers(4, 50, size=5).tolist()])
        y.append(label)
    y = np.array(y)
    model = BagOfWordsLogistic(50, 2).fit(docs[:200], y[:200], (docs[200:250], y[200:250]))
    assert (model.predict(docs[250:]) == y[250:]).mean() == 1.0
    assert model.l2 is not None


def test_resample_and_nearest_neighbour():
    np.testing.assert_allclose(resample(np.array([[0.0], [2.0]]), 3), [[0.0], [1.0], [2.0]])
    up = [np.linspace(0, 1, n)[:, None] for n in (5, 7, 9)]
    down = [np.linspace(1, 0, n)[:, None] for n in (6, 8)]
    nn = NearestNeighbour().fit(up + down, np.array([1, 1, 1, 0, 0]))
    assert nn.length == 7
    assert nn.predict([np.linspace(0, 1, 10)[:, None], np.linspace(1, 0, 4)[:, None]]).tolist() == [
        1,
        0,
    ]


def test_channel_stats_logistic_separates_by_level():
    rng = np.random.default_rng(1)
    seqs = [rng.normal(loc=3 * (i % 2), size=(int(rng.integers(5, 15)), 2)) for i in range(60)]
    y = np.arange(60) % 2
    model = ChannelStatsLogistic(2).fit(seqs[:40], y[:40])
    assert (model.predict(seqs[40:]) == y[40:]).mean() == 1.0


def test_most_frequent_tag():
    model = MostFrequentTag().fit([["a", "b", "a"], ["a", "c"]], [[1, 0, 1], [2, 0]])
    # 'a' was tagged 1 twice and 2 once; 'z' is unseen: the most frequent tag overall (0 and 1
    # tie at 2 each; the smaller id wins).
    assert [t.tolist() for t in model.predict([["a", "z", "c"]])] == [[1, 0, 0]]
