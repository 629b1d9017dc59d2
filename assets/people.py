"""People: who is in the population on the as-of date, one event table of everything they used,
and what each of them used in 12 months."""

import dagster as dg

from assets.extracts import extract_supplied
from assets.factory import PERIOD_TABLE, Step, warehouse_asset
from cohorts.activity import build_person_activity
from cohorts.events import build_person_events
from cohorts.register import build_person_register


@warehouse_asset(
    group="people",
    deps=["stg_population", "stg_practices", PERIOD_TABLE],
    description=(
        "Everyone in the population on the as-of date (registered on or before it, not deregistered "
        "or dead by it), with age, sex, deprivation, practice, PCN and neighbourhood."
    ),
)
def person_register(step: Step) -> dict:
    build_person_register(step.conn, step.period.as_of)
    by_neighbourhood = step.conn.execute(
        "SELECT neighbourhood_code, count(*) FROM person_register GROUP BY 1 ORDER BY 1"
    ).fetchall()
    # a number, so the UI plots it across runs
    return {"people_in_population": sum(n for _, n in by_neighbourhood),
            "people_by_neighbourhood": dg.MetadataValue.json(dict(by_neighbourhood))}


@warehouse_asset(
    group="people",
    deps=["stg_gp_appointments", "stg_ed_attendances", "stg_admissions", "stg_social_care_events"],
    description=(
        "The core event table, a view over the staging tables (so it always shows the staging tables as they "
        "are now: after restaging one feed alone, rebuild what derives from it): one row per GP appointment, ED "
        "attendance, hospital spell and social care "
        "event, with whether the contract counts it, emergency, length of stay and ambulance arrival. Every "
        "count (12-month counts, features at earlier dates, monthly series) derives from it."
    ),
)
def person_events(step: Step) -> dict:
    build_person_events(step.conn, short_stay_max_days=step.settings.short_stay_max_days)
    by_service = step.conn.execute(
        "SELECT service, count(*), count(*) FILTER (WHERE counted) FROM person_events GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return {"events_by_service": dg.MetadataValue.json({s: {"rows": n, "counted": c} for s, n, c in by_service})}


@warehouse_asset(
    group="people",
    deps=["person_register", "person_events", PERIOD_TABLE],
    description=(
        "Each registered person's activity in the 12-month window: attended GP appointments, ED "
        "attendances (planned follow-ups excluded), emergency admissions, and social care involvement "
        "(null when the social care extract was not supplied)."
    ),
)
def person_activity_12m(step: Step) -> dict:
    period = step.period
    social_care = extract_supplied(step.conn, "social_care_events")
    build_person_activity(step.conn, period, social_care_supplied=social_care)
    totals = step.conn.execute(
        """SELECT sum(gp_appointments_12m), sum(ed_attendances_12m), sum(emergency_admissions_12m)
           FROM person_activity_12m"""
    ).fetchall()[0]
    return {
        "window": f"{period.start} to {period.end}",
        "gp_appointments": int(totals[0] or 0),
        "ed_attendances": int(totals[1] or 0),
        "emergency_admissions": int(totals[2] or 0),
        "social_care_supplied": social_care,
    }
