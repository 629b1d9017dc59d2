"""Cohort files that tools and people read alike (issue 8, contract section 4), without a
spreadsheet program: the CSV carries a UTF-8 byte-order mark that Polars, DuckDB and pandas read
past; every file says which as-of date it is for; scores are rounded for display in the CSV only.
The drop is the one of tests/spreadsheet_drop.py (ids spreadsheets damage, accented names)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from schemas.sql_rules import quote_literal
from tests.spreadsheet_drop import run_spreadsheet_drop

BOM = b"\xef\xbb\xbf"
GUARDED = ("=", "+", "-", "@")
WORKBOOK_LISTS = ("hiu_cohort", "frailty_cohort", "rising_risk_cohort")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict]:
    return run_spreadsheet_drop(tmp_path_factory.mktemp("readable"))


def cohort_csvs(out: Path) -> list[Path]:
    found = sorted(out.glob("neighbourhoods/*/*_cohort.csv"))
    assert len(found) >= 4, found  # hiu and frailty lists of both neighbourhoods
    return found


def as_written(frame: pl.DataFrame) -> list[str]:
    """The Parquet's person ids as the CSV holds them: with the formula guard."""
    return ["'" + v if v.startswith(GUARDED) else v for v in frame["person_id"]]


def test_cohort_csvs_start_with_a_utf8_byte_order_mark(run):
    out, _ = run
    for path in cohort_csvs(out):
        assert path.read_bytes().startswith(BOM), path.relative_to(out)


def test_polars_and_duckdb_read_the_csv_as_the_parquet(run):
    out, _ = run
    for path in cohort_csvs(out):
        parquet = pl.read_parquet(path.with_suffix(".parquet"))
        by_polars = pl.read_csv(path, infer_schema=False)
        by_duckdb = duckdb.sql(f"SELECT * FROM read_csv({quote_literal(path)}, all_varchar = true, header = true)").pl()
        for reader, frame in (("polars", by_polars), ("duckdb", by_duckdb)):
            assert frame.columns[0] == "person_id", (reader, path.relative_to(out), frame.columns[0])
            assert sorted(frame.columns) == sorted(parquet.columns), (reader, path.relative_to(out))
            assert frame["person_id"].to_list() == as_written(parquet), (reader, path.relative_to(out))
        assert by_polars["practice_name"].to_list() == parquet["practice_name"].to_list()


def test_pandas_reads_the_csv_as_the_parquet(run):
    pandas = pytest.importorskip("pandas")
    out, _ = run
    for path in cohort_csvs(out):
        parquet = pl.read_parquet(path.with_suffix(".parquet"))
        frame = pandas.read_csv(path, dtype=str, keep_default_na=False)
        assert frame.columns[0] == "person_id" and sorted(frame.columns) == sorted(parquet.columns), path.relative_to(out)
        assert frame["person_id"].tolist() == as_written(parquet), path.relative_to(out)


def stem_is_empty_rising_risk(path: Path, parquet: pl.DataFrame) -> bool:
    return path.stem == "rising_risk_cohort" and parquet.height == 0


def test_every_cohort_file_carries_the_as_of_date(run):
    out, manifest = run
    as_of = manifest["as_of"]
    for path in cohort_csvs(out):
        where = path.relative_to(out)
        parquet = pl.read_parquet(path.with_suffix(".parquet"))
        csv = pl.read_csv(path, infer_schema=False)
        assert "as_of_date" in parquet.columns and "as_of_date" in csv.columns, where
        if stem_is_empty_rising_risk(path, parquet):
            continue  # this drop is too short for a rising-risk model: its lists are empty
        assert parquet.height and {str(v) for v in parquet["as_of_date"]} == {as_of}, where
        assert set(csv["as_of_date"]) == {as_of}, where
        stem = path.stem
        if stem not in WORKBOOK_LISTS:
            continue
        from schemas.outputs import FrailtyCohort, HiuCohort, RisingRiskCohort, workbook_columns

        model = {"hiu_cohort": HiuCohort, "frailty_cohort": FrailtyCohort, "rising_risk_cohort": RisingRiskCohort}[stem]
        column = [name for name, _ in workbook_columns(model)].index("as_of_date") + 1
        sheet = openpyxl.load_workbook(path.with_suffix(".xlsx")).worksheets[0]
        values = [sheet.cell(row, column).value for row in range(2, parquet.height + 2)]
        shown = {v.date().isoformat() if isinstance(v, dt.datetime) else v.isoformat() if isinstance(v, dt.date) else v for v in values}
        assert shown == {as_of}, (where, values)


def test_efi_score_is_rounded_in_the_csv_and_full_in_the_parquet(run):
    out, _ = run
    full_precision = False
    for path in cohort_csvs(out):
        parquet = pl.read_parquet(path.with_suffix(".parquet"))
        if "efi_score" not in parquet.columns:
            continue
        csv = pl.read_csv(path, infer_schema=False)
        for text, value in zip(csv["efi_score"], parquet["efi_score"]):
            assert (text in (None, "")) == (value is None), (path.relative_to(out), text, value)
            if value is None:
                continue
            assert re.fullmatch(r"\d+(\.\d{1,2})?", text), (path.relative_to(out), text)
            assert abs(float(text) - value) <= 0.005 + 1e-12, (text, value)
            full_precision |= round(value, 2) != value
    assert full_precision, "the Parquet keeps every digit of the score (1/36 is 0.02777...)"


def test_the_about_sheet_names_the_list_period_and_run(run):
    out, manifest = run
    assert len(list(out.glob("neighbourhoods/*/*_cohort.xlsx"))) >= 4  # hiu and frailty lists of both neighbourhoods
    for path in sorted(out.glob("neighbourhoods/*/*_cohort.xlsx")):
        names = set(pl.read_parquet(path.with_suffix(".parquet"))["neighbourhood_name"].drop_nulls())
        book = openpyxl.load_workbook(path)
        assert book.sheetnames[1] == "About this list", path.relative_to(out)
        texts = set()
        for row in book["About this list"].iter_rows(values_only=True):
            for value in row:
                if isinstance(value, dt.datetime):
                    value = value.date()
                if value is not None:
                    texts.add(value.isoformat() if isinstance(value, dt.date) else str(value))
        text = "\n".join(texts)
        assert path.parent.name in text or any(name in text for name in names), (path.relative_to(out), "neighbourhood")
        for fact in (manifest["as_of"], manifest["window_start"], manifest["window_end"], manifest["run_id"]):
            assert fact in text, (path.relative_to(out), fact)
