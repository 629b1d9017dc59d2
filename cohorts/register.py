"""The person register: everyone in the population on the as-of date, with their practice, PCN and
neighbourhood. A person is in the population on date D when registered on or before D, not
deregistered on or before D, and alive on D (contract section 2)."""

from __future__ import annotations

import datetime as dt

import duckdb

from cohorts.period import sql_date
from pipeline.duck import row_count

AGE_ON_AS_OF = """
    year({as_of}) - p.birth_year - CASE WHEN month({as_of}) < p.birth_month THEN 1 ELSE 0 END
"""  # whole years from the first day of the birth month; no datediff (it counts boundaries)


def in_population_on(day: str) -> str:
    """SQL: population row `p` is in the population on `day` (a date expression): registered on or
    before it, not deregistered on or before it, alive on it."""
    return (
        f"p.registration_start <= {day} AND (p.registration_end IS NULL OR p.registration_end > {day}) "
        f"AND (p.date_of_death IS NULL OR p.date_of_death > {day})"
    )


def build_person_register(
    conn: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    population: str = "stg_population",
    practices: str = "stg_practices",
    table: str = "person_register",
) -> int:
    as_of_sql = sql_date(as_of)
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        SELECT p.person_id, pr.neighbourhood_code, pr.neighbourhood_name, pr.pcn_code, pr.pcn_name,
               p.practice_code, pr.practice_name,
               -- Registered before birth (a warning at staging): no age until they are born.
               CAST(nullif(greatest({AGE_ON_AS_OF.format(as_of=as_of_sql)}, -1), -1) AS BIGINT) AS age,
               -- A sex the extract gave no usable value for is unknown (a warning at staging).
               coalesce(p.sex, 'U') AS sex, p.imd_decile, p.lsoa_code
        FROM {population} p
        JOIN {practices} pr USING (practice_code)
        WHERE {in_population_on(as_of_sql)}
        """
    )
    return row_count(conn, table)
