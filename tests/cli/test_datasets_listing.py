"""``rnnkit datasets`` marks a set staged in the data directory by whether its folder is there,
not by a package that does not exist."""

from __future__ import annotations

from rnnkit.cli.datasets import datasets_text


def test_data_directory_sets_are_marked_by_their_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    line = next(x for x in datasets_text().splitlines() if x.startswith("weizmann4 "))
    assert line.endswith("[not in the data directory ($RNNKIT_DATA); see docs/datasets.md]")
    assert "package not installed" not in line
    (tmp_path / "weizmann4").mkdir()
    line = next(x for x in datasets_text().splitlines() if x.startswith("weizmann4 "))
    assert "[" not in line.split("9 people")[-1]  # found: no mark
    assert "package: (data directory) (found)" in datasets_text("weizmann4")
