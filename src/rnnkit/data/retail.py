"""A retail-like forecasting panel generated from a seed: daily sales of several stores driven
by prices, promotions and holidays that are planned in advance (future-known covariates).

For store s on day t (weekly profile w_d, d = weekday, a store level L_s by size and region)

.. math::
    \\mu_{s,t} = L_s\\, w_{d(t)}\\, (1 + a\\, \\mathrm{promo}_{s,t})\\,
        (p_{s,t} / \\bar p_s)^{-\\varepsilon}\\, (1 + b\\, \\mathrm{holiday}_t),
    \\qquad \\mathrm{sales}_{s,t} = \\mu_{s,t} \\cdot \\exp(\\eta_{s,t}),
    \\quad \\eta \\sim \\mathcal N(0, \\sigma^2)

with a = 0.8 (a promotion lifts sales by 80 %), ε = 2 (price elasticity), b = 0.6; promotions
run in blocks of 3–7 days at random starts, prices step between a few levels every few weeks,
and holidays are a fixed list of dates a year (:data:`RETAIL_HOLIDAYS`; the same days in every
store) or, with ``country``, the public holidays of the ``holidays`` package for that code
(the days ``--holidays CODE`` marks). A forecaster that reads the horizon's prices, promotions and
holidays can know the jumps in advance; one that sees only the past cannot.

Everything is drawn from ``numpy.random.default_rng(seed)``: the same arguments give the same
table on every machine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Holidays (month, day) every year: the generator's calendar of closed or busy days.
RETAIL_HOLIDAYS = ((1, 1), (5, 1), (7, 4), (10, 3), (11, 11), (12, 24), (12, 25), (12, 26))
#: Lift of a promotion, price elasticity, holiday lift, noise σ (log scale).
PROMO_LIFT, PRICE_ELASTICITY, HOLIDAY_LIFT, NOISE = 0.8, 2.0, 0.6, 0.08
_WEEKLY = np.array([0.9, 0.85, 0.9, 1.0, 1.2, 1.4, 0.75])  # Monday … Sunday
_REGIONS = ("north", "south", "east", "west")


def retail_panel(
    n_stores: int = 6,
    n_days: int = 400,
    *,
    seed: int = 0,
    start: str = "2023-01-01",
    country: str | None = None,
) -> pd.DataFrame:
    """Daily sales of ``n_stores`` stores over ``n_days`` days (equations in the module).

    Returns a long table with columns ``date``, ``store`` ('s0', 's1', …), ``sales`` (> 0),
    ``price``, ``promo`` (0/1), ``holiday`` (0/1), ``store_size`` (m², per store) and
    ``region`` (text, per store), sorted by store and date.

    Raises:
        ValueError: ``n_stores`` < 1 or ``n_days`` < 14.
    """
    for name, value, low in (("n_stores", n_stores, 1), ("n_days", n_days, 14)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"retail_panel: {name} must be an int >= {low}, got {value!r}")
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, periods=n_days, freq="D")
    if country is None:
        holiday = np.array([(d.month, d.day) in RETAIL_HOLIDAYS for d in days], dtype=np.float64)
    else:
        from rnnkit.data.frequency import Frequency
        from rnnkit.data.holiday_features import holiday_features

        holiday = holiday_features(days, country, Frequency("timedelta", 86400.0))[:, 0]
        holiday = holiday.astype(np.float64)
    weekly = _WEEKLY[days.day_of_week.to_numpy()]
    frames = []
    for s in range(n_stores):
        size = float(rng.choice([400, 800, 1500, 3000]))
        region = _REGIONS[s % len(_REGIONS)]
        level = 20.0 * (size / 400) ** 0.7 * (1.0 + 0.2 * (_REGIONS.index(region) - 1.5) / 1.5)
        promo = np.zeros(n_days)
        t = int(rng.integers(0, 10))
        while t < n_days:  # blocks of 3–7 promotion days, 1–3 weeks apart
            length = int(rng.integers(3, 8))
            promo[t : t + length] = 1.0
            t += length + int(rng.integers(7, 22))
        base_price = float(rng.uniform(2.0, 5.0))
        price = np.empty(n_days)
        t = 0
        while t < n_days:  # a price level held for 2–6 weeks
            length = int(rng.integers(14, 43))
            price[t : t + length] = base_price * float(rng.choice([0.8, 0.9, 1.0, 1.1, 1.2]))
            t += length
        mu = (
            level
            * weekly
            * (1 + PROMO_LIFT * promo)
            * (price / base_price) ** -PRICE_ELASTICITY
            * (1 + HOLIDAY_LIFT * holiday)
        )
        sales = mu * np.exp(rng.normal(0.0, NOISE, n_days))
        frames.append(
            pd.DataFrame(
                {
                    "date": days,
                    "store": f"s{s}",
                    "sales": np.round(sales, 3),
                    "price": np.round(price, 3),
                    "promo": promo,
                    "holiday": holiday,
                    "store_size": size,
                    "region": region,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
