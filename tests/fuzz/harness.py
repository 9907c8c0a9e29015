"""What every fuzzed reader must do, and the inputs it is fed.

The contract (docs/reliability.md, "Artifacts and readers"): any file ends in a result or in one
of rnnkit's own errors —

* an :class:`rnnkit.errors.RNNKitError` (e.g. :class:`rnnkit.io.ArtifactError`), or
* a ``ValueError`` / ``TypeError`` raised by rnnkit's own code: exactly that class (not a
  subclass such as ``UnicodeDecodeError``, ``json.JSONDecodeError`` or pandas' ``ParserError``)
  and raised in a frame of rnnkit, so a library's error that escaped unwrapped is caught even
  when it is a plain ValueError;

with a message that is not empty and gives no pickle advice. Anything else (KeyError,
IndexError, a numpy or pandas error, a warning) is a bug in the reader. A reader also never
writes: the folder of the input holds the same files, unchanged, afterwards.
"""

from __future__ import annotations

import json
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

import rnnkit
from rnnkit.errors import RNNKitError

RNNKIT_SOURCE = str(Path(rnnkit.__file__).parent)


def assert_ends_cleanly(read: Callable[[Path], Any], name: str, content: bytes) -> Any:
    """Write ``content`` to a fresh temporary ``name``, ``read`` it, check the contract."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        before = {p.name: p.read_bytes() for p in Path(folder).iterdir()}
        try:
            return read(path)
        except RNNKitError as err:
            assert str(err), "an RNNKitError without a message"
        except (ValueError, TypeError) as err:
            frames = traceback.extract_tb(err.__traceback__)
            where = frames[-1].filename if frames else "?"
            assert type(err) in (ValueError, TypeError), (
                f"{type(err).__name__} escaped the reader (raised in {where}): {err}"
            )
            assert where.startswith(RNNKIT_SOURCE), (
                f"a {type(err).__name__} from outside rnnkit escaped unwrapped "
                f"(raised in {where}): {err}"
            )
            assert str(err), "an error without a message"
            assert "allow_pickle" not in str(err), f"pickle advice: {err}"
        finally:
            after = {p.name: p.read_bytes() for p in Path(folder).iterdir()}
            assert after == before, "the reader wrote into the input's folder"
    return None


# ---- inputs --------------------------------------------------------------------------------

#: Cell values that reach the interesting corners of the parsers.
TRICKY = [
    "", " ", "NaN", "nan", "NA", "inf", "-inf", "1e400", "-0", "0x10", "?", "None", "null",
    "true", "2024-01-01", "2024-02-30", "2024-01-01T00:00:00+05:00", "1/2/2024", "12:00",
    "1970", "99999999999", '"', '""', "a,b", "x\ty", "é", "\u2028", "𝔘", "\x00", "#", "@data",
    "1:2", "1,2,3", "[1]", "{}",
]
cells = st.one_of(
    st.sampled_from(TRICKY),
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.dates().map(str),
    st.text(max_size=6),
)


def delimited(columns: list[str], sep: str) -> st.SearchStrategy[str]:
    """Header + rows joined with ``sep`` and no quoting: rows may be ragged on purpose."""
    header = st.lists(st.sampled_from([*columns, "", "extra", columns[0]]), min_size=0,
                      max_size=len(columns) + 2)
    header = st.one_of(st.just(columns), st.permutations(columns), header)
    row = st.lists(cells, min_size=0, max_size=len(columns) + 2)
    good_row = st.lists(cells, min_size=len(columns), max_size=len(columns))
    rows = st.lists(st.one_of(good_row, good_row, row), max_size=8)
    return st.builds(
        lambda h, rs, end: "\n".join(sep.join(r) for r in [h, *rs]) + end,
        header, rows, st.sampled_from(["", "\n", "\r\n", "\n\n"]),
    )


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8,
)


def jsonl(keys: list[str], value: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    """Lines of JSON objects with (some of) ``keys``, and now and then a line that is not."""
    obj = st.dictionaries(st.sampled_from([*keys, "other"]), st.one_of(value, json_values),
                          max_size=len(keys) + 1).map(json.dumps)
    line = st.one_of(obj, obj, obj, json_values.map(json.dumps), st.sampled_from(["", "{", "x"]))
    return st.lists(line, max_size=6).map("\n".join)


def as_bytes(text: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """The text in UTF-8, sometimes with one byte changed, or cut short; or random bytes."""
    encoded = text.map(lambda s: s.encode("utf-8"))

    def mutate(data: bytes, where: int, byte: int) -> bytes:
        if not data:
            return bytes([byte])
        i = where % len(data)
        return data[:i] + bytes([byte]) + data[i + 1 :]

    return st.one_of(
        encoded,
        encoded,
        st.builds(mutate, encoded, st.integers(0, 10**6), st.integers(0, 255)),
        st.builds(lambda d, n: d[: n % (len(d) + 1)], encoded, st.integers(0, 10**6)),
        st.binary(max_size=200),
    )
