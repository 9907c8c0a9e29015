"""rnnkit: recurrent neural networks (Elman, LSTM, GRU) with fast BPTT on the CPU.

``rnnkit.nn`` holds drop-in replacements for ``torch.nn.RNN/LSTM/GRU`` and their cells,
``rnnkit.functional`` the reference math they are tested against, ``rnnkit.kernels`` the
registry of implementations, ``rnnkit.train`` the training engine and ``rnnkit.tasks`` the
forecasting, classification and tagging tasks. :func:`train`, :func:`evaluate`,
:func:`predict` and :func:`load` are what the ``rnnkit`` command does, as one call each.
"""

from rnnkit.core.version import package_version

__version__ = package_version()  # set before the imports below, which may read it

# The training engine is the subpackage ``rnnkit.train``, and ``rnnkit.train(...)`` is the
# one-call API. Importing the subpackage first keeps the name bound to the function: a later
# first import of the subpackage would rebind the package attribute to the module.
# Likewise ``rnnkit.export(...)`` is the function and ``rnnkit.export`` the subpackage that holds
# it (onnx and onnxruntime are imported only when an export runs), and ``rnnkit.tune(...)`` over
# the subpackage ``rnnkit.tune`` (optuna and scikit-learn, the ``tune`` extra, are imported only
# when a tune runs).
import rnnkit.export
import rnnkit.train
import rnnkit.tune  # noqa: F401
from rnnkit import functional, kernels, nn
from rnnkit.api import evaluate, generate, load, predict, train
from rnnkit.errors import BackendUnavailableError, RNNKitError
from rnnkit.export.onnx_export import export
from rnnkit.tune import tune

__all__ = [
    "BackendUnavailableError",
    "RNNKitError",
    "__version__",
    "evaluate",
    "export",
    "functional",
    "generate",
    "kernels",
    "load",
    "nn",
    "predict",
    "train",
    "tune",
]
