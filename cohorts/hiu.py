"""High intensity use flags (contract section 5): a high intensity user (HIU) is at or over the
threshold of at least one service; a high intensity multiple service user (HIMSU) of two or more."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
from pipeline.duck import row_count


@dataclass(frozen=True)
class Thresholds:
    gp: int = 20
    ed: int = 5
    admissions: int = 3

    def __post_init__(self) -> None:
        for name, value in (("gp", self.gp), ("ed", self.ed), ("admissions", self.admissions)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"threshold {name} must be a whole number of 1 or more, not {value!r}")


def build_person_intensity(
    conn: duckdb.DuckDBPyConnection,
    thresholds: Thresholds,
    activity: str = "person_activity_12m",
    table: str = "person_intensity",
) -> int:
    """Every registered person with their flags, the count of services over threshold and a reason."""
    t = thresholds
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH flagged AS (
            SELECT *,
                   gp_appointments_12m >= {t.gp} AS hiu_gp,
                   ed_attendances_12m >= {t.ed} AS hiu_ed,
                   emergency_admissions_12m >= {t.admissions} AS hiu_admissions
            FROM {activity}
        ), counted AS (
            SELECT *, (hiu_gp::BIGINT + hiu_ed::BIGINT + hiu_admissions::BIGINT) AS high_intensity_services
            FROM flagged
        )
        SELECT *,
               high_intensity_services >= 2 AS himsu,
               concat_ws(', ',
                   CASE WHEN hiu_gp THEN 'GP ' || gp_appointments_12m || ' ({t.gp}+)' END,
                   CASE WHEN hiu_ed THEN 'ED ' || ed_attendances_12m || ' ({t.ed}+)' END,
                   CASE WHEN hiu_admissions
                        THEN 'emergency admissions ' || emergency_admissions_12m || ' ({t.admissions}+)' END
               ) AS reason
        FROM counted
        """
    )
    return row_count(conn, table)


def build_hiu_cohort(
    conn: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    intensity: str = "person_intensity",
    table: str = "hiu_cohort",
    efi: str | None = None,
    hfrs: str | None = None,
    rising_risk: str | None = None,
) -> int:
    """One row per high intensity user, in the column order of `schemas.outputs.HiuCohort`, with
    frailty from the `efi` and `hfrs` score tables and the score from the `rising_risk` table
    (person_id, rising_risk_score) when given; NULL columns without them."""
    efi_columns = "e.efi_score, e.efi_category" if efi else "NULL::DOUBLE AS efi_score, NULL::VARCHAR AS efi_category"
    hfrs_columns = "h.hfrs_score, h.hfrs_band" if hfrs else "NULL::DOUBLE AS hfrs_score, NULL::VARCHAR AS hfrs_band"
    risk_column = "r.rising_risk_score" if rising_risk else "NULL::DOUBLE AS rising_risk_score"
    joins = (f"LEFT JOIN {efi} e USING (person_id) " if efi else "") + (f"LEFT JOIN {hfrs} h USING (person_id) " if hfrs else "")
    joins += f"LEFT JOIN {rising_risk} r USING (person_id)" if rising_risk else ""
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        SELECT person_id, neighbourhood_code, pcn_code, practice_code, age, sex,
               gp_appointments_12m, ed_attendances_12m, emergency_admissions_12m,
               hiu_gp, hiu_ed, hiu_admissions, high_intensity_services, himsu, social_care_involved,
               {efi_columns}, {hfrs_columns}, {risk_column}, reason,
               neighbourhood_name, pcn_name, practice_name, imd_decile, ?::DATE AS as_of_date
        FROM {intensity} {joins}
        WHERE high_intensity_services >= 1
        ORDER BY neighbourhood_code, high_intensity_services DESC,
                 gp_appointments_12m + ed_attendances_12m + emergency_admissions_12m DESC, person_id
        """,
        [as_of],
    )
    return row_count(conn, table)
