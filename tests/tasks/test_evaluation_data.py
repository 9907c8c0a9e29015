"""One rule for "a model's own test data": ``evaluate(model)`` without data scores exactly the
test split the model was scored on at training (recorded in the artifact: source, SHA-256 and
selection), for every task, from any current directory, or refuses and says why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rnnkit
from rnnkit.data.provenance import (
    Rows,
    TestDataError,
    identify_source,
    identify_test_data,
    sha256_of,
    stored_source,
)
from rnnkit.io.artifact import load_artifact
from rnnkit.tasks import classify as C
from rnnkit.tasks import forecast as F
from rnnkit.tasks import tag as T
from rnnkit.tasks.pipeline import TEST_DATA_KEY

FIXTURES = Path(__file__).parent.parent / "fixtures" / "legacy_0_1"
FAST = {"epochs": 2, "early_stopping": None, "plots": False, "quiet": True}


def recorded(artifact_path: Path) -> dict:
    return load_artifact(artifact_path).preprocessing[TEST_DATA_KEY]


def test_classifier_scores_exactly_its_recorded_test_rows(tmp_path) -> None:
    data = tmp_path / "reviews.csv"
    shutil.copy(FIXTURES / "reviews.csv", data)
    config = C.ClassifyConfig(
        data=str(data), hidden_size=4, embedding_dim=4, min_freq=1, baselines=False
    )
    result = C.train(config, tmp_path, training=C.default_training(**FAST), quiet=True)
    identity = recorded(result.artifact_path)
    assert identity["source"] == {"path": str(data.resolve()), "sha256": sha256_of(data)}
    rows = identity["selection"]["rows"]
    assert 0 < len(rows) < 36 and len(set(rows)) == len(rows)  # a part, not the whole file

    again = C.evaluate(result.artifact_path)  # before: refused for a file
    test = result.metrics["test"]["model"]
    assert again["confusion_matrix"] == test["confusion_matrix"]
    assert again["accuracy"] == test["accuracy"]
    assert sum(map(sum, again["confusion_matrix"])) == len(rows)
    # The rows recorded are the rows the test part held (the replay of the seeded split).
    full = pd.read_csv(data)
    expected = C.split(
        C.read_classification_data(str(data), C.columns_of(result.config)),
        result.config, result.training.seed, None,
    )["test"]
    assert full.iloc[rows]["text"].tolist() == expected.texts


def test_tagger_scores_its_test_sentences_not_the_whole_file(tmp_path) -> None:
    rng = np.random.default_rng(0)
    words = ["我", "爱", "北京", "天安门", "今天", "天气", "很", "好", "中国人民"]
    lines = []
    for _ in range(40):
        chosen = [words[i] for i in rng.integers(0, len(words), rng.integers(2, 6))]
        tags = [t for w in chosen for t in (["s"] if len(w) == 1 else
                                            ["b", *["m"] * (len(w) - 2), "e"])]
        tokens = [c for w in chosen for c in w]
        lines.append(json.dumps({"tokens": tokens, "tags": tags}, ensure_ascii=False))
    data = tmp_path / "tagged.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = T.TagConfig(
        data=str(data), hidden_size=4, embedding_dim=4, min_freq=1, baselines=False
    )
    result = T.train(config, tmp_path, training=T.default_training(**FAST), quiet=True)
    rows = recorded(result.artifact_path)["selection"]["rows"]
    assert 0 < len(rows) < 40

    again = T.evaluate(result.artifact_path)
    assert again["confusion_matrix"] == result.metrics["test"]["model"]["confusion_matrix"]
    test_tokens = sum(len(json.loads(lines[i])["tokens"]) for i in rows)
    assert sum(map(sum, again["confusion_matrix"])) == test_tokens  # the whole file: more


def test_forecaster_finds_its_file_from_any_directory_and_refuses_a_changed_one(
    tmp_path, monkeypatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(FIXTURES / "series.csv", work / "series.csv")
    monkeypatch.chdir(work)
    config = F.ForecastConfig(
        data="series.csv", time_column="day", targets=["load"], input_length=14, horizon=3,
        season_length=7, hidden_size=4,
    )
    (tmp_path / "run").mkdir()
    result = F.train(config, tmp_path / "run", training=F.default_training(**FAST), quiet=True)
    identity = recorded(result.artifact_path)
    assert identity["source"]["path"] == str((work / "series.csv").resolve())
    assert identity["selection"]["test_start"] == result.metrics["split"]["test_start"]

    monkeypatch.chdir(tmp_path)  # the relative name no longer reaches the file
    again = F.evaluate(result.artifact_path)
    assert again["model"]["mae"] == pytest.approx(result.metrics["test"]["model"]["mae"])

    with open(work / "series.csv", "a", encoding="utf-8") as f:
        f.write("2024-03-21,11.0\n")
    with pytest.raises(TestDataError, match="has changed since the model was trained") as err:
        F.evaluate(result.artifact_path)
    assert str(work / "series.csv") in str(err.value) and "SHA-256" in str(err.value)

    (work / "series.csv").rename(work / "moved.csv")
    with pytest.raises(TestDataError, match="no longer exists") as err:
        rnnkit.evaluate(result.artifact_path)
    assert str(work / "series.csv") in str(err.value)
    # Data given explicitly is still scored as before.
    assert F.evaluate(result.artifact_path, work / "moved.csv")["windows"] > 0


def test_separate_test_file_is_recorded_whole(tmp_path) -> None:
    reviews = pd.read_csv(FIXTURES / "reviews.csv")
    reviews.iloc[:28].to_csv(tmp_path / "train.csv", index=False)
    reviews.iloc[28:].to_csv(tmp_path / "test.csv", index=False)
    config = C.ClassifyConfig(
        data=str(tmp_path / "train.csv"), test_data=str(tmp_path / "test.csv"), hidden_size=4,
        embedding_dim=4, min_freq=1, baselines=False,
    )
    result = C.train(config, tmp_path, training=C.default_training(**FAST), quiet=True)
    identity = recorded(result.artifact_path)
    assert identity["source"]["path"] == str((tmp_path / "test.csv").resolve())
    assert identity["selection"] == {"rows": None}
    assert sum(map(sum, C.evaluate(result.artifact_path)["confusion_matrix"])) == 8


def test_artifacts_without_a_record_and_in_memory_data_are_refused() -> None:
    from rnnkit.io.artifact import UnsignedMetadataWarning

    with pytest.raises(TestDataError, match="older rnnkit"), pytest.warns(UnsignedMetadataWarning):
        rnnkit.evaluate(FIXTURES / "forecaster.safetensors")
    identity = identify_test_data(pd.DataFrame({"x": [1]}))
    assert identity["source"] is None
    with pytest.raises(TestDataError, match="in-memory data"):
        stored_source(identity)
    assert identify_source("sunspots", prefer_dataset=True)["dataset"] == "sunspots"


def test_folder_digest_covers_names_and_bytes(tmp_path) -> None:
    (tmp_path / "a.txt").write_text("1")
    before = sha256_of(tmp_path)
    (tmp_path / "a.txt").rename(tmp_path / "b.txt")
    assert sha256_of(tmp_path) != before
    rows = Rows.of(C.ClassificationData("text", texts=["x", "y", "z"],
                                        labels=np.array(["p", "q", "p"])))
    assert rows.subset([2, 0]).rows.tolist() == [2, 0]
    assert rows.subset([2, 0]).labels.tolist() == ["p", "p"]
