"""Rising-risk features as at a feature date (issue 9): windows, counts, and nothing after the date."""

import datetime as dt

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cohorts.events import EVENT_COLUMNS
from risk.features import build_risk_features, feature_columns, window

D = dt.date(2025, 3, 31)


def connection(events: list[dict], people=("a", "b")) -> duckdb.DuckDBPyConnection:
    """A tiny warehouse: one practice, `people` registered since 2020, and these events."""
    conn = duckdb.connect()
    conn.execute(
        "CREATE TABLE stg_practices AS SELECT 'P1' AS practice_code, 'Practice' AS practice_name, 'C1' AS pcn_code, "
        "'PCN' AS pcn_name, 'north' AS neighbourhood_code, 'North' AS neighbourhood_name"
    )
    conn.execute(
        "CREATE TABLE stg_population (person_id VARCHAR, practice_code VARCHAR, birth_year BIGINT, birth_month BIGINT, "
        "sex VARCHAR, imd_decile BIGINT, lsoa_code VARCHAR, registration_start DATE, registration_end DATE, date_of_death DATE)"
    )
    for person in people:
        conn.execute("INSERT INTO stg_population VALUES (?, 'P1', 1950, 6, 'F', 3, NULL, DATE '2020-01-01', NULL, NULL)", [person])
    conn.execute("CREATE TABLE person_events (" + ", ".join(f"{c} {t}" for c, (t, _) in EVENT_COLUMNS.items()) + ")")
    for event in events:
        row = {c: None for c in EVENT_COLUMNS} | event
        conn.execute(f"INSERT INTO person_events VALUES ({', '.join('?' for _ in row)})", list(row.values()))
    return conn


def gp(person: str, day: str, attended: bool = True) -> dict:
    return {"person_id": person, "event_date": dt.date.fromisoformat(day), "service": "gp", "counted": attended}


def features(conn, social_care_supplied=True, day=D) -> dict[str, dict]:
    build_risk_features(conn, day, social_care_supplied)
    return conn.sql("SELECT * FROM risk_features").pl().rows_by_key("person_id", named=True, unique=True)


def test_the_windows_end_on_the_feature_date_and_the_prior_year_before_the_last():
    assert window(D, "3m") == (dt.date(2025, 1, 1), D)
    assert window(D, "6m") == (dt.date(2024, 10, 1), D)
    assert window(D, "12m") == (dt.date(2024, 4, 1), D)
    assert window(D, "prior_12m") == (dt.date(2023, 4, 1), dt.date(2024, 3, 31))
    assert window(dt.date(2025, 5, 31), "3m") == (dt.date(2025, 3, 1), dt.date(2025, 5, 31))


def test_each_appointment_counts_in_the_windows_that_hold_its_date():
    days = ["2025-03-31", "2025-01-01", "2024-12-31", "2024-04-01", "2024-03-31", "2023-04-01", "2023-03-31", "2025-04-01"]
    conn = connection([gp("a", d) for d in days] + [gp("a", "2025-02-01", attended=False)])
    a = features(conn)["a"]
    assert (a["gp_appointments_3m"], a["gp_appointments_6m"], a["gp_appointments_12m"], a["gp_appointments_prior_12m"]) == (2, 3, 4, 2)
    assert a["gp_appointments_change"] == 2


def test_everyone_in_the_population_on_the_date_has_a_row_and_zeros_without_activity():
    conn = connection([gp("a", "2025-03-01")], people=("a", "b"))
    conn.execute("INSERT INTO stg_population VALUES ('gone', 'P1', 1950, 6, 'M', NULL, NULL, DATE '2020-01-01', DATE '2025-03-31', NULL)")
    rows = features(conn)
    assert sorted(rows) == ["a", "b"]
    assert all(rows["b"][c] == 0 for c in feature_columns() if c != "social_care_involved_12m")
    assert rows["a"]["age"] == 74 and rows["a"]["sex"] == "F" and rows["a"]["imd_decile"] == 3


def test_social_care_is_unknown_not_false_without_the_extract():
    conn = connection([gp("a", "2025-03-01")])
    assert features(conn, social_care_supplied=False)["a"]["social_care_involved_12m"] is None
    assert features(conn, social_care_supplied=True)["a"]["social_care_involved_12m"] is False


later_day = st.dates(min_value=D + dt.timedelta(days=1), max_value=dt.date(2027, 12, 31))
any_day = st.dates(min_value=dt.date(2022, 1, 1), max_value=dt.date(2027, 12, 31))
event = st.builds(
    lambda person, day, service, counted, emergency, stay, ambulance: {
        "person_id": person, "event_date": day, "service": service, "counted": counted,
        "emergency": emergency if service == "admission" else None,
        "length_of_stay_days": stay if service == "admission" else None,
        "ambulance_arrival": ambulance if service == "ed" else None,
        "event_type": "Request" if service == "social_care" else None,
    },
    st.sampled_from(["a", "b"]), any_day, st.sampled_from(["gp", "ed", "admission", "social_care"]),
    st.booleans(), st.booleans(), st.integers(0, 30), st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(event, max_size=25), st.lists(event, min_size=1, max_size=10), st.data())
def test_nothing_dated_after_the_feature_date_changes_a_feature(before, after, data):
    """The leakage test: activity after the feature date, added or changed, changes no feature."""
    kept = [e for e in before if e["event_date"] <= D]
    future = [{**e, "event_date": data.draw(later_day)} for e in after]
    changed = [{**e, "counted": not e["counted"]} for e in before if e["event_date"] > D]
    assert features(connection(kept + future + changed)) == features(connection(kept))
