"""Each registered person's activity in the 12-month window (contract section 5).

- GP appointments: `appt_status = 'Attended'`, any mode, any staff type.
- ED attendances: `attendance_category` 1, 2 or 3 (planned follow-ups not counted), by arrival date.
- Emergency admissions: spells whose `admission_method` starts with 2, by admission date.
- Social care involvement: a Request starting in the window, or a Service overlapping it.
Activity anywhere counts, including at practices the person has since left.
"""

from __future__ import annotations

import duckdb

from cohorts.period import Period, sql_date
from schemas.codes import ED_COUNTED_CATEGORIES
from pipeline.duck import row_count

COUNTED_CATEGORIES = ", ".join(f"'{c}'" for c in ED_COUNTED_CATEGORIES)


def build_person_activity(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    social_care_supplied: bool,
    register: str = "person_register",
    table: str = "person_activity_12m",
) -> int:
    start, end = sql_date(period.start), sql_date(period.end)
    # Without a social care extract involvement is unknown (NULL), not "no".
    social_care = "sc.person_id IS NOT NULL" if social_care_supplied else "NULL::BOOLEAN"
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH gp AS (
            SELECT person_id, count(*) AS n FROM stg_gp_appointments
            WHERE appt_status = 'Attended' AND appointment_date BETWEEN {start} AND {end}
            GROUP BY person_id
        ), ed AS (
            SELECT person_id, count(*) AS n FROM stg_ed_attendances
            WHERE attendance_category IN ({COUNTED_CATEGORIES})
              AND CAST(arrival_datetime AS DATE) BETWEEN {start} AND {end}
            GROUP BY person_id
        ), emergency AS (
            SELECT person_id, count(*) AS n FROM stg_admissions
            WHERE admission_method LIKE '2%' AND admission_date BETWEEN {start} AND {end}
            GROUP BY person_id
        ), sc AS (
            SELECT DISTINCT person_id FROM stg_social_care_events
            WHERE (event_type = 'Request' AND event_start_date BETWEEN {start} AND {end})
               OR (event_type = 'Service' AND event_start_date <= {end}
                   AND (event_end_date IS NULL OR event_end_date >= {start}))
        )
        SELECT r.*,
               coalesce(gp.n, 0)::BIGINT AS gp_appointments_12m,
               coalesce(ed.n, 0)::BIGINT AS ed_attendances_12m,
               coalesce(emergency.n, 0)::BIGINT AS emergency_admissions_12m,
               {social_care} AS social_care_involved
        FROM {register} r
        LEFT JOIN gp USING (person_id)
        LEFT JOIN ed USING (person_id)
        LEFT JOIN emergency USING (person_id)
        LEFT JOIN sc USING (person_id)
        """
    )
    return row_count(conn, table)
