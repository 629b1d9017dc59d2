"""The activity window, its half-year periods and the daily rhythm of each service.

Per-person rates are held constant within a half-year period (the latent need moves between
periods, which is what gives "rising risk" and regression to the mean). Within a period, event
days are drawn from a service's daily weight curve (weekday pattern and winter peak), by inverting
its cumulative sum, so that one uniform per event is enough.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from .util import add_months, day_number

PERIOD_MONTHS = 6

# Relative activity by weekday (Mon..Sun). GP practices are shut at weekends apart from a few
# extended-access sessions; ED and admissions run every day, with Monday the busiest ED day.
_WEEKDAY = {
    "gp": [1.12, 1.0, 1.0, 1.0, 1.0, 0.06, 0.02],
    "ed": [1.12, 1.02, 1.0, 0.98, 1.0, 0.95, 0.93],
    "adm": [1.1, 1.08, 1.05, 1.05, 1.02, 0.82, 0.78],
    "flat": [1.0] * 7,
}
# Amplitude of the winter peak (cosine over the year, maximum in mid January).
_WINTER = {"gp": 0.07, "ed": 0.05, "adm": 0.10, "flat": 0.0}


@dataclass(frozen=True)
class Calendar:
    start: int            # first day of the activity window (day number)
    end: int              # last day of the activity window, inclusive
    as_of: date
    bounds: np.ndarray    # period boundaries: period k is [bounds[k], bounds[k+1])
    cum: dict             # service -> cumulative weight per day offset, length n_days + 1

    @property
    def n_days(self) -> int:
        return self.end - self.start + 1

    @property
    def n_periods(self) -> int:
        return self.bounds.shape[0] - 1

    def period_of(self, days: np.ndarray) -> np.ndarray:
        """Index of the period holding each day (days outside the window: the nearest period)."""
        k = np.searchsorted(self.bounds, np.asarray(days, dtype=np.int64), side="right") - 1
        return np.clip(k, 0, self.n_periods - 1)

    def exposure(self, service: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Expected share of a year's events of `service` falling in days [a, b) (clipped)."""
        c = self.cum[service]
        ia = np.clip(a - self.start, 0, self.n_days)
        ib = np.clip(b - self.start, 0, self.n_days)
        return np.maximum(c[ib] - c[ia], 0.0)

    def sample_days(self, service: str, a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Event days in [a, b) following the service's daily weights; u is uniform in [0, 1)."""
        c = self.cum[service]
        ia = np.clip(a - self.start, 0, self.n_days)
        ib = np.clip(b - self.start, 0, self.n_days)
        target = c[ia] + u * (c[ib] - c[ia])
        off = np.searchsorted(c, target, side="right") - 1
        off = np.clip(off, ia, np.maximum(ib - 1, ia))
        return (off + self.start).astype(np.int32)


def make_calendar(end_date: date, months: int) -> Calendar:
    end = day_number(end_date)
    stop = end + 1
    start = int(add_months(stop, -months))
    bounds = [stop]
    k = 1
    while True:
        b = int(add_months(stop, -PERIOD_MONTHS * k))
        if b <= start:
            break
        bounds.append(b)
        k += 1
    bounds.append(start)
    bounds = np.array(sorted(set(bounds)), dtype=np.int64)

    days = np.arange(start, stop, dtype=np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    doy = (days.astype("datetime64[D]") - days.astype("datetime64[D]").astype("datetime64[Y]")).astype(np.int64)
    cum = {}
    for service in sorted(_WEEKDAY):
        w = np.asarray(_WEEKDAY[service])[weekday] * (1 + _WINTER[service] * np.cos(2 * np.pi * (doy - 15) / 365.25))
        w = w / w.mean() / 365.25  # a whole average year sums to 1
        cum[service] = np.concatenate([[0.0], np.cumsum(w)])
    return Calendar(start=start, end=end, as_of=end_date, bounds=bounds, cum=cum)
