"""Plain-words cards for the programme metrics (Jinja2 templates in `metrics/templates/`), written
beside the files from their published (disclosure-controlled) copies, so that a card forwarded on
its own shows nothing the published files do not."""

from __future__ import annotations

import datetime as dt

import polars as pl
from jinja2 import Environment, PackageLoader, StrictUndefined

from cohorts.hiu import Thresholds
from metrics.counterfactual import ALL

_ENV = Environment(loader=PackageLoader("metrics", "templates"), undefined=StrictUndefined, trim_blocks=True,
                   lstrip_blocks=True)


def _signed(value: str | None) -> str:
    """A published figure (text) with its sign: '+3.1', '-27.4', '*', or a dash when blank."""
    if value is None or value == "":
        return "–"
    if value == "*":
        return value
    return f"+{value}" if not value.startswith("-") and float(value) > 0 else value


def _count(value: str | None) -> str:
    """A published count (text) with thousands separators: '12,800', '*', a dash when blank."""
    if value is None or value == "":
        return "–"
    return value if value == "*" else f"{int(value):,}"


def _interval(lower: str | None, upper: str | None) -> str:
    """A published interval: '-57.1 to +3.5', '* to *', or 'no interval' where there is none."""
    if lower in (None, "") or upper in (None, ""):
        return "no interval"
    return f"{_signed(lower)} to {_signed(upper)}"


def _verdict(lower: str | None, upper: str | None) -> str:
    if lower in (None, "", "*") or upper in (None, "", "*"):
        return ""
    low, high = float(lower), float(upper)
    if low <= 0 <= high:
        return "The interval includes 0: no change beyond regression to the mean that the data can tell from chance."
    if high < 0:
        return "The interval is below 0: a fall beyond what regression to the mean gives (not proof of the programme on its own)."
    return "The interval is above 0: the cohort fell less than regression to the mean alone gives."


def _live(value) -> str:
    return "–" if value is None else ("yes" if value else "no")


def cohort_followup_card(published_followup: pl.DataFrame, as_of: dt.date, thresholds: Thresholds,
                         withheld: bool = False) -> str:
    """The card of `metrics/cohort_followup` from its published copy (text cells); `withheld`: the
    copy was withheld (too few people to publish any figure safely)."""
    rows = [{k: (None if v is None else str(v)) if k != "live_through_followup" else v for k, v in row.items()}
            for row in published_followup.iter_rows(named=True)]
    whole = next((r for r in rows if r["neighbourhood_code"] == ALL), None)
    return _ENV.get_template("cohort_followup.md.j2").render(
        as_of=as_of, whole=whole, withheld=withheld, rows=[r for r in rows if r["neighbourhood_code"] != ALL],
        thresholds={"gp": thresholds.gp, "ed": thresholds.ed, "admissions": thresholds.admissions},
        signed=_signed, interval=_interval, verdict=_verdict, live=_live, n=_count,
    )
