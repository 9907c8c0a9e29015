"""Numeric sequence readers (long CSV, NPZ, .ts), per-channel normalisation and labels."""

import json

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.labels import LabelSet
from rnnkit.data.registry import DatasetUnavailableError, package_file
from rnnkit.data.sequence_files import Normalizer, read_long_csv, read_npz, read_ts


def _long_frame():
    # Sequence 'b' is written out of time order; 'a' has 3 steps, 'b' has 2.
    return pd.DataFrame(
        {
            "sid": ["a", "a", "b", "a", "b"],
            "t": [0, 1, 1, 2, 0],
            "x": [1.0, 2.0, 20.0, 3.0, 10.0],
            "y": [0.5, 0.5, 0.0, 0.5, 1.0],
            "label": ["up", "up", "down", "up", "down"],
        }
    )


def test_read_long_csv_groups_and_orders_steps(tmp_path):
    path = tmp_path / "seq.csv"
    _long_frame().to_csv(path, index=False)
    s = read_long_csv(path, id_column="sid", time_column="t", label_column="label")
    assert s.ids == ["a", "b"]
    assert s.labels.tolist() == ["up", "down"]
    assert s.feature_names == ["x", "y"]
    np.testing.assert_array_equal(s.sequences[0], [[1, 0.5], [2, 0.5], [3, 0.5]])
    np.testing.assert_array_equal(s.sequences[1], [[10, 1.0], [20, 0.0]])


def test_read_long_csv_bad_input_messages():
    df = _long_frame()
    with pytest.raises(
        ValueError, match=r"label_column='lable' is not a column \(did you mean 'label'\?\)"
    ):
        read_long_csv(df, id_column="sid", label_column="lable")
    bad = df.astype({"x": object})
    bad.loc[3, "x"] = "n/a"
    with pytest.raises(ValueError, match=r"column 'x' must be numeric, got 'n/a' at data row 4"):
        read_long_csv(bad, id_column="sid", label_column="label")
    nan = df.copy()
    nan.loc[1, "y"] = np.nan
    with pytest.raises(
        ValueError, match=r"features must be finite, got nan in column 'y' at data row 2"
    ):
        read_long_csv(nan, id_column="sid", label_column="label")
    mixed = df.copy()
    mixed.loc[0, "label"] = "down"
    with pytest.raises(ValueError, match=r"must be constant within a sequence, but sequence 'a'"):
        read_long_csv(mixed, id_column="sid", label_column="label")


def test_read_npz_with_lengths(tmp_path):
    x = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    np.savez(tmp_path / "d.npz", x=x, y=np.array([3, 7]), lengths=np.array([4, 2]))
    s = read_npz(tmp_path / "d.npz")
    assert s.lengths.tolist() == [4, 2] and s.labels.tolist() == [3, 7]
    np.testing.assert_array_equal(s.sequences[1], x[1, :2])
    np.savez(tmp_path / "bad.npz", inputs=x, lengths=np.array([5, 1]))
    with pytest.raises(ValueError, match=r"array 'lengths' must hold N=2 lengths in \[1, 4\]"):
        read_npz(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match=r"x_key='X2' is not an array"):
        read_npz(tmp_path / "d.npz", x_key="X2")


def test_read_ts_variable_length_multivariate(tmp_path):
    text = (
        "# comment\n@problemName toy\n@timeStamps false\n@univariate false\n@dimensions 2\n"
        "@equalLength false\n@classLabel true a b\n@data\n"
        "1,2,3:4,5,6:a\n7,8:9,10:b\n"
    )
    (tmp_path / "toy.ts").write_text(text)
    s = read_ts(tmp_path / "toy.ts")
    assert s.labels.tolist() == ["a", "b"] and s.lengths.tolist() == [3, 2]
    np.testing.assert_array_equal(s.sequences[0], [[1, 4], [2, 5], [3, 6]])
    (tmp_path / "bad.ts").write_text(text.replace("7,8:9,10:b", "7,?:9,10:b"))
    with pytest.raises(ValueError, match="line 10: values must be numbers"):
        read_ts(tmp_path / "bad.ts")


def test_read_ts_real_japanese_vowels():
    try:
        path = package_file("sktime", "sktime/datasets/data/JapaneseVowels/JapaneseVowels_TRAIN.ts")
    except DatasetUnavailableError:
        pytest.skip("sktime (data package) is not installed")
    s = read_ts(path)
    # The UEA archive's JapaneseVowels: 270 training utterances, 12 LPC channels, 7-26 steps.
    assert len(s) == 270 and s.step_shape == (12,)
    assert s.lengths.min() == 7 and s.lengths.max() == 26
    assert sorted(set(s.labels.tolist())) == [str(i) for i in range(1, 10)]


def test_normalizer_channel_and_global_and_round_trip():
    a = np.array([[0.0, 10.0], [2.0, 10.0]], np.float32)
    b = np.array([[4.0, 10.0]], np.float32)
    n = Normalizer("channel").fit([a, b])
    # Channel 0: mean 2, std sqrt(8/3); channel 1 is constant: std floored, output 0.
    np.testing.assert_allclose(n.transform(b), [[2 / np.sqrt(8 / 3), 0.0]], rtol=1e-6)
    g = Normalizer("global").fit([a, b])
    assert len(g.mean) == 1
    restored = Normalizer.from_json(json.loads(json.dumps(n.to_json())))
    np.testing.assert_array_equal(restored.transform(a), n.transform(a))
    with pytest.raises(
        ValueError, match="sequences must have 2 channels like the training data, got 3"
    ):
        n.transform(np.zeros((1, 3), np.float32))


def test_label_set_ints_strings_and_errors():
    ints = LabelSet.fit([10, 2, 2.0, 10])
    assert ints.names == [2, 10]
    assert ints.encode(["10", 2]).tolist() == [1, 0]
    strs = LabelSet.fit(["pos", "neg", "pos"])
    assert strs.decode([1, 0]) == ["pos", "neg"]
    assert LabelSet.from_json(json.loads(json.dumps(strs.to_json()))).names == strs.names
    with pytest.raises(
        ValueError, match=r"labels must hold at least 2 distinct classes .* got 1: \['pos'\]"
    ):
        LabelSet.fit(["pos", "pos"])
    with pytest.raises(
        ValueError,
        match=r"seen in training \['neg', 'pos'\], got unseen label\(s\) \['meh'\]",
    ):
        strs.encode(["pos", "meh"])
