"""Folds that respect the data, and preprocessing fit inside each fold only."""

import numpy as np
import pytest

from rnnkit.api import build_task_configs, get_task
from rnnkit.data.folds import Fold, fold_indices
from tests.tune.helpers import FAST, write_sequences, write_text_csv


def test_stratified_folds_partition_the_pool_and_keep_class_shares():
    labels = np.array([0] * 12 + [1] * 6)
    held = [fold_indices(18, Fold(3, i, seed=1), labels=labels)[1] for i in range(3)]
    assert sorted(np.concatenate(held).tolist()) == list(range(18))  # each item held once
    for h in held:
        assert np.bincount(labels[h]).tolist() == [4, 2]  # 2:1 in every fold
    train, h0 = fold_indices(18, Fold(3, 0, seed=1), labels=labels)
    assert not set(train) & set(h0)
    assert len(train) + len(h0) == 18


def test_grouped_folds_never_split_a_group():
    groups = np.array(["a", "a", "b", "b", "b", "c", "d", "d"])
    for i in range(2):
        train, held = fold_indices(8, Fold(2, i, group_column="g"), groups=groups)
        assert not set(groups[train]) & set(groups[held])


def test_fold_errors_name_the_argument_and_the_counts():
    with pytest.raises(ValueError, match=r"class '1' has 2 sequences outside the test split\), "
                                         r"got 3"):
        fold_indices(8, Fold(3, 0), labels=np.array([0] * 6 + [1] * 2))
    with pytest.raises(ValueError, match=r"number of groups in group column 'g' \(2\), got 3"):
        fold_indices(6, Fold(3, 0, group_column="g"), groups=np.array(list("aaabbb")))
    with pytest.raises(ValueError, match=r"cv \(the number of folds\) must be an integer >= 2, "
                                         r"got 1"):
        Fold(1, 0)


def _prepare(task_name, options, fold):
    task = get_task(task_name)
    config, training = build_task_configs(task, None, options)
    return task.prepare(config, training, lambda text: None, fold=fold)


def test_classify_fold_fits_the_normaliser_on_the_fold_training_part_only(tmp_path):
    path = write_sequences(tmp_path / "seq.npz")
    options = {**FAST, "data": str(path)}
    normal = _prepare("classify", options, None)
    test_ids = set(normal.parts["data"]["test"].frame.iloc[:, 0])
    held_all = []
    for i in range(3):
        p = _prepare("classify", options, Fold(3, i))
        parts = p.parts["data"]
        ids = {k: set(parts[k].frame.iloc[:, 0]) for k in ("train", "val", "test")}
        # The held-out fold ('test' of the fold) is never trained on, and the real test split
        # is in no fold.
        assert not ids["test"] & (ids["train"] | ids["val"])
        assert not test_ids & (ids["train"] | ids["val"] | ids["test"])
        held_all += sorted(ids["test"])
        # The normaliser's statistics are those of the fold's training sequences alone.
        stacked = np.concatenate(parts["train"].sequences)
        state = p.preprocessing.normalizer.to_json()
        np.testing.assert_allclose(state["mean"], stacked.mean(axis=0), rtol=1e-5, atol=1e-6)
        with_held = np.concatenate(parts["train"].sequences + parts["test"].sequences)
        assert not np.allclose(state["mean"], with_held.mean(axis=0), rtol=1e-5, atol=1e-6)
    # The three held-out folds are the whole development pool, each sequence once.
    assert len(held_all) == len(set(held_all)) == 48 - len(test_ids)


def test_text_fold_vocabulary_and_groups(tmp_path):
    path = write_text_csv(tmp_path / "reviews.csv")
    options = {"data": str(path), "min_freq": "1", "epochs": "1", "baselines": "false"}
    p = _prepare("classify", options, Fold(2, 0, group_column="speaker"))
    parts = p.parts["data"]
    train_speakers = set(parts["train"].frame["speaker"]) | set(parts["val"].frame["speaker"])
    assert not train_speakers & set(parts["test"].frame["speaker"])
    vocabulary = set(p.preprocessing.text.vocabulary.tokens)
    # 'itemN' tokens are unique per text: only the fold's training texts have theirs.
    train_items = {t.split()[-1] for t in parts["train"].texts}
    held_items = {t.split()[-1] for t in parts["test"].texts}
    assert train_items <= vocabulary
    assert not held_items & vocabulary
    with pytest.raises(ValueError, match=r"group_column must be a column of the data's rows, got "
                                         r"'speakr'; the rows have \['text', 'label', 'speaker'\]"
                                         r" \(did you mean 'speaker'\?\)"):
        _prepare("classify", options, Fold(2, 0, group_column="speakr"))


def test_forecast_rolling_origin_never_trains_on_the_future():
    options = {"data": "sunspots", "epochs": "1", "hidden_size": "4"}
    normal = _prepare("forecast", options, None)
    test_start = normal.parts["split"].test_start
    ends, starts = [], []
    for i in range(3):
        p = _prepare("forecast", options, Fold(3, i))
        table, split = p.parts["table"], p.parts["split"]
        times = table.frame[table.time_column].to_numpy()
        assert times.max() < test_start  # the real test period is never seen
        assert split.val_start < split.test_start
        # The scalers are fit on times before the fold's validation start: the preprocessor
        # saw nothing from the block it is scored on (its training rows end before it).
        a, _ = split.rows(times)
        assert times[:a].max() < split.val_start <= times[a]
        starts.append(split.test_start)
        ends.append(times.max())
    # Rolling origin: each fold's block starts after the previous one's, and ends later.
    assert starts == sorted(starts) and ends == sorted(ends) and len(set(starts)) == 3


def test_text_block_folds_partition_the_training_text_at_line_ends():
    from rnnkit.data.folds import text_block_fold

    text = "".join(f"line {i:03d} of the text\n" for i in range(60))
    held = []
    for i in range(3):
        train, val, block = text_block_fold(text, Fold(3, i), 0.1)
        assert block.endswith("\n") and (i == 0 or text[text.index(block) - 1] == "\n")
        assert block not in train + val and len(train) + len(val) + len(block) == len(text)
        assert len(val) == len(train + val) - int(len(train + val) * 0.9)  # read_corpus's cut
        held.append(block)
    assert "".join(held) == text  # the K blocks, in order, are the whole text
    assert all(abs(len(b) - len(text) / 3) < 30 for b in held)
    with pytest.raises(ValueError, match="too few for cv=3"):
        text_block_fold("abcde", Fold(3, 0), 0.1)


def test_lm_fold_never_sees_the_validation_text_and_scores_its_block(tmp_path):
    path = tmp_path / "corpus.txt"
    # the validation tail (the last 10 %) is the only place a 'Z' occurs
    path.write_text("abcab\n" * 90 + "ZZZZZ\n" * 10, encoding="utf-8")
    options = {"data": str(path), "epochs": "1", "hidden_size": "4", "batch_size": "2",
               "chunk_len": "8"}
    p = _prepare("lm", options, Fold(2, 1))
    corpus, tokenizer = p.parts["corpus"], p.preprocessing.tokenizer
    assert "Z" not in corpus.train + corpus.val
    assert "Z" not in tokenizer.decode(list(range(len(tokenizer))))  # fit on the fold only
    assert p.parts["held_ids"].numel() == 270  # block 2 of 2 of the 540 training characters
    assert corpus.source.endswith("(fold 2 of 2)")
    from rnnkit.models.language_model import LanguageModel

    task = get_task("lm")
    model = task.build_model(p)
    assert isinstance(model, LanguageModel)
    scores = task.score(model, p, 0)
    assert set(scores.metrics["test"]["model"]) >= {"loss", "perplexity", "bpc"}
    assert scores.metrics["test"]["model"]["tokens"] == 269


def test_translate_fold_holds_out_training_pairs_and_fits_its_tokeniser_on_the_rest(tmp_path):
    path = tmp_path / "pairs.tsv"
    rows = [f"w{i} x\tv{i} y" for i in range(40)]  # every pair has its own source word
    path.write_text("src\ttgt\n" + "\n".join(rows) + "\n", encoding="utf-8")
    options = {"data": str(path), "source_column": "src", "target_column": "tgt",
               "tokenizer": "word", "min_freq": "1", "epochs": "1", "hidden_size": "4"}
    p = _prepare("translate", options, Fold(2, 0))
    splits = p.parts["splits"]
    train, val, held = (set(part.sources) for part in (splits.train, splits.val, splits.test))
    assert len(held) + len(train) + len(val) == 40 and not (held & train) and not (held & val)
    assert abs(len(held) - len(train)) <= 1  # two folds of the pairs outside validation
    vocabulary = set(p.preprocessing.source_tokenizer.decode(
        list(range(len(p.preprocessing.source_tokenizer)))).split())
    assert not vocabulary & {s.split()[0] for s in held}  # fit on the fold's training pairs
    task = get_task("translate")
    scores = task.score(task.build_model(p), p, 0)
    assert {"bleu", "chrf"} <= set(scores.metrics["test"]["model"])
    with pytest.raises(ValueError, match=r"group_column applies to tables .* got 'g'"):
        _prepare("translate", options, Fold(2, 0, group_column="g"))
