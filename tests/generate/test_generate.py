"""Quick checks of the synthetic extract generator (2,000 people, a few seconds)."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import polars as pl
import pytest

from pipeline.generate import EXTRACTS, generate_drop
from schemas import codes
from schemas.extracts import EXTRACTS as CONTRACT

END = date(2025, 3, 31)
N = 2000

COLUMNS = {name: extract.columns for name, extract in CONTRACT.items()}
NEIGHBOURHOODS = {"Poole Central", "Shore Medical (Poole)", "Poole Bay & Bournemouth", "Castleman",
                  "South Coast Medical", "North Bournemouth", "Central Bournemouth", "Christchurch",
                  "Bournemouth East"}
METHODS = set(codes.ADMISSION_METHOD)
SC_SERVICES = {"Short Term Support: ST-Max", "Short Term Support: Ongoing Low Level",
               "Short Term Support: Other Short Term", "Long Term Support: Nursing Care",
               "Long Term Support: Residential Care", "Long Term Support: Community", "Long Term Support: Prison"}
SC_ROUTES = {"Planned Entry (Transition)", "Discharge from Hospital", "Diversion from Hospital Services",
             "Community / Other route", "Prison", "Self-Funder", "Discharge from Reablement", "Transfer from Other LA"}


def read(drop: Path, name: str) -> pa.Table:
    folder = drop / name
    if folder.is_dir():
        files = sorted(folder.iterdir())
    else:
        files = [p for p in (drop / f"{name}.parquet", drop / f"{name}.csv") if p.exists()]
    tables = [pq.read_table(f) if f.suffix == ".parquet" else pacsv.read_csv(f) for f in files]
    return pa.concat_tables(tables)


@pytest.fixture(scope="module")
def drop(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("drop_a")
    generate_drop(N, 7, out, progress=False)
    return out


@pytest.fixture(scope="module")
def con(drop) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    for name in EXTRACTS:
        c.register(name, read(drop, name))
    return c


def one(con, sql):
    return con.execute(sql).fetchone()[0]


def test_layout(drop):
    assert (drop / "practices.parquet").is_file() and (drop / "population.parquet").is_file()
    years = sorted(p.name for p in (drop / "gp_appointments").iterdir())
    assert years == ["2022.parquet", "2023.parquet", "2024.parquet", "2025.parquet"]
    for name in EXTRACTS[3:]:
        assert (drop / f"{name}.parquet").is_file(), name


def test_determinism_same_seed(drop, tmp_path):
    again = tmp_path / "again"
    generate_drop(N, 7, again, progress=False)
    for name in EXTRACTS:
        assert read(drop, name).equals(read(again, name)), name
    for f in sorted(drop.rglob("*.parquet")):  # byte-identical files too
        assert f.read_bytes() == (again / f.relative_to(drop)).read_bytes(), f


def test_different_seed_differs(drop, tmp_path):
    other = tmp_path / "other"
    generate_drop(N, 8, other, progress=False)
    for name in ("population", "gp_appointments", "admissions"):
        assert not read(drop, name).equals(read(other, name)), name


def test_columns_and_types(drop):
    for name, cols in COLUMNS.items():
        t = read(drop, name)
        # icb_code only when asked for ICBs (a drop of one partition needs none)
        assert set(cols) - {"icb_code"} <= set(t.column_names) and "icb_code" not in t.column_names, name
        for field in t.schema:
            ok = (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
                  or pa.types.is_date32(field.type) or pa.types.is_timestamp(field.type)
                  or pa.types.is_integer(field.type))
            assert ok, (name, field)


def test_practices(con):
    assert one(con, "SELECT count(DISTINCT neighbourhood_name) FROM practices") == 9
    names = {r[0] for r in con.execute("SELECT DISTINCT neighbourhood_name FROM practices").fetchall()}
    assert names == NEIGHBOURHOODS
    for code, nbh in con.execute("SELECT practice_code, neighbourhood_code FROM practices").fetchall():
        assert re.fullmatch(r"[A-Z0-9]{3,10}", code) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", nbh)
    assert one(con, "SELECT count(*) - count(DISTINCT practice_code) FROM practices") == 0
    nulls = one(con, "SELECT count(DISTINCT neighbourhood_code) FILTER (int_go_live_date IS NULL) FROM practices")
    assert 1 <= nulls <= 2


def test_population_values(con, drop):
    t = read(drop, "population")
    assert t.num_rows == N
    ids = t.column("person_id").to_pylist()
    assert len(set(ids)) == N and all(0 < len(i) <= 64 for i in ids)
    assert not any(re.fullmatch(r"\d{10}", i) for i in ids)  # never NHS-number-like
    assert set(t.column("sex").to_pylist()) <= {"F", "M", "U"}
    assert pc.min(t.column("birth_year")).as_py() >= 1890 and pc.max(t.column("birth_year")).as_py() <= END.year
    assert set(t.column("birth_month").to_pylist()) <= set(range(1, 13))
    lsoa = [x for x in t.column("lsoa_code").to_pylist() if x is not None]
    assert all(re.fullmatch(r"E01[0-9]{6}", x) for x in lsoa)
    assert set(x for x in t.column("imd_decile").to_pylist() if x is not None) <= set(range(1, 11))
    assert one(con, "SELECT count(*) FROM population WHERE practice_code NOT IN (SELECT practice_code FROM practices)") == 0
    assert one(con, "SELECT count(*) FROM population WHERE registration_end <= registration_start") == 0
    assert one(con, "SELECT count(*) FROM population WHERE date_of_death <= registration_start") == 0
    assert one(con, "SELECT count(*) FROM population WHERE registration_start > make_date(birth_year, birth_month, 1) + INTERVAL 200 YEAR") == 0
    assert one(con, "SELECT count(*) FROM population WHERE registration_start < make_date(birth_year, birth_month, 1)") == 0


def test_code_values(con):
    checks = {
        "SELECT DISTINCT appt_status FROM gp_appointments": {"Attended", "DNA", "Unknown"},
        "SELECT DISTINCT appt_mode FROM gp_appointments": {"Face-to-Face", "Telephone", "Home Visit",
                                                           "Video Conference/Online", "Unknown"},
        "SELECT DISTINCT hcp_type FROM gp_appointments": {"GP", "Other Practice staff", "Unknown"},
        "SELECT DISTINCT department_type FROM ed_attendances": {"01", "02", "03", "04", "05"},
        "SELECT DISTINCT attendance_category FROM ed_attendances": {"1", "2", "3", "4"},
        "SELECT DISTINCT admission_method FROM admissions": METHODS,
        "SELECT DISTINCT event_type FROM social_care_events": {"Request", "Assessment", "Service", "Review"},
        "SELECT DISTINCT service_type FROM social_care_events WHERE service_type IS NOT NULL": SC_SERVICES,
        "SELECT DISTINCT request_route_of_access FROM social_care_events WHERE request_route_of_access IS NOT NULL": SC_ROUTES,
    }
    for sql, allowed in checks.items():
        got = {r[0] for r in con.execute(sql).fetchall()}
        assert got <= allowed and got, (sql, got - allowed)
    reasons = {r[0] for r in con.execute("SELECT DISTINCT review_reason FROM social_care_events WHERE review_reason IS NOT NULL").fetchall()}
    assert all(r == "Planned" or r.startswith("Unplanned - ") for r in reasons)
    # each type carries its own attribute only; only Service may be open
    assert one(con, "SELECT count(*) FROM social_care_events WHERE (request_route_of_access IS NOT NULL) <> (event_type = 'Request')") == 0
    assert one(con, "SELECT count(*) FROM social_care_events WHERE (service_type IS NOT NULL) <> (event_type = 'Service')") == 0
    assert one(con, "SELECT count(*) FROM social_care_events WHERE (review_reason IS NOT NULL) <> (event_type = 'Review')") == 0
    assert one(con, "SELECT count(*) FROM social_care_events WHERE event_end_date IS NULL AND event_type <> 'Service'") == 0
    assert one(con, "SELECT count(*) FROM social_care_events WHERE event_end_date < event_start_date") == 0
    for (code,) in con.execute("SELECT DISTINCT icd10_code FROM admission_diagnoses").fetchall():
        assert re.fullmatch(r"[A-Z][0-9]{2}(\.[0-9]|[0-9]|X)", code), code
    assert all(re.fullmatch(r"[0-9]+", c) for (c,) in con.execute("SELECT DISTINCT snomed_code FROM gp_coded_events").fetchall())
    for (code,) in con.execute("SELECT DISTINCT bnf_code FROM gp_medications").fetchall():
        assert len(code) == 15 and 1 <= int(code[:2]) <= 23, code
    modes = {r[0] for r in con.execute("SELECT DISTINCT arrival_mode FROM ed_attendances").fetchall()}
    assert modes and all(re.fullmatch(r"[0-9]{6,18}", m) for m in modes)


def test_ids_unique(con):
    for table, col in (("gp_appointments", "appointment_id"), ("ed_attendances", "attendance_id"),
                       ("admissions", "spell_id"), ("social_care_events", "event_id"), ("population", "person_id")):
        assert one(con, f"SELECT count(*) - count(DISTINCT {col}) FROM {table}") == 0, table
    assert one(con, "SELECT count(*) - count(DISTINCT (spell_id, diagnosis_position)) FROM admission_diagnoses") == 0
    assert one(con, "SELECT count(*) FROM admission_diagnoses WHERE spell_id NOT IN (SELECT spell_id FROM admissions)") == 0
    assert one(con, "SELECT max(n) FROM (SELECT count(*) n FROM admission_diagnoses GROUP BY spell_id)") <= 10


def test_admission_dates(con):
    assert one(con, "SELECT count(*) FROM admissions WHERE discharge_date < admission_date") == 0
    assert one(con, "SELECT count(*) FROM ed_attendances WHERE departure_datetime < arrival_datetime") == 0
    # died in hospital <=> destination 79, discharged on the day of death
    assert one(con, """SELECT count(*) FROM admissions a JOIN population p USING (person_id)
                       WHERE a.discharge_destination = '79' AND a.discharge_date IS DISTINCT FROM p.date_of_death""") == 0
    assert one(con, "SELECT count(*) FROM admissions WHERE discharge_date IS NULL AND discharge_destination <> '98'") == 0


ACTIVITY = {
    "gp_appointments": ["appointment_date"],
    "ed_attendances": ["CAST(arrival_datetime AS DATE)", "CAST(departure_datetime AS DATE)"],
    "admissions": ["admission_date", "discharge_date"],
    "social_care_events": ["event_start_date", "event_end_date"],
    "gp_coded_events": ["event_date"],
    "gp_medications": ["issue_date"],
}


@pytest.mark.parametrize("table", sorted(ACTIVITY))
def test_activity_inside_registration_and_life(con, table):
    for expr in ACTIVITY[table]:
        sql = f"""SELECT count(*) FROM {table} t JOIN population p USING (person_id)
                  WHERE {expr} IS NOT NULL AND ({expr} < p.registration_start
                     OR {expr} >= coalesce(p.registration_end, DATE '9999-12-31')
                     OR {expr} > coalesce(p.date_of_death, DATE '9999-12-31')
                     OR {expr} > DATE '{END}')"""
        assert one(con, sql) == 0, (table, expr)
    assert one(con, f"SELECT count(*) FROM {table} WHERE person_id NOT IN (SELECT person_id FROM population)") == 0


def test_window_activity_dates(con):
    for table, expr in (("gp_appointments", "appointment_date"), ("ed_attendances", "CAST(arrival_datetime AS DATE)"),
                        ("admissions", "admission_date"), ("gp_medications", "issue_date")):
        lo, hi = con.execute(f"SELECT min({expr}), max({expr}) FROM {table}").fetchone()
        assert lo >= date(2022, 4, 1) and hi <= END, table


def test_gp_practice_is_registered_practice(con):
    assert one(con, """SELECT count(*) FROM gp_appointments g JOIN population p USING (person_id)
                       WHERE g.practice_code <> p.practice_code""") == 0


def test_csv_format(tmp_path):
    out = tmp_path / "csv"
    generate_drop(300, 3, out, file_format="csv", progress=False)
    assert (out / "gp_appointments").is_dir() and (out / "population.csv").is_file()
    ed = (out / "ed_attendances.csv").read_text(encoding="utf-8").splitlines()
    header = ed[0].replace('"', "").split(",")
    assert header[:3] == ["attendance_id", "person_id", "arrival_datetime"]
    arrival = ed[1].split(",")[2]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", arrival), arrival
    pop = pacsv.read_csv(out / "population.csv")
    assert pop.num_rows == 300
    # switching format replaces the previous drop's files instead of leaving both
    generate_drop(300, 3, out, file_format="parquet", progress=False)
    assert not (out / "population.csv").exists() and (out / "population.parquet").exists()


def test_other_window(tmp_path):
    """A window that is not a multiple of the half-year periods and ends mid-month."""
    out = tmp_path / "odd"
    end = date(2024, 12, 15)
    s = generate_drop(800, 11, out, months=14, end_date=end, progress=False)
    assert s["window_start"] == "2023-10-16" and s["window_end"] == "2024-12-15"
    c = duckdb.connect()
    for name in EXTRACTS:
        c.register(name, read(out, name))
    for table, expr in (("gp_appointments", "appointment_date"), ("ed_attendances", "CAST(arrival_datetime AS DATE)"),
                        ("admissions", "admission_date"), ("gp_medications", "issue_date")):
        lo, hi = c.execute(f"SELECT min({expr}), max({expr}) FROM {table}").fetchone()
        assert lo >= date(2023, 10, 16) and hi <= end, table
    for table, exprs in ACTIVITY.items():
        for expr in exprs:
            assert one(c, f"SELECT count(*) FROM {table} WHERE {expr} > DATE '{end}'") == 0, (table, expr)
    assert one(c, "SELECT max(registration_start) FROM population") <= end


def test_icbs_deal_out_whole_neighbourhoods(tmp_path):
    generate_drop(N, 7, tmp_path / "icbs", progress=False, icbs=2)
    practices = pl.read_parquet(tmp_path / "icbs" / "practices.parquet")
    assert sorted(practices["icb_code"].unique()) == ["ICB01", "ICB02"]
    assert practices.group_by("neighbourhood_code").agg(pl.col("icb_code").n_unique())["icb_code"].max() == 1
