"""People: who is in the population on the as-of date, and what each of them used in 12 months."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.extracts import extract_supplied
from assets.metadata import table_metadata
from assets.staging import PERIOD_TABLE, read_period
from cohorts.activity import build_person_activity
from cohorts.events import build_person_events
from cohorts.register import build_person_register
from pipeline.resources import WAREHOUSE_POOL


@dg.asset(
    group_name="people",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["stg_population", "stg_practices", PERIOD_TABLE],
    description=(
        "Everyone in the population on the as-of date (registered on or before it, not deregistered "
        "or dead by it), with age, sex, deprivation, practice, PCN and neighbourhood."
    ),
)
def person_register(warehouse: DuckDBResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        period, _ = read_period(conn)
        build_person_register(conn, period.as_of)
        metadata = table_metadata(conn, "person_register")
        by_neighbourhood = conn.execute(
            "SELECT neighbourhood_code, count(*) FROM person_register GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return dg.MaterializeResult(
        metadata={**metadata, "people_by_neighbourhood": dg.MetadataValue.json(dict(by_neighbourhood))}
    )


@dg.asset(
    group_name="people",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["person_register", "stg_gp_appointments", "stg_ed_attendances", "stg_admissions", "stg_social_care_events"],
    description=(
        "Each registered person's activity in the 12-month window: attended GP appointments, ED "
        "attendances (planned follow-ups excluded), emergency admissions, and social care involvement "
        "(null when the social care extract was not supplied)."
    ),
)
def person_activity_12m(warehouse: DuckDBResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        period, _ = read_period(conn)
        social_care = extract_supplied(conn, "social_care_events")
        # Until person_events is its own asset, build it here: the counts are derived from it.
        build_person_events(conn)
        build_person_activity(conn, period, social_care_supplied=social_care)
        metadata = table_metadata(conn, "person_activity_12m")
        totals = conn.execute(
            """SELECT sum(gp_appointments_12m), sum(ed_attendances_12m), sum(emergency_admissions_12m)
               FROM person_activity_12m"""
        ).fetchall()[0]
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "window": f"{period.start} to {period.end}",
            "gp_appointments": int(totals[0] or 0),
            "ed_attendances": int(totals[1] or 0),
            "emergency_admissions": int(totals[2] or 0),
            "social_care_supplied": social_care,
        }
    )
