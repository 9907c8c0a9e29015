"""One ConfigError for the whole package; the version read from the package metadata."""

import importlib.metadata

import pytest

import rnnkit
import rnnkit.config
import rnnkit.train
import rnnkit.train.config
from rnnkit.errors import ConfigError, PlotDependencyError, RNNKitError


def test_one_config_error_class():
    assert rnnkit.config.ConfigError is rnnkit.train.config.ConfigError is ConfigError
    assert rnnkit.train.ConfigError is ConfigError
    assert issubclass(ConfigError, RNNKitError) and issubclass(ConfigError, ValueError)


def test_except_config_error_of_the_config_module_catches_the_training_config_error():
    with pytest.raises(rnnkit.config.ConfigError, match=r"TrainConfig: epochs must be an int"):
        rnnkit.train.TrainConfig(epochs=0)
    try:
        rnnkit.train.TrainConfig.from_dict({"clip_nrom": 1.0})
    except rnnkit.config.ConfigError as err:
        assert "unknown option(s) 'clip_nrom' (did you mean 'clip_norm'?)" in str(err)
    else:  # pragma: no cover
        pytest.fail("ConfigError not raised")


def test_plot_dependency_error_is_an_import_error_of_rnnkit():
    assert issubclass(PlotDependencyError, RNNKitError)
    assert issubclass(PlotDependencyError, ImportError)
    assert rnnkit.train.PlotDependencyError is PlotDependencyError


def test_version_comes_from_the_package_metadata(monkeypatch):
    from rnnkit.core import version

    assert rnnkit.__version__ == importlib.metadata.version("rnnkit")

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert version.package_version() == version.UNKNOWN == "0+unknown"
