"""The person event table and the measures over it (contract section 5, domain.md counterfactual
activity), each behaviour on a tiny hand-written drop. As-of 2025-03-31: window 2024-04-01 to
2025-03-31."""

import datetime as dt

import duckdb
import pytest

from cohorts.activity import build_person_activity
from cohorts.events import (
    EVENT_COLUMNS,
    MEASURES,
    build_monthly_activity,
    build_person_events,
    monthly_counts_sql,
    person_counts_sql,
    person_window_counts_sql,
)
from cohorts.period import Period
from cohorts.register import build_person_register
from schemas.codes import AMBULANCE_ARRIVAL_MODES
from tests.drops import events_connection, write_drop

ME = {"person_id": "p1"}
START, END = dt.date(2024, 4, 1), dt.date(2025, 3, 31)
OWN_TRANSPORT = "1048071000000103"


def gp(date, status="Attended", **extra):
    return {"person_id": "p1", "appointment_date": date, "appt_status": status, **extra}


def ed(arrival, category="1", mode=OWN_TRANSPORT, **extra):
    return {"person_id": "p1", "arrival_datetime": arrival, "attendance_category": category, "arrival_mode": mode, **extra}


def admission(date, method="21", discharge="same", **extra):
    discharge = date if discharge == "same" else discharge
    return {"person_id": "p1", "admission_date": date, "discharge_date": discharge, "admission_method": method, **extra}


def social_care(event_type, start, end="same", **extra):
    """Only a Service may be open (contract section 2): other types end on their start day unless told."""
    end = (None if event_type == "Service" else start) if end == "same" else end
    return {"person_id": "p1", "event_type": event_type, "event_start_date": start, "event_end_date": end, **extra}


@pytest.fixture
def events(tmp_path):
    """events(**extracts) -> connection with the drop staged and `person_events` built."""
    opened = []

    def build(**extracts):
        extracts.setdefault("population", [ME])
        conn = events_connection(write_drop(tmp_path, **extracts))
        opened.append(conn)
        return conn

    yield build
    for conn in opened:
        conn.close()


def event_rows(conn, where="TRUE"):
    return conn.sql(f"SELECT * FROM person_events WHERE {where} ORDER BY source_id").pl().to_dicts()


def person_counts(conn, start=START, end=END):
    return conn.sql(person_counts_sql("person_events", start, end)).pl().rows_by_key("person_id", named=True, unique=True)


D = dt.date


# --- one row per record, per service ------------------------------------------------------------


def test_table_has_the_declared_columns_types_and_descriptions(events):
    conn = events()
    assert [(name, sql_type) for name, sql_type, *_ in conn.execute("DESCRIBE person_events").fetchall()] == [
        (name, sql_type) for name, (sql_type, _) in EVENT_COLUMNS.items()
    ]
    comments = dict(
        conn.execute("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'person_events'").fetchall()
    )
    assert comments == {name: description for name, (_, description) in EVENT_COLUMNS.items()}


def test_gp_appointment_row(events):
    conn = events(gp_appointments=[gp("2025-01-15", appointment_id="a1")])
    assert event_rows(conn) == [
        {
            "person_id": "p1", "event_date": D(2025, 1, 15), "service": "gp", "counted": True, "emergency": None,
            "length_of_stay_days": None, "short_stay": None, "ambulance_arrival": None, "event_end_date": None, "event_type": "Attended",
            "unplanned": None, "source_id": "a1",
        }
    ]


def test_ed_attendance_row_is_dated_by_arrival_date(events):
    conn = events(ed_attendances=[ed("2025-01-15 23:59:59", attendance_id="e1", departure_datetime="2025-01-16 02:00:00")])
    assert event_rows(conn) == [
        {
            "person_id": "p1", "event_date": D(2025, 1, 15), "service": "ed", "counted": True, "emergency": None,
            "length_of_stay_days": None, "short_stay": None, "ambulance_arrival": False, "event_end_date": None, "event_type": None,
            "unplanned": None, "source_id": "e1",
        }
    ]


def test_admission_row(events):
    conn = events(admissions=[admission("2025-01-15", discharge="2025-01-18", spell_id="s1")])
    assert event_rows(conn) == [
        {
            "person_id": "p1", "event_date": D(2025, 1, 15), "service": "admission", "counted": True, "emergency": True,
            "length_of_stay_days": 3, "short_stay": False, "ambulance_arrival": None, "event_end_date": D(2025, 1, 18), "event_type": None,
            "unplanned": None, "source_id": "s1",
        }
    ]


def test_social_care_row(events):
    conn = events(social_care_events=[social_care("Service", "2024-06-01", "2025-02-01", event_id="c1")])
    assert event_rows(conn) == [
        {
            "person_id": "p1", "event_date": D(2024, 6, 1), "service": "social_care", "counted": True, "emergency": None,
            "length_of_stay_days": None, "short_stay": None, "ambulance_arrival": None, "event_end_date": D(2025, 2, 1),
            "event_type": "Service", "unplanned": None, "source_id": "c1",
        }
    ]


def test_a_review_is_unplanned_by_its_reason_and_other_events_are_neither(events):
    conn = events(social_care_events=[
        social_care("Review", "2025-01-01", review_reason="Unplanned - hospital discharge", event_id="c1"),
        social_care("Review", "2025-01-02", review_reason="Planned", event_id="c2"),
        social_care("Review", "2025-01-03", event_id="c3"),
        social_care("Request", "2025-01-04", event_id="c4"),
    ])
    assert [row["unplanned"] for row in event_rows(conn)] == [True, False, False, None]
    counts = person_counts(conn)["p1"]
    assert (counts["social_care_reviews"], counts["social_care_unplanned_reviews"], counts["social_care_requests"]) == (3, 1, 1)


def test_gp_rows_carry_their_status_and_dnas_are_counted_apart(events):
    conn = events(gp_appointments=[gp("2025-01-01", s) for s in ("Attended", "DNA", "DNA", "Unknown")])
    counts = person_counts(conn)["p1"]
    assert (counts["gp_appointments"], counts["gp_dna"]) == (1, 2)


def test_every_record_is_kept_counted_or_not(events):
    conn = events(
        gp_appointments=[gp("2025-01-01", s) for s in ("Attended", "DNA", "Unknown")],
        ed_attendances=[ed("2025-01-01 10:00:00", c) for c in ("1", "2", "3", "4")],
        admissions=[admission("2025-01-01", m) for m in ("21", "11")],
        social_care_events=[social_care(t, "2025-01-01", "2025-01-02") for t in ("Request", "Assessment", "Service", "Review")],
    )
    by_service = conn.execute(
        "SELECT service, count(*), count(*) FILTER (WHERE counted) FROM person_events GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert by_service == [("admission", 2, 1), ("ed", 4, 3), ("gp", 3, 1), ("social_care", 4, 2)]


# --- counted flags ------------------------------------------------------------------------------


@pytest.mark.parametrize("status, counted", [("Attended", True), ("DNA", False), ("Unknown", False)])
def test_only_attended_gp_appointments_are_counted(events, status, counted):
    assert event_rows(events(gp_appointments=[gp("2025-01-01", status)]))[0]["counted"] is counted


@pytest.mark.parametrize("category, counted", [("1", True), ("2", True), ("3", True), ("4", False)])
def test_planned_ed_follow_ups_are_not_counted(events, category, counted):
    assert event_rows(events(ed_attendances=[ed("2025-01-01 10:00:00", category)]))[0]["counted"] is counted


@pytest.mark.parametrize(
    "method, emergency", [("21", True), ("2A", True), ("28", True), ("11", False), ("12", False), ("31", False), ("81", False), ("99", False)]
)
def test_only_emergency_admissions_are_emergency_and_counted(events, method, emergency):
    row = event_rows(events(admissions=[admission("2025-01-01", method)]))[0]
    assert (row["emergency"], row["counted"]) == (emergency, emergency)


@pytest.mark.parametrize(
    "event_type, counted", [("Request", True), ("Service", True), ("Assessment", False), ("Review", False)]
)
def test_social_care_requests_and_services_are_counted(events, event_type, counted):
    row = event_rows(events(social_care_events=[social_care(event_type, "2025-01-01", "2025-01-02")]))[0]
    assert (row["counted"], row["event_type"]) == (counted, event_type)


# --- length of stay and ambulance arrival ---------------------------------------------------------


@pytest.mark.parametrize(
    "discharge, days, short",
    [("2025-01-10", 0, True), ("2025-01-11", 1, True), ("2025-01-12", 2, True), ("2025-01-13", 3, False),
     ("2025-02-09", 30, False), (None, None, None)],
)
def test_length_of_stay_in_days_and_short_stays_of_0_to_2_days(events, discharge, days, short):
    row = event_rows(events(admissions=[admission("2025-01-10", discharge=discharge)]))[0]
    assert row["length_of_stay_days"] == days
    assert row["short_stay"] is short
    assert row["event_end_date"] == (D.fromisoformat(discharge) if discharge else None)


@pytest.mark.parametrize("max_days, short_stays", [(0, 1), (1, 2), (2, 3), (5, 4)])
def test_short_stay_days_are_a_setting(events, max_days, short_stays):
    conn = events(admissions=[admission("2025-01-10", discharge=f"2025-01-{day}") for day in (10, 11, 12, 13)])
    build_person_events(conn, short_stay_max_days=max_days)
    assert person_counts(conn)["p1"]["short_stay_admissions"] == short_stays


@pytest.mark.parametrize("mode", AMBULANCE_ARRIVAL_MODES)
def test_every_ambulance_code_is_an_ambulance_arrival(events, mode):
    assert event_rows(events(ed_attendances=[ed("2025-01-01 10:00:00", mode=mode)]))[0]["ambulance_arrival"] is True


@pytest.mark.parametrize(
    "mode", [OWN_TRANSPORT, "1048061000000105", "1047991000000102", "1048001000000106"]
)  # own, public, prison and police transport
def test_other_arrival_modes_are_not_ambulance_arrivals(events, mode):
    assert event_rows(events(ed_attendances=[ed("2025-01-01 10:00:00", mode=mode)]))[0]["ambulance_arrival"] is False


def test_missing_arrival_mode_is_not_an_ambulance_arrival():
    """The contract requires arrival_mode, so staging never passes a NULL; the table still says
    false rather than NULL if a source ever does. Also shows the source tables are arguments."""
    conn = duckdb.connect()
    conn.execute(
        """CREATE TABLE my_ed AS SELECT 'e1' AS attendance_id, 'p1' AS person_id,
           TIMESTAMP '2025-01-01 10:00:00' AS arrival_datetime, '1' AS attendance_category,
           NULL::VARCHAR AS arrival_mode"""
    )
    conn.execute("CREATE TABLE no_gp (appointment_id VARCHAR, person_id VARCHAR, appointment_date DATE, appt_status VARCHAR)")
    conn.execute(
        "CREATE TABLE no_adm (spell_id VARCHAR, person_id VARCHAR, admission_date DATE, discharge_date DATE, admission_method VARCHAR)"
    )
    conn.execute(
        "CREATE TABLE no_sc (event_id VARCHAR, person_id VARCHAR, event_type VARCHAR, event_start_date DATE, event_end_date DATE)"
    )
    assert build_person_events(conn, table="my_events", gp="no_gp", ed="my_ed", admissions="no_adm", social_care="no_sc") == 1
    assert conn.execute("SELECT ambulance_arrival, counted FROM my_events").fetchall() == [(False, True)]
    conn.close()


# --- person counts over a window ----------------------------------------------------------------


@pytest.mark.parametrize("date, counted", [("2024-03-31", 0), ("2024-04-01", 1), ("2025-03-31", 1), ("2025-04-01", 0)])
def test_person_counts_include_both_window_ends_only(events, date, counted):
    conn = events(
        gp_appointments=[gp(date)],
        ed_attendances=[ed(f"{date} 23:59:59", mode=AMBULANCE_ARRIVAL_MODES[0])],
        admissions=[admission(date, discharge="2025-05-01")],  # discharged after the window: admission date decides
    )
    row = person_counts(conn).get("p1", {})
    for measure in ("gp_appointments", "ed_attendances", "emergency_admissions", "ambulance_arrivals"):
        assert row.get(measure, 0) == counted, measure


def test_person_counts_of_every_measure(events):
    conn = events(
        gp_appointments=[gp("2025-01-01"), gp("2025-01-02"), gp("2025-01-03", "DNA")],
        ed_attendances=[
            ed("2025-01-01 10:00:00", mode=AMBULANCE_ARRIVAL_MODES[0]),
            ed("2025-01-02 10:00:00", mode=AMBULANCE_ARRIVAL_MODES[2]),
            ed("2025-01-03 10:00:00"),
            ed("2025-01-04 10:00:00", "4", mode=AMBULANCE_ARRIVAL_MODES[0]),  # planned: not counted, nor its ambulance
        ],
        admissions=[
            admission("2025-01-01"),  # 0 days
            admission("2025-01-05", discharge="2025-01-06"),  # 1 day
            admission("2025-01-10", discharge="2025-01-14"),  # 4 days
            admission("2025-01-20", discharge="2025-01-22"),  # 2 days: still a short stay
            admission("2025-03-30", discharge=None),  # still in hospital: counted, no bed days yet
            admission("2025-02-01", "11", discharge="2025-02-01"),  # elective: none of these
        ],
    )
    row = person_counts(conn)["p1"]
    assert {m: row[m] for m in MEASURES} == {
        "gp_appointments": 2,
        "ed_attendances": 3,
        "emergency_admissions": 5,
        "short_stay_admissions": 3,
        "emergency_bed_days": 7,
        "ambulance_arrivals": 2,
        "gp_dna": 1,
        "social_care_requests": 0,
        "social_care_reviews": 0,
        "social_care_unplanned_reviews": 0,
    }
    assert row["social_care_involved"] is False


@pytest.mark.parametrize(
    "event, involved",
    [
        (social_care("Request", "2024-04-01"), True),
        (social_care("Request", "2024-03-31"), False),
        (social_care("Request", "2025-03-31"), True),
        (social_care("Request", "2025-04-01"), False),
        (social_care("Assessment", "2025-01-01", "2025-01-02"), False),
        (social_care("Service", "2020-01-01"), True),
        (social_care("Service", "2020-01-01", "2024-04-01"), True),
        (social_care("Service", "2020-01-01", "2024-03-31"), False),
        (social_care("Service", "2025-03-31"), True),
        (social_care("Service", "2025-04-01"), False),
    ],
)
def test_person_counts_social_care_involvement(events, event, involved):
    assert person_counts(events(social_care_events=[event])).get("p1", {}).get("social_care_involved", False) is involved


def test_people_with_nothing_counted_in_the_window_have_no_row(events):
    conn = events(gp_appointments=[gp("2025-01-01", "Unknown"), gp("2023-01-01")])
    assert person_counts(conn) == {}


def test_person_counts_of_some_measures_equal_the_full_counts_and_leave_out_the_rest(events):
    conn = events(
        gp_appointments=[gp("2025-01-01"), gp("2025-01-03", "DNA")],
        admissions=[admission("2025-01-05", discharge="2025-01-06")],
        social_care_events=[social_care("Request", "2025-01-01")],
    )
    full = person_counts(conn)["p1"]
    some = conn.sql(person_counts_sql("person_events", START, END, measures=("gp_dna", "emergency_bed_days"), social_care_states=False))
    assert some.columns == ["person_id", "gp_dna", "emergency_bed_days"]
    assert some.fetchall() == [("p1", full["gp_dna"], full["emergency_bed_days"])] == [("p1", 1, 1)]
    # A person with only events the named measures do not take has no row.
    only_gp = person_counts_sql("person_events", START, END, measures=("ed_attendances",), social_care_states=False)
    assert conn.sql(only_gp).fetchall() == []


def test_counts_over_several_windows_in_one_scan_equal_each_windows_own_counts(events):
    """Two people: p1 with events in both windows, p2 only in the earlier one (so a zero row in the
    later window, where person_counts_sql has no row at all)."""
    conn = events(
        population=[ME, {"person_id": "p2"}],
        gp_appointments=[gp("2025-01-01"), gp("2024-01-03"), gp("2024-02-01", "DNA"), {**gp("2023-06-01"), "person_id": "p2"}],
        ed_attendances=[ed("2025-02-01 10:00:00"), ed("2023-05-01 09:00:00")],
        social_care_events=[social_care("Service", "2024-12-01"), social_care("Request", "2023-07-01")],
    )
    earlier = (dt.date(2023, 4, 1), dt.date(2024, 3, 31))
    windows = {"later": (START, END, ("gp_appointments", "ed_attendances")), "earlier": (*earlier, ("gp_appointments", "gp_dna"))}
    together = conn.sql(person_window_counts_sql("person_events", windows, social_care_states="later")).pl()
    rows = together.rows_by_key("person_id", named=True, unique=True)
    later = conn.sql(person_counts_sql("person_events", START, END, measures=("gp_appointments", "ed_attendances"))).pl()
    alone = conn.sql(person_counts_sql("person_events", *earlier, measures=("gp_appointments", "gp_dna"), social_care_states=False)).pl()
    for person, row in later.rows_by_key("person_id", named=True, unique=True).items():
        counts = {k: v for k, v in row.items() if k != "person_id"}
        assert counts == {k: rows[person][f"{k}_later"] for k in counts}
    for person, row in alone.rows_by_key("person_id", named=True, unique=True).items():
        counts = {k: v for k, v in row.items() if k != "person_id"}
        assert counts == {k: rows[person][f"{k}_earlier"] for k in counts}
    assert rows["p1"]["social_care_services_later"] == 1 and rows["p1"]["social_care_involved_later"] is True
    assert rows["p2"]["gp_appointments_later"] == 0 and rows["p2"]["gp_appointments_earlier"] == 1
    assert sorted(rows) == ["p1", "p2"]
    with pytest.raises(ValueError, match="not one of the windows"):
        person_window_counts_sql("person_events", windows, social_care_states="3m")


@pytest.mark.parametrize("measures", [(), ("gp_appointments", "bed_days")])
def test_person_counts_refuse_no_measures_or_an_unknown_one(measures):
    with pytest.raises(ValueError, match="measures"):
        person_counts_sql("person_events", START, END, measures=measures)


# --- monthly series -----------------------------------------------------------------------------

# Events spread over the window's months, its edges, and just outside it.
SPREAD = dict(
    population=[ME, {"person_id": "p2"}],
    gp_appointments=[gp(d) for d in ("2024-03-31", "2024-04-01", "2024-04-30", "2024-05-01", "2024-12-31", "2025-03-31", "2025-04-01")]
    + [gp("2024-08-15", "DNA"), {**gp("2024-08-15"), "person_id": "p2"}],
    ed_attendances=[
        ed("2024-04-30 23:59:59", mode=AMBULANCE_ARRIVAL_MODES[1]),
        ed("2024-05-01 00:00:00"),
        ed("2025-03-31 23:00:00", mode=AMBULANCE_ARRIVAL_MODES[4]),
        ed("2025-04-01 00:00:00", mode=AMBULANCE_ARRIVAL_MODES[0]),
        ed("2024-10-10 10:00:00", "4"),
    ],
    admissions=[
        admission("2024-04-01", discharge="2024-04-02"),
        admission("2024-06-30", discharge="2024-07-10"),
        admission("2025-03-31", discharge=None),
        admission("2024-03-31", discharge="2024-04-01"),
        admission("2024-09-01", "12"),
    ],
)


def test_monthly_series_over_the_window_sums_to_the_window_counts(events):
    conn = events(**SPREAD)
    window = person_counts(conn)
    monthly = conn.sql(
        f"SELECT person_id, {', '.join(f'sum({m})::BIGINT AS {m}' for m in MEASURES)}, count(*) AS months, "
        f"min(month) AS first, max(month) AS last "
        f"FROM ({monthly_counts_sql('person_events', START, END)}) GROUP BY person_id"
    ).pl().rows_by_key("person_id", named=True, unique=True)
    assert set(monthly) == set(window) == {"p1", "p2"}
    for person in window:
        assert {m: monthly[person][m] for m in MEASURES} == {m: window[person][m] for m in MEASURES}, person
    assert (monthly["p1"]["first"], monthly["p1"]["last"]) == (D(2024, 4, 1), D(2025, 3, 1))


def test_monthly_series_puts_each_event_in_its_calendar_month(events):
    conn = events(**SPREAD)
    build_monthly_activity(conn, START, END, table="monthly")
    rows = conn.execute(
        "SELECT month, gp_appointments, ed_attendances, ambulance_arrivals, emergency_admissions, emergency_bed_days "
        "FROM monthly WHERE person_id = 'p1' ORDER BY month"
    ).fetchall()
    assert rows == [
        (D(2024, 4, 1), 2, 1, 1, 1, 1),
        (D(2024, 5, 1), 1, 1, 0, 0, 0),
        (D(2024, 6, 1), 0, 0, 0, 1, 10),  # bed days counted in the admission month
        (D(2024, 8, 1), 0, 0, 0, 0, 0),  # a DNA: counted by gp_dna only
        (D(2024, 12, 1), 1, 0, 0, 0, 0),
        (D(2025, 3, 1), 1, 1, 1, 1, 0),
    ]


def test_monthly_series_by_neighbourhood_through_the_register(events):
    practices = [{}, {"practice_code": "P002", "neighbourhood_code": "south", "pcn_code": "PCN2"}]
    conn = events(
        practices=practices,
        population=[ME, {"person_id": "p2", "practice_code": "P002"}, {"person_id": "p3", "practice_code": "P002"}],
        gp_appointments=[gp("2025-01-05"), {**gp("2025-01-06"), "person_id": "p2"}, {**gp("2025-02-06"), "person_id": "p3"}],
    )
    build_person_register(conn, END)
    build_monthly_activity(conn, START, END, table="monthly", by=("neighbourhood_code",), register="person_register")
    rows = conn.execute("SELECT neighbourhood_code, month, gp_appointments FROM monthly ORDER BY 1, 2").fetchall()
    assert rows == [("north", D(2025, 1, 1), 1), ("south", D(2025, 1, 1), 1), ("south", D(2025, 2, 1), 1)]


def test_monthly_months_are_whole_calendar_months(events):
    """Any day of the first and last month names the month: the series covers them whole."""
    conn = events(gp_appointments=[gp("2024-04-01"), gp("2024-04-30"), gp("2024-06-30")])
    rows = conn.sql(monthly_counts_sql("person_events", D(2024, 4, 20), D(2024, 6, 2))).fetchall()
    assert sorted((r[1], r[2]) for r in rows) == [(D(2024, 4, 1), 2), (D(2024, 6, 1), 1)]


# --- earlier as-of dates --------------------------------------------------------------------------


def test_an_earlier_as_of_date_counts_its_own_window(events):
    """Features at as-of 2024-09-30 look at 2023-10-01 to 2024-09-30, not the reporting window."""
    conn = events(
        gp_appointments=[gp(d) for d in ("2023-09-30", "2023-10-01", "2024-09-30", "2024-10-01", "2025-03-01")],
        admissions=[admission("2023-10-01"), admission("2024-10-01")],
        social_care_events=[social_care("Request", "2023-12-01"), social_care("Request", "2025-01-01")],
    )
    earlier = Period(D(2024, 9, 30))
    assert (earlier.start, earlier.end) == (D(2023, 10, 1), D(2024, 9, 30))
    row = person_counts(conn, earlier.start, earlier.end)["p1"]
    assert (row["gp_appointments"], row["emergency_admissions"], row["social_care_involved"]) == (2, 1, True)
    assert person_counts(conn)["p1"]["gp_appointments"] == 3  # the reporting window, as-of 2025-03-31

    # The same through build_person_activity: only the period (and the output table) changes.
    build_person_register(conn, earlier.as_of, table="register_earlier")
    build_person_activity(conn, earlier, social_care_supplied=True, register="register_earlier", table="activity_earlier")
    assert conn.execute(
        "SELECT gp_appointments_12m, ed_attendances_12m, emergency_admissions_12m, social_care_involved FROM activity_earlier"
    ).fetchall() == [(2, 0, 1, True)]
