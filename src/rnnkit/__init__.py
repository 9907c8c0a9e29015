"""rnnkit: recurrent neural networks (Elman, LSTM, GRU) with fast BPTT on the CPU.

``rnnkit.nn`` holds drop-in replacements for ``torch.nn.RNN/LSTM/GRU`` and their cells,
``rnnkit.functional`` the reference math they are tested against, and ``rnnkit.kernels`` the
registry of implementations.
"""

from rnnkit import functional, kernels, nn
from rnnkit.errors import BackendUnavailableError, RNNKitError

__version__ = "0.1.0"

__all__ = ["BackendUnavailableError", "RNNKitError", "__version__", "functional", "kernels", "nn"]
