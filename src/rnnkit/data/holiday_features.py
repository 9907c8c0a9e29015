"""Public holidays as a known-future feature, from the maintained ``holidays`` package.

``--holidays US`` (a country code, ISO 3166-1 alpha-2 as the package names them) or
``--holidays US-CA`` (country-subdivision) adds one known feature per step,

* daily or finer data: 1 when the step's date is a public holiday, else 0;
* coarser data (weekly, monthly, …): the number of holiday days within the step [t, t + 1 step),

which depends only on the timestamp, so — like the calendar features — it is known for the
forecast horizon and needs no future table. The package is optional (``pip install
rnnkit[holidays]``); the core imports without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.core.suggest import did_you_mean
from rnnkit.data.frequency import Frequency
from rnnkit.errors import RNNKitError

INSTALL = "pip install rnnkit[holidays]"


class HolidaysDependencyError(RNNKitError, ImportError):
    """Holiday features were asked for but the ``holidays`` package is not installed."""


def _package() -> Any:
    try:
        import holidays
    except ImportError as err:
        raise HolidaysDependencyError(
            f"holidays features need the 'holidays' package, which is not installed: {INSTALL}"
        ) from err
    return holidays


def check_holidays(code: str) -> tuple[str, str | None]:
    """(country, subdivision) of a code 'US' or 'US-CA', checked against the package.

    Raises:
        ValueError: an unknown country or subdivision (with the closest names).
        HolidaysDependencyError: the package is not installed.
    """
    if not isinstance(code, str) or not code.strip():
        raise ValueError(f"holidays must be a country code such as 'US' or 'US-CA', got {code!r}")
    country, _, subdiv = code.strip().partition("-")
    supported = _package().list_supported_countries()
    if country not in supported:
        raise ValueError(
            f"holidays must start with a country code the 'holidays' package knows (e.g. US, "
            f"GB, DE, FR), got {country!r}{did_you_mean(country, list(supported))}"
        )
    if subdiv and subdiv not in supported[country]:
        shown = ", ".join(supported[country][:12])
        raise ValueError(
            f"holidays subdivision of {country} must be one of {shown}"
            f"{' ...' if len(supported[country]) > 12 else ''}, got {subdiv!r}"
            f"{did_you_mean(subdiv, supported[country])}"
        )
    return country, subdiv or None


def holiday_features(
    times: pd.Series | Sequence[Any], code: str, frequency: Frequency
) -> np.ndarray:
    """The holiday feature of every time (module docstring). Shapes: times (N,) → (N, 1)."""
    country, subdiv = check_holidays(code)
    t = pd.DatetimeIndex(pd.to_datetime(list(times)))
    if len(t) == 0:
        return np.zeros((0, 1), dtype=np.float32)
    if not frequency.is_datetime:
        raise ValueError(
            f"holidays={code!r} needs a date/datetime time column, but the time column is "
            "numeric; leave holidays unset"
        )
    # a step of a day or less holds one date; a longer step counts the holidays inside it
    coarse = frequency.kind in ("month", "year") or (
        frequency.kind == "timedelta" and frequency.n > 86400
    ) or (frequency.kind == "business_day" and frequency.n > 1)
    years = range(t.min().year, t.max().year + 2)
    calendar = _package().country_holidays(country, subdiv=subdiv, years=years)
    days = np.array(sorted(np.datetime64(d, "D") for d in calendar), dtype="datetime64[D]")
    start = t.normalize().to_numpy().astype("datetime64[D]")
    if not coarse:
        return np.isin(start, days).astype(np.float32)[:, None]
    stop = np.array(
        [np.datetime64(pd.Timestamp(frequency.shift(x, 1)).normalize(), "D") for x in t],
        dtype="datetime64[D]",
    )
    counts = np.searchsorted(days, stop, side="left") - np.searchsorted(days, start, "left")
    return counts.astype(np.float32)[:, None]
