"""One ConfigError for the whole package; the version read from the package metadata."""

import importlib.metadata

import pytest

import rnnkit
import rnnkit.config
from rnnkit.errors import ConfigError, PlotDependencyError, RNNKitError
from rnnkit.train import config as train_config


def test_one_config_error_class():
    from rnnkit.train import ConfigError as engine_error

    assert rnnkit.config.ConfigError is train_config.ConfigError is ConfigError
    assert engine_error is ConfigError
    assert issubclass(ConfigError, RNNKitError) and issubclass(ConfigError, ValueError)


def test_except_config_error_of_the_config_module_catches_the_training_config_error():
    with pytest.raises(rnnkit.config.ConfigError, match=r"TrainConfig: epochs must be an int"):
        train_config.TrainConfig(epochs=0)
    try:
        train_config.TrainConfig.from_dict({"clip_nrom": 1.0})
    except rnnkit.config.ConfigError as err:
        assert "unknown option(s) 'clip_nrom' (did you mean 'clip_norm'?)" in str(err)
    else:  # pragma: no cover
        pytest.fail("ConfigError not raised")


def test_plot_dependency_error_is_an_import_error_of_rnnkit():
    assert issubclass(PlotDependencyError, RNNKitError)
    assert issubclass(PlotDependencyError, ImportError)
    from rnnkit.train import PlotDependencyError as engine_error

    assert engine_error is PlotDependencyError


def test_version_comes_from_the_package_metadata(monkeypatch):
    from rnnkit.core import version

    assert rnnkit.__version__ == importlib.metadata.version("rnnkit")

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert version.package_version() == version.UNKNOWN == "0+unknown"
