"""Published accuracies come from the bake-off files shipped in tsml-eval, with their source."""

import importlib.metadata

import pytest

from rnnkit.suite import published
from rnnkit.suite.published import published_classification, read_accuracy_table


def test_reads_resample_zero(tmp_path):
    path = tmp_path / "X_accuracy.csv"
    path.write_text("Resamples:,0,1\nGunPoint,0.9,0.8\nAdiac,0.5,0.6\n", encoding="utf-8")
    assert read_accuracy_table(str(path)) == {"GunPoint": 0.9, "Adiac": 0.5}
    path.write_text("Dataset,acc\nGunPoint,0.9\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected a header 'Resamples:,0,1,…', got 'Dataset,acc'"):
        read_accuracy_table(str(path))


def test_missing_package_gives_a_note(monkeypatch):
    monkeypatch.setattr(published, "PACKAGE", "no-such-package-rnnkit-test")
    values, sources = published_classification(["GunPoint"])
    assert values == {}
    assert "published accuracies not shown" in sources["note"]


def test_bakeoff_values_and_sources():
    try:
        importlib.metadata.distribution("tsml-eval")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("tsml-eval is not installed")
    values, sources = published_classification(["GunPoint", "BasicMotions"])
    assert set(values) == set(published.CLASSIFICATION)
    for column, table in values.items():
        assert set(table) == {"GunPoint"}  # the bake-off is univariate only
        assert 0.5 < table["GunPoint"] <= 1.0
        assert sources[column].endswith("_accuracy.csv")
    assert "distance/1NN-DTW_accuracy.csv" in sources["1-NN DTW (published)"]
