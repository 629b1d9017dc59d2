"""Feed coverage (issue 7): the as-of date every required feed covers, and the months of the
window with no or few rows, for the whole feed or one practice or provider."""

import datetime as dt

import duckdb
import pytest

from cohorts.period import Period
from metrics.coverage import as_of_problem, build_coverage_gaps, build_feed_coverage, covered_until
from tests.drops import stage_drop, write_drop

ME = {"person_id": "p1"}


def months(first: str, count: int, day: int = 10) -> list[str]:
    start = dt.date.fromisoformat(first)
    return [dt.date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, day).isoformat() for i in range(count)]


def covered(tmp_path, gp, ed, admissions, practices=None):
    folder = write_drop(
        tmp_path,
        practices=practices or [{}],
        population=[ME],
        gp_appointments=gp,
        ed_attendances=[{"person_id": "p1", "arrival_datetime": f"{d} 10:00:00"} for d in ed],
        admissions=[{"person_id": "p1", "admission_date": d, "discharge_date": d} for d in admissions],
    )
    conn = duckdb.connect()
    stage_drop(conn, folder)
    build_feed_coverage(conn)
    return conn


def test_the_default_as_of_date_is_the_last_day_every_required_feed_covers(tmp_path):
    conn = covered(
        tmp_path,
        gp=[{"person_id": "p1", "appointment_date": d} for d in ("2024-01-01", "2025-03-31")],
        ed=["2024-01-01", "2025-02-27"],
        admissions=["2024-01-01", "2025-03-30"],
    )
    assert covered_until(conn) == dt.date(2025, 2, 27)
    assert as_of_problem(conn, dt.date(2025, 2, 27)) is None
    assert "after 2025-02-27" in as_of_problem(conn, dt.date(2025, 3, 31))
    assert "before 2024-01-01" in as_of_problem(conn, dt.date(2023, 12, 31))


@pytest.mark.parametrize("missing", [0, 5, 11])
def test_a_month_of_the_window_with_no_rows_is_a_gap(tmp_path, missing):
    days = [d for i, d in enumerate(months("2024-04-01", 12)) if i != missing]
    conn = covered(tmp_path, gp=[{"person_id": "p1", "appointment_date": d} for d in days], ed=days, admissions=days)
    build_coverage_gaps(conn, Period(dt.date(2025, 3, 31)))
    gaps = conn.execute("SELECT feed, unit_type, month::VARCHAR, gap FROM coverage_gaps WHERE unit_type = 'all' ORDER BY feed").fetchall()
    month = months("2024-04-01", 12, day=1)[missing]
    assert gaps == [(feed, "all", month, "no rows") for feed in ("admissions", "ed_attendances", "gp_appointments")]


def test_one_practice_missing_a_month_is_a_gap_for_that_practice_only(tmp_path):
    practices = [{}, {"practice_code": "P002"}]
    days = months("2024-04-01", 12)
    gp = [{"person_id": "p1", "appointment_date": d, "practice_code": p} for d in days for p in ("P001", "P002") for _ in range(20)]
    gp = [row for row in gp if not (row["practice_code"] == "P002" and row["appointment_date"].startswith("2024-09"))]
    conn = covered(tmp_path, gp=gp, ed=days, admissions=days, practices=practices)
    build_coverage_gaps(conn, Period(dt.date(2025, 3, 31)))
    assert conn.execute("SELECT feed, unit_type, unit, month::VARCHAR, rows FROM coverage_gaps").fetchall() == [
        ("gp_appointments", "practice", "P002", "2024-09-01", 0)
    ]


def test_a_half_month_at_the_window_start_is_judged_on_the_days_it_covers(tmp_path):
    # Window 2024-03-25 to 2025-03-24: of March 2024 the window holds 7 days and 1 of the 5 activity
    # days: 10 rows, a fifth of a whole month's 50, but a whole month's worth for 7 days.
    days = [f"{m[:8]}{d:02d}" for m in months("2024-03-01", 13) for d in (3, 10, 17, 24, 28)]
    days = [d for d in days if "2024-03-25" <= d <= "2025-03-24"]
    conn = covered(tmp_path, gp=[{"person_id": "p1", "appointment_date": d} for d in days for _ in range(10)], ed=days, admissions=days)
    build_coverage_gaps(conn, Period(dt.date(2025, 3, 24)))
    assert conn.execute("SELECT count(*) FROM coverage_gaps").fetchall() == [(0,)]


def test_a_small_provider_is_not_judged_month_by_month(tmp_path):
    days = months("2024-04-01", 12)
    admissions = days + ["2024-06-10"]  # and one spell elsewhere
    folder = write_drop(
        tmp_path,
        population=[ME],
        gp_appointments=[{"person_id": "p1", "appointment_date": d} for d in days],
        ed_attendances=[{"person_id": "p1", "arrival_datetime": f"{d} 10:00:00"} for d in days],
        admissions=[{"person_id": "p1", "admission_date": d, "discharge_date": d, "provider_code": "RXX" if i == 12 else "RDZ"}
                    for i, d in enumerate(admissions)],
    )
    conn = duckdb.connect()
    stage_drop(conn, folder)
    build_feed_coverage(conn)
    build_coverage_gaps(conn, Period(dt.date(2025, 3, 31)))
    assert conn.execute("SELECT count(*) FROM coverage_gaps").fetchall() == [(0,)]


def test_the_hfrs_look_back_is_judged_over_its_two_years(tmp_path):
    days = months("2024-04-01", 12)
    conn = covered(tmp_path, gp=[{"person_id": "p1", "appointment_date": d} for d in days], ed=days, admissions=days)
    look_back = {"admissions": (dt.date(2023, 4, 1), "HFRS 2-year look-back")}
    build_coverage_gaps(conn, Period(dt.date(2025, 3, 31)), look_backs=look_back)
    gaps = conn.execute("SELECT feed, count(*), min(month)::VARCHAR, any_value(needed_for) FROM coverage_gaps GROUP BY feed").fetchall()
    assert gaps == [("admissions", 12, "2023-04-01", "HFRS 2-year look-back")]


@pytest.mark.parametrize("quiet_month_rows, gap", [(5, False), (1, True), (0, True)])
def test_a_practice_month_is_few_only_when_improbably_low_for_its_size(tmp_path, quiet_month_rows, gap):
    days = months("2024-04-01", 12)
    gp = [
        {"person_id": "p1", "appointment_date": d}
        for i, d in enumerate(days)
        for _ in range(quiet_month_rows if i == 6 else 12)
    ]
    conn = covered(tmp_path, gp=gp, ed=days, admissions=days)
    build_coverage_gaps(conn, Period(dt.date(2025, 3, 31)))
    practice_gaps = conn.execute("SELECT month::VARCHAR FROM coverage_gaps WHERE unit_type = 'practice'").fetchall()
    assert practice_gaps == ([("2024-10-01",)] if gap else [])
