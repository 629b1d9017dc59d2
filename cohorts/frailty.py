"""Frailty scores, exactly as domain.md and contract section 5 define them.

Electronic frailty index (eFI; Clegg et al. 2016), people aged 65 and over on the as-of date:
36 deficits, a deficit counting when ever recorded up to the as-of date. 35 are SNOMED CT codes
(reference list; a code may belong to two deficits); deficit 26, polypharmacy, is 5 or more
distinct chemical substances (first 9 characters of the BNF code) from chapters 01-15 issued in the
12-month window. Score = deficits / 36; categories by whole deficits: fit 0-4, mild 5-8, moderate
9-12, severe 13 and more (0.12, 0.24 and 0.36 of 36).

Hospital Frailty Risk Score (HFRS; Gilbert et al. 2018), people aged 75 and over: the points of
each distinct three-character ICD-10 code recorded, in any position, in any admission admitted in
the 2 years to the as-of date, summed in whole tenths (so 1.9 + 2.3 + 0.8 is exactly 5.0). Bands:
low under 5, intermediate 5 to 15, high over 15.

Without the extracts a score needs, it is NULL, not zero.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from cohorts.period import Period, sql_date, window_start
from pipeline.duck import row_count
from schemas.sql_rules import quote_literal

POLYPHARMACY = 26
POLYPHARMACY_SUBSTANCES = 5
EFI_DEFICITS = 36
EFI_AGE, HFRS_AGE = 65, 75


def load_reference_lists(conn: duckdb.DuckDBPyConnection, efi_codes: Path, hfrs_weights: Path) -> None:
    """`ref_efi_codes` (one row per deficit and code) and `ref_hfrs_points` (points in tenths)."""
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE ref_efi_codes AS
        SELECT DISTINCT CAST(deficit_number AS INTEGER) AS deficit_number, deficit, snomed_code
        FROM read_csv({quote_literal(efi_codes)}, all_varchar = true, header = true)
        UNION ALL SELECT {POLYPHARMACY}, 'Polypharmacy', NULL
        """
    )
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE ref_hfrs_points AS
        SELECT upper(icd10_3char) AS icd10_3char, CAST(round(CAST(points AS DECIMAL(4, 1)) * 10) AS INTEGER) AS tenths
        FROM read_csv({quote_literal(hfrs_weights)}, all_varchar = true, header = true)
        """
    )


def build_efi(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    supplied: bool,
    register: str = "person_register",
    deficits_table: str = "efi_deficits",
    scores_table: str = "efi_scores",
) -> int:
    """`deficits_table` (person, deficit present) and `scores_table` (everyone 65+ in the register)."""
    as_of, start = sql_date(period.as_of), sql_date(period.start)
    if supplied:
        conn.execute(
            f"""
            CREATE OR REPLACE TABLE {deficits_table} AS
            WITH eligible AS (SELECT person_id FROM {register} WHERE age >= {EFI_AGE}),
            coded AS (
                SELECT DISTINCT e.person_id, c.deficit_number
                FROM stg_gp_coded_events e
                JOIN ref_efi_codes c ON c.snomed_code = e.snomed_code
                WHERE e.event_date <= {as_of} AND e.person_id IN (SELECT person_id FROM eligible)
            ),
            polypharmacy AS (
                SELECT person_id, {POLYPHARMACY} AS deficit_number
                FROM stg_gp_medications
                WHERE issue_date BETWEEN {start} AND {as_of}
                  AND left(bnf_code, 2) BETWEEN '01' AND '15'
                  AND person_id IN (SELECT person_id FROM eligible)
                GROUP BY person_id
                HAVING count(DISTINCT left(bnf_code, 9)) >= {POLYPHARMACY_SUBSTANCES}
            )
            SELECT d.person_id, d.deficit_number, names.deficit
            FROM (SELECT * FROM coded UNION SELECT * FROM polypharmacy) d
            JOIN (SELECT DISTINCT deficit_number, deficit FROM ref_efi_codes) names USING (deficit_number)
            """
        )
    else:
        conn.execute(
            f"CREATE OR REPLACE TABLE {deficits_table} (person_id VARCHAR, deficit_number INTEGER, deficit VARCHAR)"
        )
    known = "TRUE" if supplied else "FALSE"
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {scores_table} AS
        WITH counted AS (
            SELECT r.person_id, count(d.deficit_number) AS deficits
            FROM {register} r LEFT JOIN {deficits_table} d USING (person_id)
            WHERE r.age >= {EFI_AGE}
            GROUP BY r.person_id
        )
        SELECT person_id,
               CASE WHEN {known} THEN deficits END AS efi_deficits,
               CASE WHEN {known} THEN deficits / {EFI_DEFICITS}.0 END AS efi_score,
               CASE WHEN NOT {known} THEN NULL
                    WHEN deficits <= 4 THEN 'fit' WHEN deficits <= 8 THEN 'mild'
                    WHEN deficits <= 12 THEN 'moderate' ELSE 'severe' END AS efi_category
        FROM counted
        """
    )
    return row_count(conn, scores_table)


def build_hfrs(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    supplied: bool,
    register: str = "person_register",
    table: str = "hfrs_scores",
    as_known_then: bool = False,
) -> int:
    """`table`: everyone 75+ in the register (0, low, when they had no scored diagnosis).
    `as_known_then` (the rising-risk features at an earlier date): leave out spells discharged after
    the date, whose diagnoses were not coded yet then."""
    as_of, start = sql_date(period.as_of), sql_date(window_start(period.as_of, years=2))
    discharged = f"AND (a.discharge_date IS NULL OR a.discharge_date <= {as_of})" if as_known_then else ""
    if not supplied:
        conn.execute(
            f"""CREATE OR REPLACE TABLE {table} AS SELECT person_id, NULL::DOUBLE AS hfrs_score,
                NULL::VARCHAR AS hfrs_band FROM {register} WHERE age >= {HFRS_AGE}"""
        )
        return row_count(conn, table)
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH eligible AS (SELECT person_id FROM {register} WHERE age >= {HFRS_AGE}),
        codes AS (
            -- J18.9, J189 and J18X all compare as J18
            SELECT DISTINCT a.person_id, upper(left(replace(d.icd10_code, '.', ''), 3)) AS icd10_3char
            FROM stg_admission_diagnoses d
            JOIN stg_admissions a USING (spell_id)
            WHERE a.admission_date BETWEEN {start} AND {as_of}
              {discharged}
              AND a.person_id IN (SELECT person_id FROM eligible)
        ),
        tenths AS (
            SELECT e.person_id, coalesce(sum(p.tenths), 0) AS tenths
            FROM eligible e
            LEFT JOIN codes c USING (person_id)
            LEFT JOIN ref_hfrs_points p USING (icd10_3char)
            GROUP BY e.person_id
        )
        SELECT person_id, tenths / 10.0 AS hfrs_score,
               CASE WHEN tenths < 50 THEN 'low' WHEN tenths <= 150 THEN 'intermediate' ELSE 'high' END AS hfrs_band
        FROM tenths
        """
    )
    return row_count(conn, table)


HOUSEBOUND = 16


def build_frailty_cohort(
    conn: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    intensity: str = "person_intensity",
    table: str = "frailty_cohort",
) -> int:
    """People with moderate or severe frailty (eFI), or housebound (deficit 16), with their
    deficits in words, activity and high intensity flags: the list Team Up style teams start from."""
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH named AS (
            SELECT person_id,
                   string_agg(deficit, '; ' ORDER BY deficit_number) AS deficits,
                   bool_or(deficit_number = {HOUSEBOUND}) AS housebound
            FROM efi_deficits GROUP BY person_id
        )
        SELECT p.person_id, p.neighbourhood_code, p.pcn_code, p.practice_code, p.age, p.sex,
               e.efi_score, e.efi_category, e.efi_deficits, coalesce(n.housebound, false) AS housebound,
               coalesce(n.deficits, '') AS deficits, h.hfrs_score, h.hfrs_band,
               p.gp_appointments_12m, p.ed_attendances_12m, p.emergency_admissions_12m,
               p.hiu_gp, p.hiu_ed, p.hiu_admissions, p.high_intensity_services, p.himsu, p.social_care_involved,
               p.neighbourhood_name, p.pcn_name, p.practice_name, p.imd_decile, ?::DATE AS as_of_date
        FROM {intensity} p
        JOIN efi_scores e USING (person_id)
        LEFT JOIN named n USING (person_id)
        LEFT JOIN hfrs_scores h USING (person_id)
        WHERE e.efi_category IN ('moderate', 'severe') OR n.housebound
        ORDER BY p.neighbourhood_code, e.efi_deficits DESC, p.person_id
        """,
        [as_of],
    )
    return row_count(conn, table)
