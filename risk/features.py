"""Features for the rising-risk model, for everyone in the population on a feature date at once.

Every count is a measure of `cohorts.events` (the contract's counting rules, written once) summed
over a window that ends on the feature date, and the frailty scores are `cohorts.frailty`'s as at
that date, so nothing dated after it can reach a feature: the model is trained on features as at
`as_of - 12 months` and scored on features as at `as_of`, and a feature that saw the future would
make the validation a lie. The windows: the last 3, 6 and 12 months, and the 12 months before those
(the change against them is the trend).

A feature whose extract was not supplied is NULL for everyone, not zero: "no social care data" is
not "no social care".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from cohorts.events import person_window_counts_sql
from cohorts.frailty import build_efi, build_hfrs
from cohorts.period import Period, window_start_months
from cohorts.register import build_person_register
from pipeline.duck import row_count

# window name -> (months back from the feature date to its start, months back to its end)
WINDOWS = {"3m": (3, 0), "6m": (6, 0), "12m": (12, 0), "prior_12m": (24, 12)}
# measures counted in every window (the high intensity services) or only over the 12 months and the
# 12 before (the rest)
TREND_MEASURES = ("gp_appointments", "ed_attendances", "emergency_admissions")
YEAR_MEASURES = ("ambulance_arrivals", "short_stay_admissions", "emergency_bed_days")
SOCIAL_CARE_MEASURES = ("social_care_requests", "social_care_services", "social_care_unplanned_reviews")

# Words for each measure, as an INT lead would say them.
MEASURE_WORDS = {
    "gp_appointments": "GP appointments",
    "ed_attendances": "ED attendances",
    "emergency_admissions": "emergency admissions",
    "ambulance_arrivals": "ambulance arrivals at ED",
    "short_stay_admissions": "short-stay emergency admissions",
    "emergency_bed_days": "emergency bed days",
    "social_care_requests": "social care requests",
    "social_care_services": "social care services",
    "social_care_unplanned_reviews": "unplanned social care reviews",
}
WINDOW_WORDS = {"3m": "in 3 months", "6m": "in 6 months", "12m": "in 12 months", "prior_12m": "in the 12 months before"}


@dataclass(frozen=True)
class Feature:
    """One model input: its column, its meaning in words, the months of activity data before the
    feature date it needs to be complete, and the optional data it comes from (None: always there)."""

    name: str
    words: str
    history_months: int = 12
    needs: str | None = None


def _features() -> tuple[Feature, ...]:
    features = [
        Feature("age", "age", 0),
        Feature("female", "sex: female", 0),
        Feature("imd_decile", "IMD decile (1 most deprived)", 0),
    ]
    for m in TREND_MEASURES:
        for w in WINDOWS:
            features.append(Feature(f"{m}_{w}", f"{MEASURE_WORDS[m]} {WINDOW_WORDS[w]}", WINDOWS[w][0]))
        features.append(Feature(f"{m}_change", f"change in {MEASURE_WORDS[m]} against the year before", 24))
    features.append(Feature("gp_dna_rate_12m", "share of GP appointments missed (DNA) in 12 months"))
    for m in YEAR_MEASURES:
        for w in ("12m", "prior_12m"):
            features.append(Feature(f"{m}_{w}", f"{MEASURE_WORDS[m]} {WINDOW_WORDS[w]}", WINDOWS[w][0]))
    features += [
        Feature("efi_deficits", "eFI deficits (65 and over)", 12, "efi"),
        Feature("hfrs_score", "Hospital Frailty Risk Score (75 and over)", 24, "hfrs"),
    ]
    features += [Feature(f"{m}_12m", f"{MEASURE_WORDS[m]} in 12 months", 12, "social_care") for m in SOCIAL_CARE_MEASURES]
    return tuple(features)


FEATURES: tuple[Feature, ...] = _features()
FEATURE_BY_NAME = {f.name: f for f in FEATURES}
EFI_CATEGORIES = ("fit", "mild", "moderate", "severe")


def feature_columns() -> list[str]:
    """Every model input column, in table order."""
    return [f.name for f in FEATURES]


def window(feature_date: dt.date, name: str) -> tuple[dt.date, dt.date]:
    """First and last day of a feature window, both included."""
    start_back, end_back = WINDOWS[name]
    end = feature_date if end_back == 0 else window_start_months(feature_date, end_back) - dt.timedelta(days=1)
    return window_start_months(feature_date, start_back), end


@dataclass(frozen=True)
class BuiltOnTheDate:
    """Tables a run has already built for a feature date (the as-of date): its register
    (`cohorts.register`) and eFI scores (`cohorts.frailty.build_efi`, the same register and 12 months),
    which the features would otherwise build again, the same."""

    register: str = "person_register"
    efi_scores: str = "efi_scores"


@dataclass(frozen=True)
class Supplied:
    """Which optional data the run has: a feature that needs missing data is NULL for everyone."""

    social_care: bool = True
    efi: bool = True  # GP coded events and medicines
    hfrs: bool = True  # admission diagnoses


def build_risk_features(
    conn: duckdb.DuckDBPyConnection,
    feature_date: dt.date,
    supplied: Supplied,
    events: str = "person_events",
    population: str = "stg_population",
    practices: str = "stg_practices",
    table: str = "risk_features",
    built: BuiltOnTheDate | None = None,
) -> int:
    """One row per person in the population on `feature_date`: where they were registered, age,
    sex and IMD decile then, every column of `feature_columns()`, efi_category and
    social_care_involved_12m. eFI needs the reference lists loaded (`cohorts.frailty`).

    `table` is a temporary table of this connection (`risk.samples` gathers the feature dates into
    the table the warehouse keeps): writing it to the database file too would cost a second copy.
    `built`: the register and eFI scores of `feature_date` where the run has them already (built
    from the run's own population and practices, so `population` and `practices` are not read)."""
    register, efi, efi_deficits, hfrs, known = (
        f"{table}_{part}" for part in ("register", "efi", "efi_deficits", "hfrs", "events")
    )
    made = [register, efi, efi_deficits, hfrs]
    if built is not None:
        register, efi, made = built.register, built.efi_scores, [hfrs]
    # The events as they stood on the feature date: a spell not yet discharged then has no length of
    # stay (no bed days, not short-stay), a social care event not yet ended is open. Otherwise a
    # discharge after the date would reach a feature.
    day = f"DATE '{feature_date.isoformat()}'"
    conn.execute(
        f"""CREATE OR REPLACE TEMP VIEW {known} AS SELECT * REPLACE (
                CASE WHEN event_end_date > {day} THEN NULL ELSE length_of_stay_days END AS length_of_stay_days,
                CASE WHEN event_end_date > {day} THEN NULL ELSE short_stay END AS short_stay,
                CASE WHEN event_end_date > {day} THEN NULL ELSE event_end_date END AS event_end_date)
            FROM {events}"""
    )
    events = known
    if built is None:
        build_person_register(conn, feature_date, population=population, practices=practices, table=register)
        build_efi(conn, Period(feature_date), supplied.efi, register=register, deficits_table=efi_deficits, scores_table=efi)
    build_hfrs(conn, Period(feature_date), supplied.hfrs, register=register, table=hfrs, as_known_then=True)
    # Each window counts only the measures its features use.
    # (Social care services open is one of the social care states, not a dated measure.)
    year = TREND_MEASURES + YEAR_MEASURES
    social_care = ("social_care_requests", "social_care_unplanned_reviews") if supplied.social_care else ()
    needed = {"3m": TREND_MEASURES, "6m": TREND_MEASURES, "prior_12m": year, "12m": year + ("gp_dna",) + social_care}
    # One scan of the events for all four windows (each column filtered to its own window).
    counted = person_window_counts_sql(
        events, {name: (*window(feature_date, name), needed[name]) for name in WINDOWS},
        social_care_states="12m" if supplied.social_care else None,
    )
    joins = f"LEFT JOIN ({counted}) c USING (person_id)"

    def count(column: str) -> str:
        return f"coalesce(c.{column}, 0)"

    counts = [f"{count(f'{m}_{w}')}::BIGINT AS {m}_{w}" for m in TREND_MEASURES for w in WINDOWS]
    counts += [f"({count(f'{m}_12m')} - {count(f'{m}_prior_12m')})::BIGINT AS {m}_change" for m in TREND_MEASURES]
    counts.append(f"{count('gp_dna_12m')} / nullif({count('gp_dna_12m')} + {count('gp_appointments_12m')}, 0) AS gp_dna_rate_12m")
    counts += [f"{count(f'{m}_{w}')}::BIGINT AS {m}_{w}" for m in YEAR_MEASURES for w in ("12m", "prior_12m")]
    if supplied.social_care:
        counts += [f"{count(f'{m}_12m')}::BIGINT AS {m}_12m" for m in SOCIAL_CARE_MEASURES]
        counts.append("coalesce(c.social_care_involved_12m, false) AS social_care_involved_12m")
    else:
        counts += [f"NULL::BIGINT AS {m}_12m" for m in SOCIAL_CARE_MEASURES]
        counts.append("NULL::BOOLEAN AS social_care_involved_12m")
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT r.person_id, r.neighbourhood_code, r.practice_code, r.sex,
               r.age, CASE r.sex WHEN 'F' THEN 1 WHEN 'M' THEN 0 END::DOUBLE AS female, r.imd_decile,
               {", ".join(counts)},
               e.efi_deficits, e.efi_category, h.hfrs_score
        FROM {register} r {joins}
        LEFT JOIN {efi} e USING (person_id)
        LEFT JOIN {hfrs} h USING (person_id)
        ORDER BY r.person_id
        """
    )
    for part in made:
        conn.execute(f"DROP TABLE {part}")
    conn.execute(f"DROP VIEW {known}")
    return row_count(conn, table)
