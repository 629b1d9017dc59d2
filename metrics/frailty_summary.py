"""Frailty by neighbourhood (and ALL), age band and eFI category: how many people, their share of
the age band, and their 12-month activity (Derbyshire counts people with moderate or severe
frailty and their bed days; this is the same view per INT)."""

from __future__ import annotations

import duckdb

from pipeline.duck import row_count

AGE_BANDS = "CASE WHEN age >= 85 THEN '85+' WHEN age >= 75 THEN '75-84' ELSE '65-74' END"


def build_frailty_summary(
    conn: duckdb.DuckDBPyConnection,
    intensity: str = "person_intensity",
    table: str = "frailty_summary",
) -> int:
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH scored AS (
            SELECT p.neighbourhood_code, p.neighbourhood_name, {AGE_BANDS} AS age_band,
                   coalesce(e.efi_category, 'not scored') AS efi_category,
                   p.gp_appointments_12m, p.ed_attendances_12m, p.emergency_admissions_12m,
                   p.high_intensity_services >= 1 AS hiu
            FROM {intensity} p JOIN efi_scores e USING (person_id)
        ),
        grouped AS (
            SELECT coalesce(neighbourhood_code, 'ALL') AS neighbourhood_code,
                   CASE WHEN grouping(neighbourhood_code) = 1 THEN 'All neighbourhoods' ELSE any_value(neighbourhood_name) END
                       AS neighbourhood_name,
                   age_band, efi_category,
                   count(*) AS people,
                   count(*) FILTER (WHERE hiu) AS hiu_people,
                   sum(gp_appointments_12m) AS gp_appointments_12m,
                   sum(ed_attendances_12m) AS ed_attendances_12m,
                   sum(emergency_admissions_12m) AS emergency_admissions_12m
            FROM scored
            GROUP BY GROUPING SETS ((neighbourhood_code, age_band, efi_category), (age_band, efi_category))
        )
        SELECT neighbourhood_code, neighbourhood_name, age_band, efi_category,
               people::BIGINT AS people,
               round(100.0 * people / sum(people) OVER (PARTITION BY neighbourhood_code, age_band), 2) AS people_pct_of_age_band,
               hiu_people::BIGINT AS hiu_people,
               gp_appointments_12m::BIGINT AS gp_appointments_12m,
               ed_attendances_12m::BIGINT AS ed_attendances_12m,
               emergency_admissions_12m::BIGINT AS emergency_admissions_12m
        FROM grouped
        ORDER BY neighbourhood_code = 'ALL', neighbourhood_code, age_band,
                 list_position(['fit', 'mild', 'moderate', 'severe', 'not scored'], efi_category)
        """
    )
    return row_count(conn, table)
