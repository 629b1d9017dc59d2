"""Event-table properties: a window of whole months is the sum of its months, for every measure.

The source tables are built straight in DuckDB (staging has its own tests), so each example is
quick and dates, codes and lengths of stay can range freely, including around the window's edges.
"""

import datetime as dt

import duckdb
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from cohorts.events import MEASURES, build_person_events, monthly_counts_sql, person_counts_sql
from cohorts.period import Period, month_end
from schemas.codes import ADMISSION_METHOD, AMBULANCE_ARRIVAL_MODES, APPT_STATUS, ED_ATTENDANCE_CATEGORY

PEOPLE = st.sampled_from(["p1", "p2", "p3"])
DAYS = st.dates(dt.date(2023, 1, 1), dt.date(2026, 6, 30))
# As-of at a month end whose 12-month window is exactly 12 calendar months: not 2025-02-28, whose
# window starts on 2024-02-29 (the same day 12 months earlier, plus one).
AS_OF = st.builds(lambda y, m: month_end(dt.date(y, m, 1)), st.integers(2024, 2025), st.integers(1, 12)).filter(
    lambda day: Period(day).start.day == 1
)

gp_rows = st.lists(st.tuples(PEOPLE, DAYS, st.sampled_from(APPT_STATUS)), max_size=25)
ed_rows = st.lists(
    st.tuples(
        PEOPLE,
        st.datetimes(dt.datetime(2023, 1, 1), dt.datetime(2026, 6, 30, 23, 59, 59)),
        st.sampled_from(ED_ATTENDANCE_CATEGORY),
        st.sampled_from(AMBULANCE_ARRIVAL_MODES + ["1048071000000103", "1048061000000105"]),
    ),
    max_size=25,
)
admission_rows = st.lists(
    st.tuples(PEOPLE, DAYS, st.sampled_from(ADMISSION_METHOD), st.none() | st.integers(0, 60)), max_size=25
)


def events_connection(gp, ed, admissions) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    frames = {
        "src_gp": pl.DataFrame(
            [(f"a{i}", p, d, s) for i, (p, d, s) in enumerate(gp)],
            schema={"appointment_id": pl.String, "person_id": pl.String, "appointment_date": pl.Date, "appt_status": pl.String},
            orient="row",
        ),
        "src_ed": pl.DataFrame(
            [(f"e{i}", p, t, c, m) for i, (p, t, c, m) in enumerate(ed)],
            schema={
                "attendance_id": pl.String, "person_id": pl.String, "arrival_datetime": pl.Datetime("us"),
                "attendance_category": pl.String, "arrival_mode": pl.String,
            },
            orient="row",
        ),
        "src_admissions": pl.DataFrame(
            [(f"s{i}", p, d, None if los is None else d + dt.timedelta(days=los), m) for i, (p, d, m, los) in enumerate(admissions)],
            schema={
                "spell_id": pl.String, "person_id": pl.String, "admission_date": pl.Date, "discharge_date": pl.Date,
                "admission_method": pl.String,
            },
            orient="row",
        ),
    }
    for name, frame in frames.items():
        conn.register(f"{name}_frame", frame)
        conn.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_frame")
    conn.execute(
        "CREATE TABLE src_social_care (event_id VARCHAR, person_id VARCHAR, event_type VARCHAR, "
        "event_start_date DATE, event_end_date DATE)"
    )
    build_person_events(conn, gp="src_gp", ed="src_ed", admissions="src_admissions", social_care="src_social_care")
    return conn


@given(gp_rows, ed_rows, admission_rows, AS_OF)
def test_months_of_a_window_sum_to_the_window_counts(gp, ed, admissions, as_of):
    period = Period(as_of)
    conn = events_connection(gp, ed, admissions)
    sums = ", ".join(f"sum({m})::BIGINT AS {m}" for m in MEASURES)
    measures = ", ".join(MEASURES)
    by_months = conn.execute(
        f"SELECT person_id, {sums} FROM ({monthly_counts_sql('person_events', period.start, period.end)}) "
        "GROUP BY person_id ORDER BY person_id"
    ).fetchall()
    window = conn.execute(
        f"SELECT person_id, {measures} FROM ({person_counts_sql('person_events', period.start, period.end)}) "
        "ORDER BY person_id"
    ).fetchall()
    conn.close()
    assert by_months == window

    # And the window counts are not vacuous: the emergency totals match a plain count of the input.
    in_window = [(d, m, los) for _, d, m, los in admissions if period.start <= d <= period.end and m.startswith("2")]
    totals = dict(zip(MEASURES, (sum(column) for column in list(zip(*window))[1:]))) if window else {}
    assert totals.get("emergency_admissions", 0) == len(in_window)
    assert totals.get("emergency_bed_days", 0) == sum(los or 0 for _, _, los in in_window)
    assert totals.get("short_stay_admissions", 0) == sum(los is not None and los <= 2 for _, _, los in in_window)
