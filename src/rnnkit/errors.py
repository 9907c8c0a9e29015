"""rnnkit's exception hierarchy.

Bad arguments raise the standard ``ValueError`` / ``TypeError`` (so ``except ValueError`` keeps
working for people used to torch); problems that are rnnkit's own raise a subclass of
:class:`RNNKitError`. Every message names the argument, what was expected and what arrived.
"""


class RNNKitError(Exception):
    """Base class of every error that rnnkit raises on its own account."""


class BackendUnavailableError(RNNKitError, ValueError):
    """A backend was requested by name but cannot serve this call; the message says why."""
