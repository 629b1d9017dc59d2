"""Feed coverage: which days and months each activity feed covers, for the whole drop and per GP
practice or hospital provider. GP data usually runs ahead of hospital data, so the default as-of
date is the last day that every required activity feed covers (contract section 5); a month inside
the window with no or few rows undercounts everyone it covers, so it is a warning.

Plain functions over DuckDB SQL; the staging tables' activity dates come from `schemas.extracts`."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from cohorts.period import Period, month_start, sql_date, years_before
from schemas.extracts import EXTRACTS, REQUIRED_ACTIVITY

# feed -> the column that says where its rows come from (GP practice, hospital provider)
UNITS = {"gp_appointments": ("practice", "practice_code"), "admissions": ("provider", "provider_code")}
FEEDS = [name for name, extract in EXTRACTS.items() if extract.activity_date]
# A month under this share of the median month (of the feed, or of one practice or provider) is "few".
FEW_ROWS_SHARE = 0.5
# Practices and providers below this many rows in a median month are too small to judge.
SMALLEST_JUDGED_UNIT = 10
# ...and a month is few only when so few rows would happen by chance less than once in a thousand.
IMPROBABLE = 0.001


def build_feed_coverage(conn: duckdb.DuckDBPyConnection, table: str = "feed_coverage", monthly: str = "feed_coverage_monthly") -> None:
    """`feed_coverage`: per feed, accepted rows and first and last activity date.
    `feed_coverage_monthly`: rows per feed and month, for the whole feed (unit_type 'all') and per
    practice or provider."""
    selects = []
    for feed in FEEDS:
        date = EXTRACTS[feed].activity_date
        selects.append(f"SELECT '{feed}' AS feed, 'all' AS unit_type, 'ALL' AS unit, {date} AS day FROM stg_{feed}")
        if feed in UNITS:
            unit_type, column = UNITS[feed]
            selects.append(f"SELECT '{feed}', '{unit_type}', coalesce({column}, 'unknown'), {date} FROM stg_{feed}")
    conn.execute(
        f"""CREATE OR REPLACE TABLE {monthly} AS
            SELECT feed, unit_type, unit, CAST(date_trunc('month', day) AS DATE) AS month, count(*) AS rows,
                   min(day) AS first_date, max(day) AS last_date
            FROM ({' UNION ALL '.join(selects)}) GROUP BY ALL ORDER BY feed, unit_type, unit, month"""
    )
    required = ", ".join(f"'{f}'" for f in REQUIRED_ACTIVITY)
    feeds = " UNION ALL ".join(f"SELECT '{f}' AS feed" for f in FEEDS)
    conn.execute(
        f"""CREATE OR REPLACE TABLE {table} AS
            SELECT f.feed, f.feed IN ({required}) AS required, coalesce(sum(m.rows), 0)::BIGINT AS rows,
                   min(m.first_date) AS first_date, max(m.last_date) AS last_date
            FROM ({feeds}) f LEFT JOIN {monthly} m ON m.feed = f.feed AND m.unit_type = 'all'
            GROUP BY f.feed ORDER BY f.feed"""
    )


def covered_until(conn: duckdb.DuckDBPyConnection, table: str = "feed_coverage") -> dt.date | None:
    """The last day every required activity feed covers: the earliest of their last dates."""
    return conn.execute(f"SELECT min(last_date) FROM {table} WHERE required").fetchall()[0][0]


def as_of_problem(conn: duckdb.DuckDBPyConnection, as_of: dt.date, table: str = "feed_coverage") -> str | None:
    """Why the feeds do not cover the 12-month window ending on `as_of`, in words; None when they
    do. Every required feed must reach the as-of date and start by the window's first month (a
    feed whose first row falls a few days into that month still covers it)."""
    feeds = conn.execute(f"SELECT feed, first_date, last_date FROM {table} WHERE required ORDER BY feed").fetchall()
    spans = ", ".join(f"{feed} {first} to {last}" for feed, first, last in feeds)
    if any(last is None for _, _, last in feeds):
        return f"a required activity feed has no accepted rows ({spans})"
    until, starts = min(last for _, _, last in feeds), max(first for _, first, _ in feeds)
    window = Period(as_of)
    if as_of > until:
        return f"as-of date {as_of} is after {until}, the last day every required activity feed covers ({spans})"
    if month_start(window.start) < month_start(starts):
        earliest = years_before(month_start(starts), -1) - dt.timedelta(days=1)
        advice = f"the earliest as-of date they cover is {earliest}" if earliest <= until else "they cover less than 12 months"
        return (
            f"the 12-month window {window.start} to {as_of} starts before {starts}, the first day every required "
            f"activity feed covers ({spans}): the counts would miss those months; {advice}"
        )
    return None


def build_coverage_gaps(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    monthly: str = "feed_coverage_monthly",
    table: str = "coverage_gaps",
    look_backs: dict[str, tuple[dt.date, str]] | None = None,
) -> int:
    """Months of the window with no or few rows, per feed and per practice or provider: each one
    undercounts the people it covers. `look_backs`: feeds a score reads further back than the
    window (feed -> (first day, what needs it)), judged over that longer span. A first or last
    month the span covers only in part is judged on the days it covers."""
    spans = [f"SELECT '{feed}' AS feed, DATE '{first}' AS first_day, '{why}' AS needed_for" for feed, (first, why) in (look_backs or {}).items()]
    spans.append(f"SELECT NULL AS feed, {sql_date(period.start)} AS first_day, '12-month window' AS needed_for")
    end = sql_date(period.end)
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH spans AS ({' UNION ALL '.join(spans)}),
        feed_spans AS (
            -- each feed's own look-back where it has one, else the window
            SELECT f.feed, coalesce(s.first_day, w.first_day) AS first_day, coalesce(s.needed_for, w.needed_for) AS needed_for
            FROM (SELECT DISTINCT feed FROM {monthly}) f
            LEFT JOIN spans s ON s.feed = f.feed
            CROSS JOIN (SELECT * FROM spans WHERE feed IS NULL) w
        ),
        months AS (
            SELECT feed, needed_for, month, least(last_day(month), {end}) - greatest(month, first_day) + 1 AS days,
                   day(last_day(month)) AS days_in_month
            FROM (
                SELECT feed, needed_for, first_day, CAST(unnest(range(date_trunc('month', first_day), {end} + INTERVAL 1 DAY, INTERVAL 1 MONTH)) AS DATE) AS month
                FROM feed_spans
            )
        ),
        units AS (
            SELECT DISTINCT c.feed, c.unit_type, c.unit FROM {monthly} c JOIN feed_spans s USING (feed)
            WHERE c.month BETWEEN date_trunc('month', s.first_day) AND {end}
        ),
        grid AS (
            SELECT u.feed, u.unit_type, u.unit, m.month, m.needed_for, m.days / m.days_in_month AS covered_share,
                   -- rows scaled to a whole month, so a partly covered first or last month is fair
                   coalesce(c.rows, 0) / covered_share AS monthly_rows, coalesce(c.rows, 0) AS rows
            FROM units u JOIN months m USING (feed)
            LEFT JOIN {monthly} c ON c.feed = u.feed AND c.unit_type = u.unit_type AND c.unit = u.unit AND c.month = m.month
        ),
        judged AS (
            SELECT *, median(monthly_rows) OVER (PARTITION BY feed, unit_type, unit) AS median_rows FROM grid
        )
        SELECT feed, unit_type, unit, month, rows, round(median_rows, 1) AS median_rows,
               CASE WHEN rows = 0 THEN 'no rows' ELSE 'few rows' END AS gap, needed_for,
               median_rows * covered_share AS expected_rows
        FROM judged
        WHERE (unit_type = 'all' AND (rows = 0 OR monthly_rows < {FEW_ROWS_SHARE} * median_rows))
           OR (unit_type <> 'all' AND median_rows >= {SMALLEST_JUDGED_UNIT} AND monthly_rows < {FEW_ROWS_SHARE} * median_rows)
        ORDER BY feed, unit_type, unit, month
        """
    )
    # A small practice's month can fall under half its median by chance: keep only months that are
    # improbably low for a Poisson count with the median's rate (and every empty month of a feed).
    from scipy.stats import poisson  # here: scipy.stats takes 3 s to import, in every process that loads the definitions

    candidates = conn.sql(f"SELECT * FROM {table}").pl()
    improbable = poisson.cdf(candidates["rows"].to_numpy(), candidates["expected_rows"].to_numpy()) < IMPROBABLE
    empty_feed = (candidates["unit_type"] == "all") & (candidates["rows"] == 0)
    kept = candidates.filter(pl.Series(improbable) | empty_feed).drop("expected_rows")  # noqa: F841 (read by DuckDB)
    conn.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM kept")
    return kept.height
