"""Each registered person's activity in the 12-month window (contract section 5).

- GP appointments: `appt_status = 'Attended'`, any mode, any staff type.
- ED attendances: `attendance_category` 1, 2 or 3 (planned follow-ups not counted), by arrival date.
- Emergency admissions: spells whose `admission_method` starts with 2, by admission date.
- Social care involvement: a Request starting in the window, or a Service overlapping it.
Activity anywhere counts, including at practices the person has since left.

The rules themselves live in `cohorts.events` (the person event table and the measures over it);
this module only puts the window's counts beside each person on the register.
"""

from __future__ import annotations

import duckdb

from cohorts.events import person_counts_sql
from cohorts.period import Period
from pipeline.duck import row_count


def build_person_activity(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    social_care_supplied: bool,
    register: str = "person_register",
    table: str = "person_activity_12m",
    events: str = "person_events",
) -> int:
    """The register's columns, then the three 12-month counts (BIGINT, 0 when none) and
    social_care_involved. `events` must already be built (`cohorts.events.build_person_events`)."""
    # Without a social care extract involvement is unknown (NULL), not "no".
    social_care = "coalesce(c.social_care_involved, false)" if social_care_supplied else "NULL::BOOLEAN"
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH c AS ({person_counts_sql(events, period.start, period.end)})
        SELECT r.*,
               coalesce(c.gp_appointments, 0)::BIGINT AS gp_appointments_12m,
               coalesce(c.ed_attendances, 0)::BIGINT AS ed_attendances_12m,
               coalesce(c.emergency_admissions, 0)::BIGINT AS emergency_admissions_12m,
               {social_care} AS social_care_involved
        FROM {register} r
        LEFT JOIN c USING (person_id)
        """
    )
    return row_count(conn, table)
