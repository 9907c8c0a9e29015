"""The synthetic seq2seq tasks: correct targets, seeded, disjoint splits."""

import datetime as dt
import re

import pytest

from rnnkit.data.parallel import read_parallel
from rnnkit.data.seq2seq_synthetic import (
    DATE_FORMATS,
    DEFAULT_SIZES,
    MONTHS,
    synthetic_pairs,
    synthetic_splits,
)


def test_reversal_and_addition_targets_are_right():
    sources, targets = synthetic_pairs("reversal", 300, seed=3)
    assert all(t == s[::-1] and 3 <= len(s) <= 10 for s, t in zip(sources, targets, strict=True))
    assert all(re.fullmatch(r"[0-9a-z]+", s) for s in sources)
    sources, targets = synthetic_pairs("addition", 300, seed=3)
    for s, t in zip(sources, targets, strict=True):
        a, b = s.split("+")
        assert 0 <= int(a) <= 999 and 0 <= int(b) <= 999 and int(t) == int(a) + int(b)


def _parse(text: str) -> dt.date:
    """An independent reader of the source formats (month names, ordinals, day-first)."""
    months = {m.lower(): i + 1 for i, m in enumerate(MONTHS)}
    months.update({m[:3].lower(): i + 1 for i, m in enumerate(MONTHS)})
    text = re.sub(r"^(monday|tuesday|wednesday|thursday|friday|saturday|sunday), ", "",
                  text.lower())
    text = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", text).replace(" of ", " ").replace(",", "")
    if re.fullmatch(r"\d{8}", text):
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    parts = re.split(r"[ ./-]", text)
    if parts[0].isdigit() and parts[1].isdigit():
        d, m, y = (int(p) for p in parts)
    elif parts[0].isdigit():
        d, m, y = int(parts[0]), months[parts[1]], int(parts[2])
    else:
        m, d, y = months[parts[0]], int(parts[1]), int(parts[2])
    if y < 100:
        y += 1900 if y >= 50 else 2000
    return dt.date(y, m, d)


def test_dates_targets_are_the_iso_form_of_every_format():
    sources, targets = synthetic_pairs("dates", 2000, seed=1)
    for s, t in zip(sources, targets, strict=True):
        assert _parse(s).isoformat() == t, s
        assert "1950-01-01" <= t <= "2049-12-31"
    # every format occurs (11 formats, 2000 draws)
    assert len(DATE_FORMATS) == 11
    assert any("/" in s and len(s) == 8 for s in sources)  # dd/mm/yy
    assert any(re.fullmatch(r"\d{8}", s) for s in sources)
    assert DATE_FORMATS["Month dth, yyyy"](dt.date(2021, 3, 3)) == "March 3rd, 2021"
    assert DATE_FORMATS["dd/mm/yy"](dt.date(2021, 3, 3)) == "03/03/21"
    assert DATE_FORMATS["d Month yyyy"](dt.date(2021, 3, 3)) == "3 March 2021"
    assert DATE_FORMATS["dth of Month yyyy"](dt.date(2021, 3, 12)) == "12th of March 2021"


def test_seeded_and_different_across_seeds():
    assert synthetic_pairs("addition", 50, seed=7) == synthetic_pairs("addition", 50, seed=7)
    assert synthetic_pairs("addition", 50, seed=7) != synthetic_pairs("addition", 50, seed=8)
    # the first examples of a larger draw are the smaller draw: sizes do not reshuffle
    assert synthetic_pairs("dates", 80, seed=2)[0][:40] == synthetic_pairs("dates", 40, seed=2)[0]


@pytest.mark.parametrize("name", ["reversal", "addition", "dates"])
def test_splits_are_disjoint_and_read_by_name(name):
    splits = read_parallel(name)
    sizes = DEFAULT_SIZES[name]
    assert (len(splits.train), len(splits.val), len(splits.test)) == sizes
    seen = set(splits.train.sources)
    assert not seen & set(splits.val.sources) and not seen & set(splits.test.sources)
    assert splits.val.source == f"synthetic {name}/val (seed 0)"
    assert splits.train.sha256 == synthetic_splits(name).train.sha256


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"task must be one of .*got 'adition' \(did you mean "
                                         r"'addition'\?\)"):
        synthetic_pairs("adition", 5)
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        synthetic_pairs("addition", 0)
    with pytest.raises(ValueError, match="sizes must be three ints >= 1"):
        synthetic_splits("addition", sizes=(10, 0, 5))
