"""Service concentration: how much of each service's activity its high intensity users account for,
per neighbourhood and for the whole area (`ALL`), as in the BCP programme summary.

Percentages are rounded to 2 decimal places and means to 3 in the table itself, so that the CSV an
INT lead opens and the Parquet an analyst reads hold the same numbers."""

from __future__ import annotations

import duckdb
from pipeline.duck import row_count

ALL = "ALL"

# (service name in the output, activity column, flag column)
SERVICES = [
    ("gp", "gp_appointments_12m", "hiu_gp"),
    ("ed", "ed_attendances_12m", "hiu_ed"),
    ("admissions", "emergency_admissions_12m", "hiu_admissions"),
]


def build_service_concentration(
    conn: duckdb.DuckDBPyConnection,
    intensity: str = "person_intensity",
    practices: str = "stg_practices",
    table: str = "service_concentration",
) -> int:
    """Every neighbourhood of `practices` gets its rows, even one with nobody registered (zeros)."""
    per_service = " UNION ALL ".join(
        f"""
        SELECT person_id, neighbourhood_code, neighbourhood_name, '{service}' AS service, himsu,
               high_intensity_services >= 1 AS any_hiu, {activity} AS activity, {flag} AS hiu
        FROM {intensity}
        UNION ALL
        SELECT DISTINCT NULL, neighbourhood_code, neighbourhood_name, '{service}', NULL, NULL, NULL, NULL
        FROM {practices}
        """
        for service, activity, flag in SERVICES
    )
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH long AS ({per_service}),
        grouped AS (
            SELECT coalesce(neighbourhood_code, '{ALL}') AS neighbourhood_code,
                   any_value(neighbourhood_name) AS neighbourhood_name_raw,
                   service,
                   count(person_id) AS population,
                   count(*) FILTER (WHERE hiu) AS hiu_people,
                   coalesce(sum(activity), 0) AS activity_total,
                   coalesce(sum(activity) FILTER (WHERE hiu), 0) AS activity_hiu,
                   count(*) FILTER (WHERE himsu) AS himsu_people,
                   coalesce(sum(activity) FILTER (WHERE himsu), 0) AS activity_himsu,
                   count(*) FILTER (WHERE any_hiu) AS any_hiu_people,
                   grouping(neighbourhood_code) AS is_all
            FROM long
            GROUP BY GROUPING SETS ((neighbourhood_code, service), (service))
        )
        SELECT neighbourhood_code,
               CASE WHEN is_all = 1 THEN 'All neighbourhoods' ELSE neighbourhood_name_raw END AS neighbourhood_name,
               service,
               population::BIGINT AS population,
               hiu_people::BIGINT AS hiu_people,
               round(100.0 * hiu_people / nullif(population, 0), 2) AS hiu_people_pct,
               activity_total::BIGINT AS activity_total,
               activity_hiu::BIGINT AS activity_hiu,
               round(100.0 * activity_hiu / nullif(activity_total, 0), 2) AS activity_hiu_pct,
               himsu_people::BIGINT AS himsu_people,
               activity_himsu::BIGINT AS activity_himsu,
               round(activity_total / nullif(population, 0), 3) AS mean_per_person_all,
               round(activity_himsu / nullif(himsu_people, 0), 3) AS mean_per_person_himsu,
               any_hiu_people::BIGINT AS any_hiu_people
        FROM grouped
        ORDER BY is_all, neighbourhood_code, list_position(['gp', 'ed', 'admissions'], service)
        """
    )
    return row_count(conn, table)
