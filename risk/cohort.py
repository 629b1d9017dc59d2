"""The rising-risk list of each neighbourhood: its top share of non-high-intensity people by score.

The list size is the share of the neighbourhood's people who are not high intensity users now, to
the nearest whole person (halves up) and at least one: 2% of 1,030 people lists 21, of 20 people 1,
as the model card counts its top shares.
Ties at the cut are broken by person ID, so the same scores always give the same list.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipeline.duck import row_count
from risk.words import top_factors_sql


def select_rising_risk(
    conn: duckdb.DuckDBPyConnection,
    share: float,
    scores: str = "rising_risk_scores",
    intensity: str = "person_intensity",
    table: str = "rising_risk_selected",
) -> int:
    """`table`: person_id, neighbourhood_code, risk_rank of everyone on a list."""
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH eligible AS (
            SELECT i.person_id, i.neighbourhood_code, s.rising_risk_score,
                   row_number() OVER (PARTITION BY i.neighbourhood_code
                                      ORDER BY s.rising_risk_score DESC, i.person_id) AS risk_rank,
                   count(*) OVER (PARTITION BY i.neighbourhood_code) AS eligible
            FROM {intensity} i JOIN {scores} s USING (person_id)
            WHERE i.high_intensity_services = 0 AND s.rising_risk_score IS NOT NULL
        )
        SELECT person_id, neighbourhood_code, risk_rank FROM eligible
        WHERE risk_rank <= greatest(1, floor(eligible * ? + 0.5))
        """,
        [share],
    )
    return row_count(conn, table)


def build_rising_risk_cohort(
    conn: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    features: tuple[str, ...],
    selected: str = "rising_risk_selected",
    factors: str = "rising_risk_factors",
    scores: str = "rising_risk_scores",
    features_table: str = "risk_features",
    intensity: str = "person_intensity",
    efi: str = "efi_scores",
    hfrs: str = "hfrs_scores",
    table: str = "rising_risk_cohort",
) -> int:
    """The lists, in the columns of `schemas.outputs.RisingRiskCohort`, by neighbourhood and rank."""
    scoring = f"(SELECT * FROM {features_table} WHERE role = 'scoring')"
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH words AS ({top_factors_sql(scoring, factors, features)})
        SELECT p.person_id, p.neighbourhood_code, p.pcn_code, p.practice_code, p.age, p.sex,
               s.rising_risk_score, c.risk_rank, coalesce(w.top_factors, '') AS top_factors,
               p.gp_appointments_12m, p.ed_attendances_12m, p.emergency_admissions_12m,
               e.efi_category, h.hfrs_band, p.social_care_involved,
               p.neighbourhood_name, p.pcn_name, p.practice_name, p.imd_decile, ?::DATE AS as_of_date
        FROM {selected} c
        JOIN {intensity} p USING (person_id)
        JOIN {scores} s USING (person_id)
        LEFT JOIN words w USING (person_id)
        LEFT JOIN {efi} e USING (person_id)
        LEFT JOIN {hfrs} h USING (person_id)
        ORDER BY p.neighbourhood_code, c.risk_rank
        """,
        [as_of],
    )
    return row_count(conn, table)
