"""The population month by month: the denominator of every rate of the counterfactual metrics.

One row per neighbourhood, calendar month, sex and five-year age band: the people in the population
on the month's first day (registered on or before it, not deregistered or dead by it, contract
section 2), aged on that day in whole years from the first day of their birth month, counted in the
neighbourhood of their practice. Months run from the first to the last asked for, every one, so a
month in which a group had nobody is a missing row, never a missing month.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from cohorts.period import month_start, sql_date
from cohorts.register import AGE_ON_AS_OF, in_population_on
from pipeline.duck import row_count

OLDEST_BAND = 90  # 90 and over is one band
UNKNOWN_AGE = "unknown"  # registered before their birth month (a staging warning): no age yet
# Age groups of the counterfactual metrics, by their youngest age; five-year bands nest in each.
AGE_GROUPS = {"all": 0, "65+": 65, "75+": 75}


def age_band_sql(age: str) -> str:
    """SQL: the five-year band ('0-4', ..., '85-89', '90+') of an age expression, 'unknown' when null."""
    return (
        f"CASE WHEN ({age}) IS NULL THEN '{UNKNOWN_AGE}' WHEN ({age}) >= {OLDEST_BAND} THEN '{OLDEST_BAND}+' "
        f"ELSE CAST(({age}) // 5 * 5 AS VARCHAR) || '-' || CAST(({age}) // 5 * 5 + 4 AS VARCHAR) END"
    )


def band_youngest_sql(band: str) -> str:
    """SQL: the youngest age of a band column ('85-89' -> 85, '90+' -> 90), null when unknown."""
    return f"TRY_CAST(regexp_extract({band}, '^([0-9]+)', 1) AS INTEGER)"


def age_on(day: str) -> str:
    """SQL: whole years on `day` for population row `p`; null before their birth month."""
    return f"CAST(nullif(greatest({AGE_ON_AS_OF.format(as_of=day)}, -1), -1) AS BIGINT)"


def months_sql(first_month: dt.date, last_month: dt.date) -> str:
    """SQL: one row per month (column `month`, its first day) from the month of `first_month` to
    that of `last_month`, both included."""
    return (
        f"SELECT CAST(range AS DATE) AS month FROM range({sql_date(month_start(first_month))}, "
        f"{sql_date(month_start(last_month))} + INTERVAL 1 MONTH, INTERVAL 1 MONTH)"
    )


def build_monthly_population(
    conn: duckdb.DuckDBPyConnection,
    first_month: dt.date,
    last_month: dt.date,
    population: str = "stg_population",
    practices: str = "stg_practices",
    table: str = "monthly_population",
) -> int:
    """`table`: neighbourhood_code, month, sex, age_band, population (see the module)."""
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH months AS ({months_sql(first_month, last_month)})
        SELECT pr.neighbourhood_code, m.month, coalesce(p.sex, 'U') AS sex,
               {age_band_sql(age_on('m.month'))} AS age_band, count(*)::BIGINT AS population
        FROM {population} p
        JOIN {practices} pr USING (practice_code)
        JOIN months m ON {in_population_on('m.month')}
        GROUP BY ALL
        ORDER BY neighbourhood_code, month, sex, age_band
        """
    )
    return row_count(conn, table)
