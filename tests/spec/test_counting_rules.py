"""Contract section 5, one behaviour per test, each on a tiny hand-written drop (as-of 2025-03-31,
so the window is 2024-04-01 to 2025-03-31)."""

import pytest

from cohorts.hiu import Thresholds
from tests.drops import person_rows, write_drop

ME = {"person_id": "p1"}


def gp(date, status="Attended", **extra):
    return {"person_id": "p1", "appointment_date": date, "appt_status": status, **extra}


def ed(arrival, category="1", **extra):
    return {"person_id": "p1", "arrival_datetime": arrival, "attendance_category": category, **extra}


def admission(date, method="21", **extra):
    return {"person_id": "p1", "admission_date": date, "discharge_date": date, "admission_method": method, **extra}


def counts(tmp_path, **extracts):
    extracts.setdefault("population", [ME])
    return person_rows(write_drop(tmp_path, **extracts))


# --- window ends -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "date, counted",
    [("2024-03-31", 0), ("2024-04-01", 1), ("2025-03-31", 1), ("2025-04-01", 0)],
)
def test_gp_window_includes_both_ends_only(tmp_path, date, counted):
    assert counts(tmp_path, gp_appointments=[gp(date)])["p1"]["gp_appointments_12m"] == counted


@pytest.mark.parametrize(
    "arrival, counted",
    [("2024-03-31 23:59:59", 0), ("2024-04-01 00:00:00", 1), ("2025-03-31 23:59:59", 1), ("2025-04-01 00:00:00", 0)],
)
def test_ed_attendances_count_by_arrival_date(tmp_path, arrival, counted):
    assert counts(tmp_path, ed_attendances=[ed(arrival)])["p1"]["ed_attendances_12m"] == counted


def test_ed_arrival_with_t_separator_is_accepted(tmp_path):
    assert counts(tmp_path, ed_attendances=[ed("2025-01-01T08:30:00")])["p1"]["ed_attendances_12m"] == 1


@pytest.mark.parametrize("date, counted", [("2024-03-31", 0), ("2024-04-01", 1), ("2025-03-31", 1), ("2025-04-01", 0)])
def test_emergency_admissions_count_by_admission_date(tmp_path, date, counted):
    row = admission(date)
    row["discharge_date"] = "2025-05-01"  # discharged after the window: admission date decides
    assert counts(tmp_path, admissions=[row])["p1"]["emergency_admissions_12m"] == counted


def test_leap_day_as_of_window_starts_on_first_of_march(tmp_path):
    drop = write_drop(tmp_path, population=[ME], gp_appointments=[gp("2023-02-28"), gp("2023-03-01")])
    assert person_rows(drop, as_of="2024-02-29")["p1"]["gp_appointments_12m"] == 1


# --- what counts -------------------------------------------------------------------------------


def test_only_attended_gp_appointments_count(tmp_path):
    rows = [gp("2025-01-01", s) for s in ("Attended", "DNA", "Unknown")]
    assert counts(tmp_path, gp_appointments=rows)["p1"]["gp_appointments_12m"] == 1


def test_gp_appointments_count_in_any_mode_and_staff_type(tmp_path):
    rows = [
        gp("2025-01-01", appt_mode=mode, hcp_type=staff)
        for mode, staff in [("Telephone", "GP"), ("Home Visit", "Other Practice staff"), ("Unknown", "Unknown")]
    ]
    assert counts(tmp_path, gp_appointments=rows)["p1"]["gp_appointments_12m"] == 3


def test_planned_ed_follow_ups_are_not_counted(tmp_path):
    rows = [ed("2025-01-01 10:00:00", c) for c in ("1", "2", "3", "4")]
    assert counts(tmp_path, ed_attendances=rows)["p1"]["ed_attendances_12m"] == 3


def test_ed_attendances_count_at_every_department_type(tmp_path):
    rows = [ed("2025-01-01 10:00:00", department_type=t) for t in ("01", "02", "03", "04", "05")]
    assert counts(tmp_path, ed_attendances=rows)["p1"]["ed_attendances_12m"] == 5


@pytest.mark.parametrize("method", ["21", "22", "23", "24", "25", "2A", "2B", "2C", "2D", "28"])
def test_every_emergency_method_counts(tmp_path, method):
    assert counts(tmp_path, admissions=[admission("2025-01-01", method)])["p1"]["emergency_admissions_12m"] == 1


@pytest.mark.parametrize("method", ["11", "12", "13", "31", "32", "81", "82", "83", "98", "99"])
def test_elective_maternity_and_other_spells_do_not_count(tmp_path, method):
    assert counts(tmp_path, admissions=[admission("2025-01-01", method)])["p1"]["emergency_admissions_12m"] == 0


def test_spell_still_in_hospital_counts(tmp_path):
    row = admission("2025-03-30")
    row["discharge_date"] = None
    assert counts(tmp_path, admissions=[row])["p1"]["emergency_admissions_12m"] == 1


# --- who is counted ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, in_population",
    [
        ({"registration_end": "2025-03-31"}, False),  # registration ending on the as-of date
        ({"registration_end": "2025-04-01"}, True),
        ({"date_of_death": "2025-03-31"}, False),
        ({"date_of_death": "2025-04-01"}, True),
        ({"registration_start": "2025-03-31"}, True),
        ({"registration_start": "2025-04-01"}, False),
    ],
)
def test_population_on_the_as_of_date(tmp_path, change, in_population):
    assert ("p1" in counts(tmp_path, population=[{**ME, **change}])) == in_population


def test_person_who_died_in_the_window_is_not_listed(tmp_path):
    rows = counts(
        tmp_path,
        population=[{**ME, "date_of_death": "2025-02-01"}],
        gp_appointments=[gp("2025-01-01")] * 25,
    )
    assert rows == {}


def test_activity_at_a_practice_the_person_left_still_counts(tmp_path):
    """Moved from P001 (north) to P002 (south): all activity counts, listed under the new practice."""
    practices = [{}, {"practice_code": "P002", "neighbourhood_code": "south", "pcn_code": "PCN2"}]
    rows = counts(
        tmp_path,
        practices=practices,
        population=[{**ME, "practice_code": "P002"}],
        gp_appointments=[gp("2024-05-01", practice_code="P001"), gp("2025-02-01", practice_code="P002")],
    )
    assert rows["p1"]["gp_appointments_12m"] == 2
    assert (rows["p1"]["practice_code"], rows["p1"]["neighbourhood_code"]) == ("P002", "south")


@pytest.mark.parametrize(
    "birth, age",
    [((1960, 3), 65), ((1960, 4), 64), ((1960, 12), 64), ((1960, 1), 65), ((2025, 3), 0)],
)
def test_age_is_whole_years_from_first_day_of_birth_month(tmp_path, birth, age):
    registered = f"{birth[0]:04d}-{birth[1]:02d}-20"  # nobody is registered before birth
    person = {**ME, "birth_year": birth[0], "birth_month": birth[1], "registration_start": registered}
    assert counts(tmp_path, population=[person])["p1"]["age"] == age


# --- thresholds and flags ----------------------------------------------------------------------


def test_thresholds_are_inclusive_and_reason_says_which(tmp_path):
    rows = counts(
        tmp_path,
        gp_appointments=[gp("2025-01-01")] * 20,
        ed_attendances=[ed("2025-01-01 10:00:00")] * 4,
        admissions=[admission("2025-01-01")] * 3,
    )
    p = rows["p1"]
    assert (p["hiu_gp"], p["hiu_ed"], p["hiu_admissions"]) == (True, False, True)
    assert p["high_intensity_services"] == 2 and p["himsu"] is True
    assert p["reason"] == "GP 20 (20+), emergency admissions 3 (3+)"


def test_one_below_every_threshold_is_not_a_high_intensity_user(tmp_path):
    rows = counts(
        tmp_path,
        gp_appointments=[gp("2025-01-01")] * 19,
        ed_attendances=[ed("2025-01-01 10:00:00")] * 4,
        admissions=[admission("2025-01-01")] * 2,
    )
    assert rows["p1"]["high_intensity_services"] == 0 and rows["p1"]["reason"] == ""


def test_thresholds_are_settings(tmp_path):
    drop = write_drop(tmp_path, population=[ME], ed_attendances=[ed("2025-01-01 10:00:00")] * 2)
    p = person_rows(drop, thresholds=Thresholds(gp=20, ed=2, admissions=3))["p1"]
    assert p["hiu_ed"] and p["reason"] == "ED 2 (2+)"


# --- social care involvement -------------------------------------------------------------------


@pytest.mark.parametrize(
    "event, involved",
    [
        ({"event_type": "Request", "event_start_date": "2024-04-01"}, True),
        ({"event_type": "Request", "event_start_date": "2024-03-31"}, False),
        ({"event_type": "Assessment", "event_start_date": "2025-01-01"}, False),
        ({"event_type": "Service", "event_start_date": "2020-01-01", "event_end_date": None}, True),
        ({"event_type": "Service", "event_start_date": "2020-01-01", "event_end_date": "2024-04-01"}, True),
        ({"event_type": "Service", "event_start_date": "2020-01-01", "event_end_date": "2024-03-31"}, False),
        ({"event_type": "Service", "event_start_date": "2025-03-31", "event_end_date": None}, True),
        ({"event_type": "Service", "event_start_date": "2025-04-01", "event_end_date": None}, False),
    ],
)
def test_social_care_involvement(tmp_path, event, involved):
    rows = counts(tmp_path, social_care_events=[{"person_id": "p1", **event}])
    assert rows["p1"]["social_care_involved"] is involved


def test_social_care_involvement_is_unknown_without_the_extract(tmp_path):
    assert counts(tmp_path)["p1"]["social_care_involved"] is None
