"""One "did you mean ...?" for every misspelt name rnnkit reports (options, columns, datasets)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# Lower than difflib's 0.6 so that short names one edit away ('yy' -> 'y') are still suggested.
CUTOFF = 0.5


def closest(name: object, choices: Iterable[object]) -> str | None:
    """The choice closest to ``name`` (compared as text), or None when nothing is close.

    A choice that differs only in case always counts as close ('Day' -> 'day').
    """
    options = [str(c) for c in choices]
    text = str(name)
    close = difflib.get_close_matches(text, options, n=1, cutoff=CUTOFF)
    if close:
        return close[0]
    lower = {o.lower(): o for o in options}
    return lower.get(text.lower())


def did_you_mean(name: object, choices: Iterable[object], *, quote: bool = True) -> str:
    """The phrase to append to an error message: ``" (did you mean 'x'?)"``, or ``""``.

    Args:
        name: what the user wrote.
        choices: the valid names.
        quote: write the suggestion as ``repr`` ('x'); ``False`` writes it bare (x), as the
            config-file messages do.

    Example:
        >>> did_you_mean("hiden_size", ["hidden_size", "epochs"])
        " (did you mean 'hidden_size'?)"
    """
    match = closest(name, choices)
    if match is None:
        return ""
    return f" (did you mean {match!r}?)" if quote else f" (did you mean {match}?)"
