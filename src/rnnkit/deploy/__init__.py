"""Deployment: run an exported model with numpy and onnxruntime only.

:mod:`rnnkit.deploy.runner` is self-contained (standard library, numpy, onnxruntime) and is
copied beside every export as ``rnnkit_runner.py``, so it runs where rnnkit and torch are not
installed. See ``docs/deployment.md``.
"""

from rnnkit.deploy.runner import (
    Classifier,
    Forecaster,
    LanguageModel,
    Model,
    Tagger,
    calendar_features,
    load,
)

__all__ = [
    "Classifier",
    "Forecaster",
    "LanguageModel",
    "Model",
    "Tagger",
    "calendar_features",
    "load",
]
