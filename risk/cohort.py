"""The rising-risk list of each neighbourhood: its top share of non-high-intensity people by score.

The list size is the share of the neighbourhood's people who are not high intensity users now, to
the nearest whole person (halves up) and at least one: 2% of 1,030 people lists 21, of 20 people 1,
as the model card counts its top shares.
Ties in the probability (isotonic calibration makes many) are broken by the base model's log-odds,
then by person ID, so the same scores always give the same list.
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
                                      ORDER BY s.rising_risk_score DESC, s.risk_order DESC NULLS LAST,
                                               i.person_id) AS risk_rank,
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


def audit_lists(
    conn: duckdb.DuckDBPyConnection,
    share: float,
    scores: str = "rising_risk_scores",
    cohort: str = "rising_risk_cohort",
    intensity: str = "person_intensity",
) -> tuple[list[str], int]:
    """Recount the lists from the scores, independently of `select_rising_risk`: per neighbourhood,
    as many as the share, nobody left off who scores above the lowest listed, ranks 1 to that number,
    no current high intensity user or stranger. Returns the problems in words (no person named) and
    how many listed people have no factor named."""
    share = float(share)
    rows = conn.execute(
        f"""
        WITH eligible AS (
            SELECT i.neighbourhood_code, s.person_id, s.rising_risk_score
            FROM {intensity} i JOIN {scores} s USING (person_id)
            WHERE i.high_intensity_services = 0 AND s.rising_risk_score IS NOT NULL
        ), expected AS (  -- the share of the scored, to the nearest person and at least one; none unscored
            SELECT neighbourhood_code, greatest(1, floor(count(*) * {share} + 0.5))::BIGINT AS k FROM eligible GROUP BY 1
        ), listed AS (
            SELECT c.neighbourhood_code, count(*) AS listed,
                   count(*) FILTER (WHERE i.person_id IS NULL OR i.high_intensity_services > 0) AS not_eligible,
                   count(*) FILTER (WHERE c.top_factors = '') AS unexplained,
                   min(c.rising_risk_score) AS lowest,
                   count(DISTINCT c.risk_rank) = count(*) AND min(c.risk_rank) = 1 AND max(c.risk_rank) = count(*) AS ranked
            FROM {cohort} c LEFT JOIN {intensity} i USING (person_id) GROUP BY 1
        ), left_out AS (
            SELECT x.neighbourhood_code, count(*) AS left_out
            FROM eligible x JOIN listed l USING (neighbourhood_code)
            WHERE x.rising_risk_score > l.lowest AND x.person_id NOT IN (SELECT person_id FROM {cohort})
            GROUP BY 1
        )
        SELECT neighbourhood_code, coalesce(e.k, 0), coalesce(l.listed, 0), coalesce(l.not_eligible, 0),
               coalesce(l.unexplained, 0), coalesce(o.left_out, 0), coalesce(l.ranked, true)
        FROM expected e FULL JOIN listed l USING (neighbourhood_code) LEFT JOIN left_out o USING (neighbourhood_code)
        ORDER BY 1
        """
    ).fetchall()
    problems = []
    for code, k, listed, not_eligible, _, left_out, ranked in rows:
        if listed != k:
            problems.append(f"{code}: {listed} listed, the top share is {k}")
        if not_eligible:
            problems.append(f"{code}: {not_eligible} listed who are high intensity users now or not in the population")
        if left_out:
            problems.append(f"{code}: {left_out} people left off who score above the lowest listed")
        if not ranked:
            problems.append(f"{code}: ranks are not 1 to {listed}")
    return problems, sum(r[4] for r in rows)
