"""rnnkit's exception hierarchy.

Bad arguments raise the standard ``ValueError`` / ``TypeError`` (so ``except ValueError`` keeps
working for people used to torch); problems that are rnnkit's own raise a subclass of
:class:`RNNKitError`. Every message names the argument, what was expected and what arrived.
"""


class RNNKitError(Exception):
    """Base class of every error that rnnkit raises on its own account."""


class BackendUnavailableError(RNNKitError, ValueError):
    """A backend was requested by name but cannot serve this call; the message says why."""


class ConfigError(RNNKitError, ValueError):
    """Invalid configuration: the message lists every problem found.

    The one configuration error of rnnkit: :class:`rnnkit.config.ConfigError` and
    :class:`rnnkit.train.ConfigError` are this class, so one ``except`` catches both the task
    options' and the training options' problems.
    """


class PlotDependencyError(RNNKitError, ImportError):
    """A plot was asked for but matplotlib is not installed; the message gives the fix.

    An ``ImportError`` because that is what it is. A run with ``plots`` on checks for
    matplotlib when training starts, so it fails before any work rather than at its end.
    """
