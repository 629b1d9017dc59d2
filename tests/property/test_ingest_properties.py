"""Properties of the ingest, checked by Hypothesis: only the contract rejects a row, and the
normalisations never change a value that was already valid."""

import datetime as dt
import tempfile
from pathlib import Path

import duckdb
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import codes
from schemas.extracts import EXTRACTS
from schemas.sql_rules import column_sql, fix_column, quote_ident, quote_literal, typed_rows
from tests.drops import stage_drop, write_drop

# Any text a file could hold in a cell, short of control characters (which CSV cannot carry).
any_text = st.one_of(st.none(), st.text(alphabet=st.characters(exclude_categories=["Cs", "Cc"]), max_size=12))
day = st.dates(dt.date(1990, 1, 1), dt.date(2024, 12, 31))


@settings(max_examples=40)
@given(sex=any_text, lsoa=any_text, imd=any_text, mode=any_text, staff=any_text, department=any_text, arrival_mode=any_text,
       departure=any_text, born=st.dates(dt.date(1890, 1, 1), dt.date(2024, 12, 1)), registered=day)
def test_a_row_breaking_no_contract_rule_is_accepted_whatever_its_other_fields_hold(
    sex, lsoa, imd, mode, staff, department, arrival_mode, departure, born, registered
):
    person = {
        "person_id": "p1", "sex": sex, "lsoa_code": lsoa, "imd_decile": imd,
        "birth_year": born.year, "birth_month": born.month, "registration_start": registered.isoformat(),
    }
    gp = {"person_id": "p1", "appt_mode": mode, "hcp_type": staff, "practice_code": sex}
    ed = {"person_id": "p1", "department_type": department, "arrival_mode": arrival_mode, "departure_datetime": departure}
    with tempfile.TemporaryDirectory() as folder:
        drop = write_drop(Path(folder), population=[person], gp_appointments=[gp], ed_attendances=[ed])
        counts = stage_drop(duckdb.connect(), drop)
    for extract in ("population", "gp_appointments", "ed_attendances"):
        assert (counts[extract].accepted, counts[extract].quarantined) == (1, 0), (extract, counts[extract].by_reason)


def staged_value(name: str, dtype, text: str | None, metadata: dict | None = None):
    """The typed value and the normalisation label of one cell, through the compiled SQL."""
    column = column_sql(name, dtype, metadata)
    inner = f"SELECT {quote_literal(text) if text is not None else 'NULL'}::VARCHAR AS \"text:{name}\""
    sql = f"SELECT {quote_ident(name)}, {fix_column(name)} FROM ({typed_rows(inner, [column])})"
    with duckdb.connect() as conn:
        return conn.execute(sql).fetchall()[0]


department = EXTRACTS["ed_attendances"].model.to_schema().columns["department_type"].metadata


@given(st.dates(dt.date(1890, 1, 1), dt.date(2100, 12, 31)))
def test_a_valid_date_is_read_unchanged(value):
    assert staged_value("d", pl.Date, value.isoformat()) == (value, None)


@given(st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2100, 1, 1)).map(lambda t: t.replace(microsecond=0)))
def test_a_valid_timestamp_is_read_unchanged(value):
    assert staged_value("t", pl.Datetime(), value.strftime("%Y-%m-%d %H:%M:%S")) == (value, None)


@given(st.integers(-(10**12), 10**12))
def test_a_valid_integer_is_read_unchanged(value):
    assert staged_value("i", pl.Int64, str(value)) == (value, None)


@given(st.sampled_from(codes.ED_DEPARTMENT_TYPE), st.sampled_from(["", " ", "  \t"]), st.sampled_from(["", " ", "\r"]))
def test_a_valid_code_is_read_unchanged_and_whitespace_never_changes_it(code, before, after):
    assert staged_value("department_type", pl.String, code, department) == (code, None)
    value, fix = staged_value("department_type", pl.String, f"{before}{code}{after}", department)
    assert value == code and (fix is None) == (before + after == "")


@given(st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31)), st.sampled_from([" 00:00:00.000", "T00:00", " 00:00:00"]))
def test_a_midnight_timestamp_in_a_date_column_is_that_date(value, midnight):
    assert staged_value("d", pl.Date, value.isoformat() + midnight) == (value, "midnight timestamp read as a date")
