"""One person-level event table, and the counting rules of contract section 5 written once over it.

`person_events` holds one row per activity record of the four activity feeds (GP appointments, ED
attendances, hospital spells, social care events), with the facts the counting rules need already
decided per row: whether the rule counts it, whether a spell is an emergency, its length of stay,
whether an ED attendance arrived by ambulance. Every later count (the 12-month counts on the as-of
date, features at earlier as-of dates, monthly series for counterfactual metrics) is then a
filter and a sum over this one table, from the predicates in `MEASURES`, so no stage restates a
counting rule.

A measure is dated by the event's date (arrival date, appointment date, admission date) and counted
in the window holding that date. Social care involvement is not a count of dated events but a state
over a window (a Request starting in it, or a Service overlapping it), so it has its own predicate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from cohorts.period import month_end, month_start, sql_date
from pipeline.duck import drop_relation, row_count
from schemas.codes import AMBULANCE_ARRIVAL_MODES, ED_COUNTED_CATEGORIES
from schemas.sql_rules import quote_literal

SERVICES = ["gp", "ed", "admission", "social_care"]

# The event table's columns, in order: SQL type and description. The CREATE is built from this,
# and the descriptions are stored as column comments in the warehouse, so the words and the
# table cannot drift apart.
EVENT_COLUMNS: dict[str, tuple[str, str]] = {
    "person_id": ("VARCHAR", "Pseudonymised person identifier (never an NHS number)."),
    "event_date": (
        "DATE",
        "Date the event is counted on: appointment date, ED arrival date, admission date, or social care event start.",
    ),
    "service": ("VARCHAR", "gp, ed, admission or social_care."),
    "counted": (
        "BOOLEAN",
        "Whether the contract's counting rule counts the event: GP attended; ED category 1, 2 or 3; "
        "admission an emergency; social care a Request or a Service.",
    ),
    "emergency": ("BOOLEAN", "Admissions: admission method starting with 2. Null for other services."),
    "length_of_stay_days": (
        "BIGINT",
        "Admissions: discharge date minus admission date in days (0 = same day); null while still in hospital "
        "and for other services.",
    ),
    "short_stay": (
        "BOOLEAN",
        "Admissions: discharged within the short-stay days of the run (HIU_SHORT_STAY_MAX_DAYS, default 2: a length "
        "of stay of 0, 1 or 2 days); null while still in hospital and for other services.",
    ),
    "ambulance_arrival": (
        "BOOLEAN",
        "ED: arrival mode is one of the five ambulance codes (false when the mode is missing). Null for other services.",
    ),
    "event_end_date": ("DATE", "Social care event end date, or admission discharge date; null when open or not applicable."),
    "event_type": (
        "VARCHAR",
        "Social care event type (Request, Assessment, Service, Review); GP appointment status (Attended, DNA, "
        "Unknown); null for ED and admissions.",
    ),
    "unplanned": (
        "BOOLEAN",
        "Social care reviews: the review reason is one of the 'Unplanned - ...' values (false when Planned or "
        "missing). Null for other events.",
    ),
    "source_id": ("VARCHAR", "Identifier of the source record: appointment_id, attendance_id, spell_id or event_id."),
}


def _in_list(values: list[str]) -> str:
    return ", ".join(quote_literal(v) for v in values)


def _select(source: str, expressions: dict[str, str]) -> str:
    """One feed's rows in the event table's column order; columns a feed lacks are typed NULLs.
    Every column is cast to its declared type, so the UNION of feeds has exactly those types."""
    unknown = set(expressions) - set(EVENT_COLUMNS)
    if unknown:
        raise ValueError(f"not event table columns: {sorted(unknown)}")
    columns = ", ".join(
        f"CAST({expressions.get(name, 'NULL')} AS {sql_type}) AS {name}" for name, (sql_type, _) in EVENT_COLUMNS.items()
    )
    return f"SELECT {columns} FROM {source}"


SHORT_STAY_MAX_DAYS = 2  # default: a short stay is 0 to 2 days (domain.md: "staying one or two days")


def person_events_sql(
    gp: str, ed: str, admissions: str, social_care: str, review_reason: bool = True,
    short_stay_max_days: int = SHORT_STAY_MAX_DAYS,
) -> str:
    """The SELECT behind `build_person_events`, one branch per feed. `review_reason`: whether the
    social care table has that (nullable, so optional) column; without it no review is unplanned."""
    # coalesce(..., false): `counted` is a plain yes/no, so a missing code never becomes NULL in a filter.
    gp_rows = _select(
        gp,
        {
            "person_id": "person_id",
            "event_date": "appointment_date",
            "service": "'gp'",
            "counted": "coalesce(appt_status = 'Attended', false)",
            "event_type": "appt_status",
            "source_id": "appointment_id",
        },
    )
    ed_rows = _select(
        ed,
        {
            "person_id": "person_id",
            # By arrival date, whatever the time of day (contract section 5).
            "event_date": "CAST(arrival_datetime AS DATE)",
            "service": "'ed'",
            "counted": f"coalesce(attendance_category IN ({_in_list(ED_COUNTED_CATEGORIES)}), false)",
            "ambulance_arrival": f"coalesce(arrival_mode IN ({_in_list(AMBULANCE_ARRIVAL_MODES)}), false)",
            "source_id": "attendance_id",
        },
    )
    emergency = "coalesce(admission_method LIKE '2%', false)"
    admission_rows = _select(
        admissions,
        {
            "person_id": "person_id",
            "event_date": "admission_date",
            "service": "'admission'",
            # The only admissions the contract counts are emergency ones.
            "counted": emergency,
            "emergency": emergency,
            # Plain date subtraction gives whole days; NULL discharge (still in hospital) stays NULL.
            "length_of_stay_days": "discharge_date - admission_date",
            "short_stay": f"discharge_date - admission_date <= {int(short_stay_max_days)}",
            "event_end_date": "discharge_date",
            "source_id": "spell_id",
        },
    )
    social_care_rows = _select(
        social_care,
        {
            "person_id": "person_id",
            "event_date": "event_start_date",
            "service": "'social_care'",
            # Only Requests and Services can make a person "involved"; Assessments and Reviews cannot.
            "counted": "coalesce(event_type IN ('Request', 'Service'), false)",
            "event_end_date": "event_end_date",
            "event_type": "event_type",
            "unplanned": "CASE WHEN event_type = 'Review' THEN "
            + ("coalesce(review_reason LIKE 'Unplanned%', false)" if review_reason else "false")
            + " END",
            "source_id": "event_id",
        },
    )
    return "\nUNION ALL\n".join([gp_rows, ed_rows, admission_rows, social_care_rows])


def build_person_events(
    conn: duckdb.DuckDBPyConnection,
    table: str = "person_events",
    gp: str = "stg_gp_appointments",
    ed: str = "stg_ed_attendances",
    admissions: str = "stg_admissions",
    social_care: str = "stg_social_care_events",
    short_stay_max_days: int = SHORT_STAY_MAX_DAYS,
) -> int:
    """One row per activity record of every feed, columns as `EVENT_COLUMNS`. Every record is kept,
    counted or not, and whoever it belongs to: who is counted is the register's business.

    A view over the staging tables, not a copy: each feed's rows are already typed there, and a
    copy of tens of millions of events cost about 10 s of a million-person run to write and made the
    warehouse a third larger, which every run copies. A count over it reads only the feeds and
    columns its rules name (a GP measure never reads the ED table)."""
    review_reason = "review_reason" in conn.table(social_care).columns
    select = person_events_sql(gp, ed, admissions, social_care, review_reason, short_stay_max_days)
    drop_relation(conn, table)  # a table of this name from a warehouse made before it was a view
    conn.execute(f"CREATE VIEW {table} AS {select}")
    for name, (_, description) in EVENT_COLUMNS.items():
        conn.execute(f"COMMENT ON COLUMN {table}.{name} IS {quote_literal(description)}")
    return row_count(conn, table)


# --- the counting rules, once ------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """Which events a measure takes (`predicate`) and what each adds (`value`: 1 for a count)."""

    predicate: str
    value: str = "1"
    description: str = ""


# Additive measures over dated events: a window's total is the sum of its months' totals. The first
# three are the contract's 12-month counts; the others are for counterfactual metrics (domain.md).
MEASURES: dict[str, Measure] = {
    "gp_appointments": Measure("service = 'gp' AND counted", description="Attended GP appointments."),
    "ed_attendances": Measure("service = 'ed' AND counted", description="ED attendances, planned follow-ups not counted."),
    "emergency_admissions": Measure("service = 'admission' AND emergency", description="Emergency admissions."),
    "short_stay_admissions": Measure(
        "service = 'admission' AND emergency AND short_stay",
        description="Emergency admissions discharged within the short-stay days (default 0 to 2 days).",
    ),
    "emergency_bed_days": Measure(
        "service = 'admission' AND emergency",
        # A spell still open has no length yet: it adds 0 bed days until discharged.
        value="coalesce(length_of_stay_days, 0)",
        description="Bed days of emergency admissions (discharge date minus admission date; 0 while still in hospital).",
    ),
    "ambulance_arrivals": Measure(
        "service = 'ed' AND counted AND ambulance_arrival", description="Counted ED attendances arriving by ambulance."
    ),
    # For the rising-risk features and the social care profile.
    "gp_dna": Measure("service = 'gp' AND event_type = 'DNA'", description="GP appointments not attended (DNA)."),
    "social_care_requests": Measure(
        "service = 'social_care' AND event_type = 'Request'", description="Social care requests (by start date)."
    ),
    "social_care_reviews": Measure("service = 'social_care' AND event_type = 'Review'", description="Social care reviews."),
    "social_care_unplanned_reviews": Measure(
        "service = 'social_care' AND event_type = 'Review' AND unplanned",
        description="Social care reviews for an unplanned reason.",
    ),
}


def in_window(start: dt.date, end: dt.date) -> str:
    """Events dated in the window, both ends included."""
    return f"event_date BETWEEN {sql_date(start)} AND {sql_date(end)}"


def social_care_service_open(start: dt.date, end: dt.date) -> str:
    """A social care Service overlapping the window: starting on or before its end, and open or
    ending on or after its start."""
    s, e = sql_date(start), sql_date(end)
    return (
        f"(service = 'social_care' AND event_type = 'Service' AND event_date <= {e} "
        f"AND (event_end_date IS NULL OR event_end_date >= {s}))"
    )


def social_care_involvement(start: dt.date, end: dt.date) -> str:
    """Contract section 5: a Request starting in the window, or a Service overlapping it."""
    s, e = sql_date(start), sql_date(end)
    return f"""(service = 'social_care' AND (
            (event_type = 'Request' AND event_date BETWEEN {s} AND {e})
            OR {social_care_service_open(start, end)}
        ))"""


def measure_columns(within: str = "TRUE", measures: tuple[str, ...] | None = None, suffix: str = "") -> str:
    """One BIGINT column per measure (every one, or those named), named the measure and `suffix`:
    its value summed over the events matching `within` and its predicate; 0, not NULL, when none match.
    A count is count(*), not sum(1): the same number, and a third cheaper over a million people's events."""

    def column(measure: Measure) -> str:
        matching = f"FILTER (WHERE ({within}) AND ({measure.predicate}))"
        return f"count(*) {matching}" if measure.value == "1" else f"coalesce(sum({measure.value}) {matching}, 0)"

    return ",\n       ".join(
        f"{column(MEASURES[name])}::BIGINT AS {name}{suffix}" for name in (MEASURES if measures is None else measures)
    )


def counted_by_any_measure(measures: tuple[str, ...] | None = None) -> str:
    """Events some measure (of those named) takes: the rest (DNAs, planned follow-ups, electives)
    add to no column, so leaving them out early keeps all-zero rows out of the results."""
    return " OR ".join(f"({MEASURES[name].predicate})" for name in (MEASURES if measures is None else measures))


def person_counts_sql(
    events: str, start: dt.date, end: dt.date, measures: tuple[str, ...] | None = None, social_care_states: bool = True
) -> str:
    """SELECT person_id, every measure (or the `measures` named) in the window start..end, and,
    unless told not to, social_care_involved (BOOLEAN) and social_care_services (Services open at
    some time in the window: a state, not a dated count).

    Only people with at least one event that a measure counts in the window, or with social care
    involvement, have a row: join it to a register and treat a missing row as zeros.
    social_care_involved is false, not NULL, here; whether the social care feed was supplied at all
    is the caller's to know. Naming only the measures needed makes a scan of a large event table
    several times cheaper (the rising-risk features count 3 of them over 3 and 6 months)."""
    return person_window_counts_sql(events, {"": (start, end, measures)}, social_care_states="" if social_care_states else None)


def person_window_counts_sql(
    events: str,
    windows: dict[str, tuple[dt.date, dt.date, tuple[str, ...] | None]],
    social_care_states: str | None = None,
) -> str:
    """`person_counts_sql` for several windows in one scan of `events`: for each window name ->
    (start, end, measures), a column `<measure>_<name>` per measure (just `<measure>` for the name
    ""), and with `social_care_states` naming one of the windows, social_care_involved and
    social_care_services over it (suffixed the same way). A person has a row when some window
    counts one of their events (or the social care window involves them)."""
    unknown = sorted({m for _, _, measures in windows.values() for m in (measures or ())} - set(MEASURES))
    if not windows or unknown or any(measures == () for _, _, measures in windows.values()):
        raise ValueError(f"person counts need one or more of the measures {list(MEASURES)}, not {unknown or 'none'}")
    if social_care_states is not None and social_care_states not in windows:
        raise ValueError(f"social care states over {social_care_states!r}, which is not one of the windows")

    def suffix(name: str) -> str:
        return f"_{name}" if name else ""

    columns = [measure_columns(in_window(start, end), measures, suffix(name)) for name, (start, end, measures) in windows.items()]
    taken = [f"(({in_window(start, end)}) AND ({counted_by_any_measure(measures)}))" for start, end, measures in windows.values()]
    if social_care_states is not None:
        start, end, _ = windows[social_care_states]
        involved, tail = social_care_involvement(start, end), suffix(social_care_states)
        columns.append(
            f"coalesce(bool_or({involved}), false) AS social_care_involved{tail},\n       "
            f"count(*) FILTER (WHERE {social_care_service_open(start, end)})::BIGINT AS social_care_services{tail}"
        )
        taken.append(involved)
    column_list = ",\n               ".join(columns)
    return f"""
        SELECT person_id,
               {column_list}
        FROM {events}
        WHERE {" OR ".join(taken)}
        GROUP BY person_id
    """


def monthly_counts_sql(
    events: str,
    first_month: dt.date,
    last_month: dt.date,
    by: tuple[str, ...] = ("person_id",),
    register: str | None = None,
) -> str:
    """SELECT `by` columns, month (its first day, DATE) and every measure, from the month holding
    `first_month` to the month holding `last_month`, both included.

    With `register`, events are joined to it on person_id, so `by` may name register columns (for
    example neighbourhood_code) and only people in that register are counted. Months in which a
    group has no counted event have no row (a dense series joins this to a calendar). Social care
    involvement is a state over a window, not a monthly count, so it is not here."""
    if not by:
        raise ValueError("monthly counts need at least one column to group by")
    source = f"{events} JOIN {register} USING (person_id)" if register else events
    window = in_window(month_start(first_month), month_end(last_month))
    groups = ", ".join(by)
    return f"""
        SELECT {groups},
               CAST(date_trunc('month', event_date) AS DATE) AS month,
               {measure_columns()}
        FROM {source}
        WHERE ({window}) AND ({counted_by_any_measure()})
        GROUP BY {groups}, month
    """


def build_monthly_activity(
    conn: duckdb.DuckDBPyConnection,
    first_month: dt.date,
    last_month: dt.date,
    table: str,
    events: str = "person_events",
    by: tuple[str, ...] = ("person_id",),
    register: str | None = None,
) -> int:
    """`monthly_counts_sql` as a table."""
    conn.execute(
        f"CREATE OR REPLACE TABLE {table} AS {monthly_counts_sql(events, first_month, last_month, by, register)}"
    )
    return row_count(conn, table)
