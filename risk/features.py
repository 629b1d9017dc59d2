"""Features for the rising-risk model, for everyone in the population on a feature date at once.

Every count is a measure of `cohorts.events` (the contract's counting rules, written once) summed
over a window that ends on the feature date, so nothing dated after it can reach a feature: the
model is trained on features as at `as_of - 12 months` and scored on features as at `as_of`, and a
feature that saw the future would make the validation a lie. The windows: the last 3, 6 and 12
months, and the 12 months before those (the change against them is the trend)."""

from __future__ import annotations

import datetime as dt

import duckdb

from cohorts.events import person_counts_sql
from cohorts.period import window_start_months
from cohorts.register import build_person_register
from pipeline.duck import row_count

# window name -> (months back from the feature date to its start, months back to its end)
WINDOWS = {"3m": (3, 0), "6m": (6, 0), "12m": (12, 0), "prior_12m": (24, 12)}
# measures counted in every window (the high intensity services) or only over the 12 months and the
# 12 before (the rest)
TREND_MEASURES = ("gp_appointments", "ed_attendances", "emergency_admissions")
YEAR_MEASURES = ("ambulance_arrivals", "short_stay_admissions", "emergency_bed_days")


def window(feature_date: dt.date, name: str) -> tuple[dt.date, dt.date]:
    """First and last day of a feature window, both included."""
    start_back, end_back = WINDOWS[name]
    end = feature_date if end_back == 0 else window_start_months(feature_date, end_back) - dt.timedelta(days=1)
    return window_start_months(feature_date, start_back), end


def feature_columns() -> list[str]:
    """The count and trend features, in table order (after person_id, age, sex, imd_decile)."""
    columns = [f"{m}_{w}" for m in TREND_MEASURES for w in WINDOWS]
    columns += [f"{m}_{w}" for m in YEAR_MEASURES for w in ("12m", "prior_12m")]
    columns += [f"{m}_change" for m in TREND_MEASURES]
    return columns + ["social_care_involved_12m"]


def build_risk_features(
    conn: duckdb.DuckDBPyConnection,
    feature_date: dt.date,
    social_care_supplied: bool,
    events: str = "person_events",
    population: str = "stg_population",
    practices: str = "stg_practices",
    table: str = "risk_features",
) -> int:
    """One row per person in the population on `feature_date`: age, sex and IMD decile then, and
    the counts of `feature_columns()`; social care involvement is null (not false) when the social
    care extract was not supplied."""
    register = f"{table}_register"
    build_person_register(conn, feature_date, population=population, practices=practices, table=register)
    counted = {name: person_counts_sql(events, *window(feature_date, name)) for name in WINDOWS}
    joins = " ".join(f"LEFT JOIN ({sql}) w_{name} USING (person_id)" for name, sql in counted.items())
    counts = [f"coalesce(w_{w}.{m}, 0)::BIGINT AS {m}_{w}" for m in TREND_MEASURES for w in WINDOWS]
    counts += [f"coalesce(w_{w}.{m}, 0)::BIGINT AS {m}_{w}" for m in YEAR_MEASURES for w in ("12m", "prior_12m")]
    counts += [f"(coalesce(w_12m.{m}, 0) - coalesce(w_prior_12m.{m}, 0))::BIGINT AS {m}_change" for m in TREND_MEASURES]
    social_care = "coalesce(w_12m.social_care_involved, false)" if social_care_supplied else "NULL::BOOLEAN"
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        SELECT r.person_id, r.age, r.sex, r.imd_decile,
               {", ".join(counts)},
               {social_care} AS social_care_involved_12m
        FROM {register} r {joins}
        ORDER BY r.person_id
        """
    )
    conn.execute(f"DROP TABLE {register}")
    return row_count(conn, table)
