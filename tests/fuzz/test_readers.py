"""Fuzzing the data readers: any file ends in a result or in rnnkit's own error (harness.py)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from rnnkit.data.classification_data import read_classification_data
from rnnkit.data.tagging import read_tagged
from rnnkit.data.tagging_inputs import read_tokens
from rnnkit.data.timeseries import load_series_table

from .harness import as_bytes, assert_ends_cleanly, cells, delimited, json_values, jsonl

TEXT_COLUMNS = {"text_column": "text", "label_column": "label", "format": "auto"}


@given(
    content=as_bytes(delimited(["t", "y", "x", "s"], ",")),
    covariates=st.sampled_from([[], ["x"]]),
    series=st.sampled_from([None, "s"]),
    missing=st.sampled_from(["error", "drop", "ffill", "interpolate"]),
    gaps=st.sampled_from(["keep", "fill"]),
)
# Found by this suite (each was a raw pandas/numpy error or warning before the fix):
@example(content=b"t,y,x,s\n2263-01-01,0,,", covariates=[], series=None, missing="error",
         gaps="keep")  # OutOfBoundsDatetime
@example(content=b"t,y\n\x001,0", covariates=[], series=None, missing="error",
         gaps="keep")  # year 1 parsed in seconds, overflowing in nanoseconds
@example(content=b"t,y,x,s\ninf,0,,", covariates=[], series=None, missing="error",
         gaps="keep")  # an infinite numeric time
@example(content=b"t,y,x,s\n-0,,,\n2024-01-01T00:00:00+05:00,,,", covariates=[], series=None,
         missing="drop", gaps="keep")  # mixed time zones
def test_time_series_csv(content, covariates, series, missing, gaps) -> None:
    assert_ends_cleanly(
        lambda p: load_series_table(p, time_column="t", targets=["y"], series_column=series,
                                    covariates=covariates, missing=missing, gaps=gaps),
        "series.csv",
        content,
    )


@given(
    suffix=st.sampled_from([".csv", ".tsv"]),
    content=st.data(),
    labelled=st.booleans(),
)
def test_classification_csv_and_tsv(suffix, content, labelled) -> None:
    sep = "," if suffix == ".csv" else "\t"
    data = content.draw(as_bytes(delimited(["text", "label"], sep)))
    assert_ends_cleanly(
        lambda p: read_classification_data(p, TEXT_COLUMNS, labelled=labelled),
        "reviews" + suffix,
        data,
    )


@given(content=as_bytes(jsonl(["text", "label"], cells)), labelled=st.booleans())
@example(content=b"[null]\n{}", labelled=True)  # a line that is not an object: pandas TypeError
@example(content=b"\x80", labelled=True)  # not UTF-8
def test_classification_jsonl(content, labelled) -> None:
    assert_ends_cleanly(
        lambda p: read_classification_data(p, TEXT_COLUMNS, labelled=labelled),
        "reviews.jsonl",
        content,
    )


@given(
    content=as_bytes(delimited(["id", "t", "f1", "f2", "label"], ",")),
    time_column=st.sampled_from([None, "t"]),
    features=st.sampled_from([None, ["f1"], ["f1", "f2"]]),
    labelled=st.booleans(),
)
@example(content=b"id,t,f1,f2,label\n,,,3.4028235677973366e+38,", time_column=None,
         features=None, labelled=False)  # float32 overflow warning
def test_classification_long_csv(content, time_column, features, labelled) -> None:
    columns = {"text_column": "text", "label_column": "label", "id_column": "id",
               "time_column": time_column, "feature_columns": features, "format": "long_csv"}
    assert_ends_cleanly(
        lambda p: read_classification_data(p, columns, labelled=labelled), "long.csv", content
    )


def _array(draw: st.DrawFn) -> np.ndarray:
    shape = draw(st.lists(st.integers(0, 4), min_size=0, max_size=5))
    kind = draw(st.sampled_from(["f4", "f8", "i8", "u1", "?", "c8", "U3", "O", "M8[D]"]))
    size = int(np.prod(shape))
    if kind == "O":
        return np.array([draw(json_values) for _ in range(size)] or [None], dtype=object)
    number = st.one_of(st.floats(-1e6, 1e6),
                       st.sampled_from([np.nan, np.inf, -np.inf, 1e300, 0.5, 2.0, 3.0]))
    values = draw(st.lists(number, min_size=size, max_size=size))
    with np.errstate(all="ignore"):  # NaN or 1e300 cast to ints or float32: whatever numpy makes
        return np.asarray(values, dtype="f8").astype(kind).reshape(shape)


@st.composite
def npz_files(draw: st.DrawFn) -> bytes:
    arrays = {key: _array(draw) for key in draw(st.lists(
        st.sampled_from(["x", "X", "y", "labels", "lengths", "data", "other"]), max_size=4,
        unique=True))}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # object arrays are pickled by numpy: the reader must refuse them
    data = buffer.getvalue()
    cut = draw(st.sampled_from([None, None, None, len(data) // 2, 30]))
    return data if cut is None else data[:cut]


@given(content=st.one_of(npz_files(), st.binary(max_size=100)), labelled=st.booleans())
@example(content=b"", labelled=True)  # EOFError
@example(content=b"PK\x03\x04", labelled=True)  # a damaged zip: BadZipFile, file left open
def test_classification_npz(content, labelled) -> None:
    assert_ends_cleanly(
        lambda p: read_classification_data(p, TEXT_COLUMNS, labelled=labelled), "seq.npz", content
    )


@st.composite
def ts_text(draw: st.DrawFn) -> str:
    header = draw(st.lists(st.sampled_from([
        "@problemName fuzz", "@timeStamps false", "@timeStamps true", "@univariate true",
        "@univariate false", "@classLabel true a b", "@classLabel false", "@classLabel true",
        "@equalLength true", "@seriesLength 3", "# comment", "@data", "@unknown x",
    ]), max_size=6))
    number = st.one_of(st.sampled_from(["?", "", "nan", "1e400", "x"]),
                       st.floats(-100, 100).map(repr), st.integers(-5, 5).map(str))
    dimension = st.lists(number, max_size=5).map(",".join)
    line = st.builds(lambda dims, label: ":".join(dims) + label,
                     st.lists(dimension, min_size=1, max_size=3),
                     st.sampled_from(["", ":a", ":b", ":c", ":"]))
    data = draw(st.lists(line, max_size=5))
    return "\n".join([*header, *data])


@given(content=as_bytes(ts_text()), labelled=st.booleans())
def test_classification_ts(content, labelled) -> None:
    assert_ends_cleanly(
        lambda p: read_classification_data(p, TEXT_COLUMNS, labelled=labelled), "seq.ts", content
    )


tokens = st.one_of(st.sampled_from(["the", "cat", "/", "a/b", "NN", "", " ", "\t", "é"]),
                   st.text(max_size=4))


@given(
    content=as_bytes(st.one_of(
        st.lists(st.one_of(st.builds("{}\t{}".format, tokens, tokens), tokens, st.just("")),
                 max_size=8).map("\n".join),
        jsonl(["tokens", "tags"], st.lists(tokens, max_size=4)),
        st.lists(st.lists(st.builds("{}/{}".format, tokens, tokens), max_size=4)
                 .map(" ".join), max_size=5).map("\n".join),
    )),
    name=st.sampled_from(["tagged.conll", "tagged.tsv", "tagged.jsonl", "tagged.txt"]),
)
@example(content=b"\x80", name="tagged.conll")  # UnicodeDecodeError
def test_tagged_files(content, name) -> None:
    assert_ends_cleanly(read_tagged, name, content)


@given(
    content=as_bytes(st.lists(st.text(max_size=12), max_size=6).map("\n".join)),
    name=st.sampled_from(["texts.txt", "tagged.jsonl", "tagged.conll"]),
)
@example(content=b"\x80", name="texts.txt")  # UnicodeDecodeError
def test_texts_to_tag(tagger_preprocessing, content, name) -> None:
    assert_ends_cleanly(lambda p: read_tokens(tagger_preprocessing, p), name, content)


def test_the_harness_itself_catches_a_raw_library_error() -> None:
    """The oracle must be able to fail: a raw KeyError or an unwrapped pandas error is a bug."""
    import pandas as pd
    import pytest

    def keyerror(path: Path) -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        assert_ends_cleanly(keyerror, "a.csv", b"")
    with pytest.raises(AssertionError, match="escaped"):
        assert_ends_cleanly(lambda p: pd.read_csv(p), "a.csv", b"\"a\n1,2,3\n4\n")
    with pytest.raises(AssertionError, match="wrote into the input's folder"):
        assert_ends_cleanly(lambda p: (p.parent / "new").write_text("x"), "a.csv", b"")


def test_an_npz_of_object_arrays_is_refused_without_pickle_advice(tmp_path) -> None:
    import pytest

    path = tmp_path / "seq.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled Python objects, which rnnkit never loads"):
        read_classification_data(path, TEXT_COLUMNS)


def test_a_file_that_is_not_utf8_is_named_with_its_first_bad_byte(tmp_path) -> None:
    import pytest

    path = tmp_path / "tagged.conll"
    path.write_bytes(b"the\tDT\ncat\xff\tNN\n")
    with pytest.raises(ValueError, match=r"must be UTF-8 text, got byte 0xff at offset 10"):
        read_tagged(path)
