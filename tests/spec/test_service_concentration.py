"""Service concentration on a tiny hand-written table of people (contract section 4)."""

import duckdb
import polars as pl

from metrics.service_concentration import build_service_concentration

PEOPLE = pl.DataFrame(
    {
        "person_id": ["a", "b", "c", "d"],
        "neighbourhood_code": ["north", "north", "north", "south"],
        "neighbourhood_name": ["North", "North", "North", "South"],
        "gp_appointments_12m": [25, 20, 5, 0],
        "ed_attendances_12m": [6, 0, 1, 0],
        "emergency_admissions_12m": [0, 0, 0, 3],
        "hiu_gp": [True, True, False, False],
        "hiu_ed": [True, False, False, False],
        "hiu_admissions": [False, False, False, True],
        "high_intensity_services": [2, 1, 0, 1],
        "himsu": [True, False, False, False],
    }
)


PRACTICES = pl.DataFrame(
    {
        "practice_code": ["P1", "P2", "P3"],
        "neighbourhood_code": ["north", "south", "east"],
        "neighbourhood_name": ["North", "South", "East"],
    }
)


def concentration() -> dict:
    conn = duckdb.connect()
    conn.register("people", PEOPLE)
    conn.register("practices", PRACTICES)
    conn.execute("CREATE TABLE person_intensity AS SELECT * FROM people")
    conn.execute("CREATE TABLE stg_practices AS SELECT * FROM practices")
    build_service_concentration(conn)
    rows = conn.sql("SELECT * FROM service_concentration").pl()
    return {(r["neighbourhood_code"], r["service"]): r for r in rows.iter_rows(named=True)}


def test_gp_row_of_a_neighbourhood():
    north_gp = concentration()[("north", "gp")]
    assert north_gp["population"] == 3 and north_gp["hiu_people"] == 2
    assert north_gp["activity_total"] == 50 and north_gp["activity_hiu"] == 45
    assert north_gp["hiu_people_pct"] == 66.67 and north_gp["activity_hiu_pct"] == 90.0
    assert north_gp["himsu_people"] == 1 and north_gp["activity_himsu"] == 25
    assert north_gp["mean_per_person_all"] == 16.667 and north_gp["mean_per_person_himsu"] == 25.0
    assert north_gp["any_hiu_people"] == 2


def test_all_row_sums_the_neighbourhoods_and_himsu_is_the_same_on_every_service():
    rows = concentration()
    for service in ("gp", "ed", "admissions"):
        assert rows[("ALL", service)]["population"] == 4
        assert rows[("ALL", service)]["himsu_people"] == 1
        assert rows[("ALL", service)]["any_hiu_people"] == 3
    assert rows[("ALL", "admissions")]["activity_hiu"] == 3 and rows[("ALL", "admissions")]["hiu_people_pct"] == 25.0


def test_no_himsu_means_no_himsu_mean():
    assert concentration()[("south", "gp")]["mean_per_person_himsu"] is None
    assert concentration()[("south", "gp")]["activity_hiu_pct"] is None  # no GP activity at all: not 0%


def test_a_neighbourhood_with_nobody_registered_still_has_its_rows():
    east = concentration()[("east", "gp")]
    assert (east["population"], east["hiu_people"], east["activity_total"], east["himsu_people"]) == (0, 0, 0, 0)
    assert east["hiu_people_pct"] is None and east["neighbourhood_name"] == "East"
