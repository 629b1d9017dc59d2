"""The reporting period: as-of date and the windows the counting rules look back over."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from pipeline.duck import scalar


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier; 29 February falls back to 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def window_start(as_of: dt.date, years: int = 1) -> dt.date:
    """First day of the `years`-long window ending on (and including) `as_of`.

    as-of 2025-03-31 gives 2024-04-01 (contract section 5: as_of - 1 year + 1 day)."""
    return years_before(as_of, years) + dt.timedelta(days=1)


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day of the month `months` earlier, or that month's last day when it is shorter."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def window_start_months(as_of: dt.date, months: int) -> dt.date:
    """First day of the `months`-long window ending on (and including) `as_of`: 3 months to
    2025-03-31 start on 2025-01-01, to 2025-05-31 on 2025-03-01."""
    return months_before(as_of, months) + dt.timedelta(days=1)


@dataclass(frozen=True)
class Period:
    as_of: dt.date

    @property
    def start(self) -> dt.date:
        return window_start(self.as_of)

    @property
    def end(self) -> dt.date:
        return self.as_of


def month_start(day: dt.date) -> dt.date:
    """The first day of the calendar month holding `day`: how monthly series name their months."""
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    """The last day of the calendar month holding `day` (28, 29, 30 or 31)."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def sql_date(day: dt.date) -> str:
    """A date literal for DuckDB SQL."""
    return f"DATE '{day.isoformat()}'"


def latest_activity_date(conn, sources: list[tuple[str, str]]) -> dt.date | None:
    """The latest valid date among (table, typed date expression) pairs: the default as-of date."""
    selects = " UNION ALL ".join(f"SELECT max({expr}) AS d FROM {table}" for table, expr in sources)
    return scalar(conn, f"SELECT max(d) FROM ({selects})")
