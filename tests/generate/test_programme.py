"""The generator's programme effect: a known cut, and nothing else moved by it."""
from __future__ import annotations

from datetime import date

import duckdb
import pytest

from pipeline.generate import generate_drop
from tests.generate.test_generate import read

N = 30_000
EMERGENCY_65_PLUS_AFTER_GO_LIVE = """
    SELECT count(*) FROM admissions a JOIN population p USING (person_id) JOIN practices pr USING (practice_code)
    WHERE a.admission_method LIKE '2%' AND pr.int_go_live_date IS NOT NULL AND a.admission_date >= pr.int_go_live_date
      AND a.admission_date - INTERVAL (year(DATE '2025-03-31') - p.birth_year) YEAR > DATE '2025-03-31' - INTERVAL 100 YEAR
"""


def connection(drop):
    conn = duckdb.connect()
    for name in ("admissions", "population", "practices", "ed_attendances"):
        conn.register(name, read(drop, name))
    return conn


@pytest.fixture(scope="module")
def drops(tmp_path_factory):
    out = {}
    for effect in (0.0, 0.3):
        folder = tmp_path_factory.mktemp(f"effect_{effect}")
        out[effect] = (folder, generate_drop(N, 11, folder, progress=False, programme_effect=effect))
    return out


def counts(conn):
    return conn.execute(
        """SELECT count(*) FILTER (WHERE admission_method LIKE '2%'), count(*) FILTER (WHERE admission_method NOT LIKE '2%')
           FROM admissions"""
    ).fetchall()[0]


def test_the_effect_removes_exactly_the_events_it_reports(drops):
    (none_folder, none), (cut_folder, cut) = drops[0.0], drops[0.3]
    assert none["programme"]["whole_window"] == {}
    removed = cut["programme"]["whole_window"]
    assert sum(s.get("emergency_admissions", 0) for s in removed.values()) > 0
    (emergency_none, other_none), (emergency_cut, other_cut) = counts(connection(none_folder)), counts(connection(cut_folder))
    assert emergency_none - emergency_cut == sum(s.get("emergency_admissions", 0) for s in removed.values())
    assert other_none == other_cut  # electives, maternity, births: untouched
    live = {code for code in removed}
    practices = connection(cut_folder).execute(
        "SELECT DISTINCT neighbourhood_code FROM practices WHERE int_go_live_date IS NULL").fetchall()
    assert live.isdisjoint(code for (code,) in practices)  # no neighbourhood without a go-live date lost anything


def test_the_ed_attendances_removed_are_all_reported_those_of_prevented_admissions_too(drops):
    (none_folder, none), (cut_folder, cut) = drops[0.0], drops[0.3]
    counted = "SELECT count(*) FROM ed_attendances WHERE attendance_category IN ('1', '2', '3')"
    planned = "SELECT count(*) FROM ed_attendances WHERE attendance_category = '4'"
    conn_none, conn_cut = connection(none_folder), connection(cut_folder)
    reported = sum(s.get("ed_attendances", 0) for s in cut["programme"]["whole_window"].values())
    assert reported > 0
    assert conn_none.execute(counted).fetchall()[0][0] - conn_cut.execute(counted).fetchall()[0][0] == reported
    assert conn_none.execute(planned).fetchall() == conn_cut.execute(planned).fetchall()


def test_only_people_65_and_over_after_go_live_lose_activity(drops):
    conn_none, conn_cut = connection(drops[0.0][0]), connection(drops[0.3][0])
    query = """
        SELECT count(*) FROM admissions a JOIN population p USING (person_id) JOIN practices pr USING (practice_code)
        WHERE a.admission_method LIKE '2%' AND ({where})"""
    young_or_before = (
        "pr.int_go_live_date IS NULL OR a.admission_date < pr.int_go_live_date "
        "OR year(a.admission_date) - p.birth_year < 64"
    )
    assert conn_none.execute(query.format(where=young_or_before)).fetchall() == conn_cut.execute(
        query.format(where=young_or_before)).fetchall()


def test_an_effect_outside_0_to_1_is_refused(tmp_path):
    with pytest.raises(ValueError, match="programme effect"):
        generate_drop(100, 1, tmp_path, progress=False, programme_effect=1.5)


STANDARDISED = """
    WITH years AS (SELECT * FROM (VALUES (1, DATE '2022-04-01', DATE '2023-03-31'), (3, DATE '2024-04-01', DATE '2025-03-31')) t(y, s, e)),
    pop AS (
        SELECT y, (year(s) - p.birth_year) // 5 AS band, count(*) AS people FROM population p, years
        WHERE p.registration_start <= s AND (p.registration_end IS NULL OR p.registration_end > s)
          AND (p.date_of_death IS NULL OR p.date_of_death > s) AND year(s) - p.birth_year >= 65
        GROUP BY ALL
    ),
    events AS (
        SELECT y, (year(s) - p.birth_year) // 5 AS band, count(*) AS n
        FROM ({events}) x JOIN population p USING (person_id), years
        WHERE day BETWEEN s AND e AND year(s) - p.birth_year >= 65
        GROUP BY ALL
    ),
    rates AS (SELECT band, n / people AS rate FROM pop JOIN events USING (y, band) WHERE y = 1)
    SELECT (SELECT sum(n) FROM events WHERE y = 3) / sum(rate * people) FROM pop JOIN rates USING (band) WHERE y = 3
"""
GP = "SELECT person_id, appointment_date AS day FROM gp_appointments WHERE appt_status = 'Attended'"
UNPLANNED = (
    "SELECT person_id, CAST(arrival_datetime AS DATE) AS day FROM ed_attendances WHERE attendance_category IN ('1', '2', '3') "
    "UNION ALL SELECT person_id, admission_date FROM admissions WHERE admission_method LIKE '2%'"
)


@pytest.mark.parametrize("events, tolerance", [(GP, 0.03), (UNPLANNED, 0.08)])
def test_rates_by_age_band_hold_steady_without_the_programme(drops, events, tolerance):
    """The counterfactual's null: with no programme, activity of people 65 and over in the last year
    is what the first year's rates by five-year age band give for the last year's population."""
    conn = connection(drops[0.0][0])
    conn.register("gp_appointments", read(drops[0.0][0], "gp_appointments"))
    ((ratio,),) = conn.execute(STANDARDISED.format(events=events)).fetchall()
    assert ratio == pytest.approx(1.0, abs=tolerance)
