"""Implementations of the recurrences and the registry that picks one per layer call.

``reference`` (plain torch, autograd backward) is always registered last, as the fallback.
"""

from rnnkit.kernels.reference import ReferenceBackend
from rnnkit.kernels.registry import (
    Backend,
    LayerCall,
    available_backends,
    explain,
    get_backend,
    register_backend,
    select_backend,
)

register_backend(ReferenceBackend())

__all__ = [
    "Backend",
    "LayerCall",
    "ReferenceBackend",
    "available_backends",
    "explain",
    "get_backend",
    "register_backend",
    "select_backend",
]
