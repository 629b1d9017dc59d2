"""Rising-risk features as at a feature date (issue 9): windows, counts, and nothing after the date."""

import datetime as dt

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cohorts.events import EVENT_COLUMNS
from cohorts.frailty import load_reference_lists
from pipeline.reference_data import EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS
from risk.features import FEATURES, Supplied, build_risk_features, feature_columns, window

D = dt.date(2025, 3, 31)


def connection(events: list[dict], people=("a", "b"), frailty: dict | None = None) -> duckdb.DuckDBPyConnection:
    """A tiny warehouse: one practice, `people` (born 1950) registered since 2020, these events, and
    `frailty` rows of the coded event, medicine, admission and diagnosis tables."""
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
    load_reference_lists(conn, EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS)
    conn.execute("CREATE TABLE stg_gp_coded_events (person_id VARCHAR, event_date DATE, snomed_code VARCHAR)")
    conn.execute("CREATE TABLE stg_gp_medications (person_id VARCHAR, issue_date DATE, bnf_code VARCHAR)")
    conn.execute("CREATE TABLE stg_admissions (spell_id VARCHAR, person_id VARCHAR, admission_date DATE, discharge_date DATE)")
    conn.execute("CREATE TABLE stg_admission_diagnoses (spell_id VARCHAR, icd10_code VARCHAR)")
    for table, rows in (frailty or {}).items():
        for row in rows:
            if table == "stg_admissions" and len(row) == 3:
                row = (*row, row[2])  # discharged the day admitted unless told
            conn.execute(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in row)})", list(row))
    return conn


def gp(person: str, day: str, attended: bool = True) -> dict:
    return {"person_id": person, "event_date": dt.date.fromisoformat(day), "service": "gp", "counted": attended,
            "event_type": "Attended" if attended else "DNA"}


ALL = Supplied(social_care=True, efi=True, hfrs=True)


def features(conn, supplied=ALL, day=D) -> dict[str, dict]:
    build_risk_features(conn, day, supplied)
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
    counts = [c for c in feature_columns() if c not in ("age", "female", "imd_decile", "gp_dna_rate_12m", "hfrs_score")]
    assert all(rows["b"][c] == 0 for c in counts), {c: rows["b"][c] for c in counts}
    assert rows["b"]["gp_dna_rate_12m"] is None  # no appointment booked: no rate, not 0%
    assert rows["a"]["gp_dna_rate_12m"] == 0
    assert rows["a"]["age"] == 74 and rows["a"]["sex"] == "F" and rows["a"]["female"] == 1 and rows["a"]["imd_decile"] == 3
    assert rows["b"]["efi_category"] == "fit" and rows["b"]["social_care_involved_12m"] is False
    assert rows["b"]["hfrs_score"] is None  # HFRS is scored from 75; they are 74


def test_the_dna_rate_is_missed_appointments_of_those_booked_in_the_year():
    conn = connection([gp("a", "2025-03-01"), gp("a", "2025-03-02", attended=False), gp("a", "2024-01-01", attended=False),
                       gp("a", "2025-03-03"), gp("a", "2025-03-04"), gp("a", "2025-03-05", attended=False)])
    assert features(conn)["a"]["gp_dna_rate_12m"] == pytest.approx(2 / 5)


def test_social_care_counts_requests_services_open_in_the_year_and_unplanned_reviews():
    def care(kind, start, end=None, unplanned=None):
        return {"person_id": "a", "event_date": dt.date.fromisoformat(start), "service": "social_care",
                "counted": kind in ("Request", "Service"), "event_type": kind, "unplanned": unplanned,
                "event_end_date": dt.date.fromisoformat(end) if end else None}
    conn = connection([
        care("Request", "2024-04-01"), care("Request", "2025-03-31"), care("Request", "2024-03-31"),
        care("Service", "2020-01-01"), care("Service", "2024-01-01", "2024-04-01"), care("Service", "2023-01-01", "2024-03-31"),
        care("Review", "2024-06-01", unplanned=True), care("Review", "2024-07-01", unplanned=False),
        care("Review", "2023-07-01", unplanned=True),
    ])
    a = features(conn)["a"]
    assert (a["social_care_requests_12m"], a["social_care_services_12m"], a["social_care_unplanned_reviews_12m"]) == (2, 2, 1)
    assert a["social_care_involved_12m"] is True


def test_a_stay_not_over_by_the_feature_date_adds_no_bed_days_yet():
    def admission(start, end):
        begin, stop = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        return {"person_id": "a", "event_date": begin, "service": "admission", "counted": True, "emergency": True,
                "length_of_stay_days": (stop - begin).days, "short_stay": (stop - begin).days <= 2, "event_end_date": stop}
    # A 1-day stay still in hospital on the date is not a short stay yet: it might last a month.
    a = features(connection([admission("2025-03-30", "2025-03-31"), admission("2025-03-31", "2025-04-24"),
                             admission("2025-03-01", "2025-03-02")]))["a"]
    assert (a["emergency_admissions_12m"], a["emergency_bed_days_12m"], a["short_stay_admissions_12m"]) == (3, 2, 2)


def test_missing_optional_extracts_give_missing_features_not_zeros():
    conn = connection([gp("a", "2025-03-01")])
    a = features(conn, Supplied(social_care=False, efi=False, hfrs=False))["a"]
    missing = [f.name for f in FEATURES if f.needs] + ["social_care_involved_12m", "efi_category"]
    assert {c: a[c] for c in missing} == {c: None for c in missing}
    assert features(conn)["a"]["social_care_involved_12m"] is False


def test_frailty_is_scored_as_at_the_feature_date():
    ever = [("a", "2019-01-01", code) for code in EFI_CODES[:9]]  # 9 deficits before the date: moderate
    later = [("a", "2025-04-01", code) for code in EFI_CODES[9:14]]
    spells = [("s1", "a", "2024-05-01"), ("s2", "a", "2023-06-01"), ("s4", "a", "2023-03-31"), ("s3", "a", "2025-04-02"),
              ("s5", "a", "2025-03-30", "2025-04-03")]  # discharged after the date: its diagnosis not coded yet
    diagnoses = [("s1", "F05.1"), ("s2", "W19"), ("s3", "L89"), ("s4", "L89"), ("s5", "L89")]  # L89: after, and over two years before
    conn = connection([], frailty={"stg_gp_coded_events": ever + later, "stg_admissions": spells,
                                   "stg_admission_diagnoses": diagnoses})
    conn.execute("UPDATE stg_population SET birth_year = 1940 WHERE person_id = 'a'")  # 84: HFRS too
    a = features(conn)["a"]
    assert (a["efi_deficits"], a["efi_category"]) == (9, "moderate")
    assert a["hfrs_score"] == pytest.approx(HFRS["F05"] + HFRS["W19"])


def test_the_runs_own_register_and_efi_of_the_as_of_date_give_the_same_features():
    """The scoring date is the as-of date, whose register and eFI the run has built already
    (`person_register`, `efi_scores`): the features from them equal the features built afresh."""
    from cohorts.frailty import build_efi
    from cohorts.period import Period
    from cohorts.register import build_person_register
    from risk.features import BuiltOnTheDate

    frail = [("a", "2019-01-01", code) for code in EFI_CODES[:9]] + [("b", "2025-04-01", EFI_CODES[0])]
    medicines = [("a", "2024-06-01", f"0{i}01010A0") for i in range(1, 6)]
    conn = connection([gp("a", "2025-01-02"), gp("b", "2024-12-01", attended=False)],
                      frailty={"stg_gp_coded_events": frail, "stg_gp_medications": medicines})
    conn.execute("INSERT INTO stg_population VALUES ('c', 'P1', 1990, 1, 'M', 5, NULL, DATE '2020-01-01', DATE '2024-01-01', NULL)")
    afresh = features(conn)
    build_person_register(conn, D)
    build_efi(conn, Period(D), True)
    build_risk_features(conn, D, ALL, table="reused", built=BuiltOnTheDate())
    reused = conn.sql("SELECT * FROM reused").pl().rows_by_key("person_id", named=True, unique=True)
    assert reused == afresh and sorted(afresh) == ["a", "b"]
    assert afresh["a"]["efi_deficits"] == 10  # nine coded deficits and polypharmacy
    assert conn.sql("SELECT count(*) FROM person_register").fetchall() == [(2,)]  # the run's tables are kept


def _efi_codes() -> list[str]:
    """One SNOMED code of each of the first deficits of the reference list."""
    conn = duckdb.connect()
    load_reference_lists(conn, EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS)
    codes = conn.sql("SELECT min(snomed_code) FROM ref_efi_codes WHERE snomed_code IS NOT NULL GROUP BY deficit_number ORDER BY deficit_number")
    return [row[0] for row in codes.fetchall()]


def _hfrs_points() -> dict[str, float]:
    conn = duckdb.connect()
    load_reference_lists(conn, EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS)
    return {code: tenths / 10 for code, tenths in conn.sql("SELECT * FROM ref_hfrs_points").fetchall()}


EFI_CODES, HFRS = _efi_codes(), _hfrs_points()
later_day = st.dates(min_value=D + dt.timedelta(days=1), max_value=dt.date(2027, 12, 31))
any_day = st.dates(min_value=dt.date(2022, 1, 1), max_value=dt.date(2027, 12, 31))
def _event(person, day, service, counted, emergency, stay, ambulance, kind, end_days):
    gp_status = "Attended" if counted else "DNA"
    return {
        "person_id": person, "event_date": day, "service": service, "counted": counted,
        "emergency": emergency if service == "admission" else None,
        "length_of_stay_days": stay if service == "admission" else None,
        "ambulance_arrival": ambulance if service == "ed" else None,
        "event_type": {"gp": gp_status, "social_care": kind}.get(service),
        "unplanned": emergency if service == "social_care" and kind == "Review" else None,
        "event_end_date": (
            day + dt.timedelta(days=stay) if service == "admission"
            else day + dt.timedelta(days=end_days) if service == "social_care" and end_days >= 0 else None
        ),
    }


event = st.builds(
    _event,
    st.sampled_from(["a", "b"]), any_day, st.sampled_from(["gp", "ed", "admission", "social_care"]),
    st.booleans(), st.booleans(), st.integers(0, 30), st.booleans(),
    st.sampled_from(["Request", "Assessment", "Service", "Review"]), st.integers(-1, 900),
)
frailty_row = st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 20))


def _frailty(rows: list[tuple], days: list[dt.date], stays: list[int]) -> dict:
    """Coded events, medicines and admissions with diagnoses, one of each per (person, code index, day)."""
    return {
        "stg_gp_coded_events": [(p, d, EFI_CODES[i]) for (p, i), d in zip(rows, days)],
        "stg_gp_medications": [(p, d, f"0{1 + i % 9}0{i}01000") for (p, i), d in zip(rows, days)],
        "stg_admissions": [(f"s{n}", p, d, d + dt.timedelta(days=stays[n])) for n, ((p, _), d) in enumerate(zip(rows, days))],
        "stg_admission_diagnoses": [(f"s{n}", list(HFRS)[i]) for n, ((_, i), _) in enumerate(zip(rows, days))],
    }


@settings(max_examples=40, deadline=None)
@given(st.lists(event, max_size=25), st.lists(event, min_size=1, max_size=10), st.lists(frailty_row, max_size=8),
       st.lists(frailty_row, min_size=1, max_size=6), st.data())
def test_nothing_dated_after_the_feature_date_changes_a_feature(before, after, frail_before, frail_after, data):
    """The leakage test: activity, frailty codes, medicines or diagnoses after the feature date,
    added or changed, change no feature; nor does a discharge or an end after it, of a spell or a
    social care event that began before it, moving later."""
    kept = [e for e in before if e["event_date"] <= D]
    future = [{**e, "event_date": data.draw(later_day)} for e in after]
    changed = [{**e, "counted": not e["counted"]} for e in before if e["event_date"] > D]
    later_end = [
        {**e, "event_end_date": e["event_end_date"] + dt.timedelta(days=400),
         "length_of_stay_days": None if e["length_of_stay_days"] is None else e["length_of_stay_days"] + 400}
        if e["event_end_date"] is not None and e["event_end_date"] > D else e
        for e in kept
    ]
    early = [data.draw(st.dates(min_value=dt.date(2015, 1, 1), max_value=D)) for _ in frail_before]
    late = [data.draw(later_day) for _ in frail_after]
    stays = [data.draw(st.integers(0, 60)) for _ in frail_before]
    longer = [s + 400 if d + dt.timedelta(days=s) > D else s for s, d in zip(stays, early)]
    past = _frailty(frail_before, early, stays)
    everything = _frailty(frail_before + frail_after, early + late, longer + [0] * len(frail_after))
    assert features(connection(later_end + future + changed, frailty=everything)) == features(connection(kept, frailty=past))
