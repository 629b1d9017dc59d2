"""Cohort lists opened in a real spreadsheet program (issue 8).

The drop's ids, codes and names are the ones spreadsheets damage (tests/spreadsheet_drop.py). The
whole pipeline runs once; LibreOffice Calc (headless, a fresh profile) then opens every workbook and
every CSV and saves them again as .xlsx, and openpyxl reads what LibreOffice made of them.

LibreOffice 7.4's headless converter never looks for a byte-order mark: without import options it
reads every CSV as Windows-1252, mark or not (a BOM only helps programs that honour it, as Excel
does). So the names in the CSV are checked as LibreOffice reads them when told the file is UTF-8:
the mark must not leak into the first heading. That the CSV carries the mark at all is checked
without LibreOffice, in tests/spec/test_cohort_files_readable.py.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from tests.spreadsheet_drop import NAMES, NASTY_IDS, run_spreadsheet_drop

LISTS = ("hiu_cohort", "frailty_cohort")
GUARDED = ("=", "+", "-", "@")
UTF8_CSV = "CSV:44,34,76"  # comma, double quote, UTF-8


def model_of(stem: str):
    from schemas.outputs import FrailtyCohort, HiuCohort

    return {"hiu_cohort": HiuCohort, "frailty_cohort": FrailtyCohort}[stem]


def workbook_columns(model) -> list[tuple[str, str]]:
    from schemas.outputs import workbook_columns as columns  # the interface issue 8 adds

    return columns(model)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    folder, _ = run_spreadsheet_drop(tmp_path_factory.mktemp("spreadsheet"))
    return folder


def lists(out: Path, suffix: str) -> list[tuple[str, str, Path]]:
    """(neighbourhood code, list, path) of every list file with this suffix."""
    found = []
    for folder in sorted((out / "neighbourhoods").iterdir()):
        for stem in LISTS:
            path = folder / f"{stem}{suffix}"
            assert path.exists(), f"{path.relative_to(out)} is missing"
            found.append((folder.name, stem, path))
    return found


@pytest.fixture(scope="module")
def libreoffice(tmp_path_factory):
    """`convert(paths, infilter=None)`: each file opened by LibreOffice Calc and saved as .xlsx;
    returns {path: the saved copy}. One LibreOffice process per call, one fresh profile per module."""
    soffice = shutil.which("soffice")
    if soffice is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is not installed; CI installs it for these tests")
        pytest.skip("LibreOffice (soffice) is not installed")
    profile = tmp_path_factory.mktemp("libreoffice-profile")
    calls = iter(range(1000))

    def convert(paths: list[Path], infilter: str | None = None) -> dict[Path, Path]:
        call = next(calls)
        inbox, outbox = tmp_path_factory.mktemp(f"lo-in-{call}"), tmp_path_factory.mktemp(f"lo-out-{call}")
        copies = {}
        for number, path in enumerate(paths):
            copy = inbox / f"{number:02d}-{path.parent.name}-{path.name}"
            shutil.copyfile(path, copy)
            copies[path] = copy
        command = [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore"]
        command += [f"--infilter={infilter}"] if infilter else []
        command += ["--convert-to", "xlsx", "--outdir", str(outbox), *map(str, copies.values())]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
        saved = {path: outbox / (copy.stem + ".xlsx") for path, copy in copies.items()}
        missing = [str(p) for p in saved.values() if not p.exists()]
        assert result.returncode == 0 and not missing, (result.returncode, missing, result.stdout, result.stderr)
        return saved

    return convert


# ----------------------------------------------------------------------------------------------
# comparing a sheet with the Parquet
# ----------------------------------------------------------------------------------------------

# true/false is written as the words Yes / No: LibreOffice would re-save a boolean cell as the
# formula =TRUE() or =FALSE(), and no cell may be a formula.
WORDS = {True: "Yes", False: "No"}


def cell_problem(cell, expected, dtype: pl.DataType) -> str | None:
    """Why this cell does not hold `expected` (the Parquet value), or None."""
    value, kind = cell.value, cell.data_type
    if kind == "f":
        return f"a formula {value!r}"
    if expected is None:
        return None if value in (None, "") else f"{value!r} where the Parquet is blank"
    if dtype == pl.String:
        if kind != "s" or value != expected:
            return f"{value!r} ({kind}) is not the text {expected!r}"
        return None
    if dtype == pl.Boolean:
        return None if kind == "s" and value == WORDS[expected] else f"{value!r} ({kind}) is not {WORDS[expected]!r}"
    if dtype.is_integer():
        ok = kind == "n" and isinstance(value, (int, float)) and not isinstance(value, bool) and value == expected
        return None if ok else f"{value!r} ({kind}) is not the number {expected}"
    if dtype.is_float():  # full precision, or rounded to 2 places for display
        ok = kind == "n" and isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value - expected) <= 0.005 + 1e-9
        return None if ok else f"{value!r} ({kind}) is not the number {expected}"
    if dtype == pl.Date:
        if isinstance(value, dt.datetime):
            value = value.date()
        ok = value == expected or value == expected.isoformat()
        return None if ok else f"{value!r} is not the date {expected}"
    return None if str(value) == str(expected) else f"{value!r} is not {expected!r}"


def sheet_problems(sheet, frame: pl.DataFrame, columns: list[tuple[str, str]]) -> list[str]:
    names = [name for name, _ in columns]
    assert sorted(names) == sorted(frame.columns), "workbook_columns names every Parquet column once"
    rows = list(sheet.iter_rows(min_row=1, max_col=len(columns)))
    header = [cell.value for cell in rows[0]] if rows else []
    problems = [] if header == [h for _, h in columns] else [f"headings {header}"]
    body = [row for row in rows[1:] if any(cell.value not in (None, "") for cell in row)]
    if len(body) != frame.height:
        return problems + [f"{len(body)} rows, the Parquet {frame.height}"]
    for number, (row, record) in enumerate(zip(body, frame.iter_rows(named=True)), start=2):
        for cell, name in zip(row, names):
            problem = cell_problem(cell, record[name], frame.schema[name])
            if problem:
                problems.append(f"row {number} {name}: {problem}")
    return problems


def formulas(book) -> list[str]:
    return [f"{ws.title}!{c.coordinate}={c.value!r}" for ws in book.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"]


# ----------------------------------------------------------------------------------------------
# the tests
# ----------------------------------------------------------------------------------------------


def test_every_nasty_id_is_on_a_list(out):
    """The drop does what the other tests rely on (not the feature): every id is a high intensity
    user, four are on a frailty list, and both neighbourhoods have both lists."""
    hiu = pl.concat([pl.read_parquet(p) for p in out.glob("neighbourhoods/*/hiu_cohort.parquet")])
    frail = pl.concat([pl.read_parquet(p) for p in out.glob("neighbourhoods/*/frailty_cohort.parquet")])
    assert sorted(hiu["person_id"]) == sorted(NASTY_IDS)
    assert sorted(frail["person_id"]) == sorted(NASTY_IDS[:4])
    assert sorted(p.parent.name for p in out.glob("neighbourhoods/*/frailty_cohort.parquet")) == ["007", "north"]


def test_every_list_has_a_workbook(out):
    for code, stem, path in lists(out, ".xlsx"):
        book = openpyxl.load_workbook(path)
        assert len(book.sheetnames) >= 2 and book.sheetnames[1] == "About this list", (code, stem, book.sheetnames)


def test_the_workbooks_hold_no_formula(out):
    for code, stem, path in lists(out, ".xlsx"):
        assert formulas(openpyxl.load_workbook(path)) == [], (code, stem)


def test_libreoffice_keeps_every_id_code_name_and_number_as_in_the_parquet(out, libreoffice):
    workbooks = lists(out, ".xlsx")
    saved = libreoffice([path for _, _, path in workbooks])
    problems = {}
    for code, stem, path in workbooks:
        book = openpyxl.load_workbook(saved[path], data_only=False)
        frame = pl.read_parquet(path.with_suffix(".parquet"))
        found = formulas(book) + sheet_problems(book.worksheets[0], frame, workbook_columns(model_of(stem)))
        if book.sheetnames[1:2] != ["About this list"]:
            found.append(f"sheets {book.sheetnames}")
        if found:
            problems[f"{code}/{stem}"] = found[:12]
    assert not problems, problems


def test_libreoffice_runs_no_formula_from_a_csv_opened_with_its_defaults(out, libreoffice):
    csvs = lists(out, ".csv")
    saved = libreoffice([path for _, _, path in csvs])
    for code, stem, path in csvs:
        assert formulas(openpyxl.load_workbook(saved[path])) == [], (code, stem)


def test_libreoffice_reads_the_names_and_the_first_heading_of_a_utf8_csv(out, libreoffice):
    csvs = lists(out, ".csv")
    saved = libreoffice([path for _, _, path in csvs], infilter=UTF8_CSV)
    seen = set()
    for code, stem, path in csvs:
        sheet = openpyxl.load_workbook(saved[path]).worksheets[0]
        rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
        assert rows[0][0] == "person_id", (code, stem, rows[0][0])  # no byte-order mark left in the heading
        frame = pl.read_parquet(path.with_suffix(".parquet"))
        for name in ("practice_name", "pcn_name", "neighbourhood_name"):
            index = rows[0].index(name)
            assert [row[index] for row in rows[1:]] == frame[name].to_list(), (code, stem, name)
            seen |= set(frame[name])
    assert set(NAMES) <= seen


def test_csv_cells_a_spreadsheet_would_run_carry_a_quote_and_the_rest_are_as_in_the_parquet(out):
    for code, stem, path in lists(out, ".csv"):
        csv = pl.read_csv(path, infer_schema=False)
        frame = pl.read_parquet(path.with_suffix(".parquet"))
        for name, dtype in frame.schema.items():
            if dtype != pl.String:
                continue
            expected = [None if v is None else "'" + v if v.startswith(GUARDED) else v for v in frame[name]]
            assert csv[name].to_list() == expected, (code, stem, name)
    assert "'=1+1" in (out / "neighbourhoods/north/hiu_cohort.csv").read_text(encoding="utf-8-sig")


def test_the_data_dictionary_says_the_csv_ids_carry_the_formula_guard(out):
    for code, stem, path in lists(out, ".csv"):
        dictionary = pl.read_csv(path.with_name(f"{stem}_dictionary.csv"), infer_schema=False)
        rows = [row for row in dictionary.iter_rows() if row and row[0] == "person_id"]
        assert len(rows) == 1, (code, stem)
        words = " ".join(v or "" for v in rows[0]).lower()
        assert any(w in words for w in ("formula", "apostrophe", "quote")), (code, stem, words)


def test_the_published_metrics_of_this_small_area_give_no_count_away(out):
    """A reviewer worked true counts out of this drop's published service concentration: at most 7
    emergency admissions in the area (shown `*`), each user of admissions has 3 or more, so at most
    2 users, one in each neighbourhood (each `*`, so at least 1). Stars alone give that away in an
    area of 9 people, so the file is withheld (its header only); whatever is published survives the
    property test's attacker."""
    from tests.property.test_disclosure_attack import ATTACKS, check_rates

    withheld = []
    for table, attack_of in ATTACKS.items():
        truth = pl.read_parquet(out / "metrics" / f"{table}.parquet")
        shown = pl.read_parquet(out / "metrics" / "published" / f"{table}.parquet")
        assert shown.columns == truth.columns
        if shown.height == 0:
            withheld.append(table)
            continue
        check_rates(table, shown)
        attack = attack_of(truth, shown)
        attack.check_rules()
        assert attack.recovered() == [], table
    assert "service_concentration" in withheld


def test_a_withheld_published_file_is_a_warning_of_the_run(out):
    from tests.spreadsheet_drop import LAST_WARNINGS

    assert any("published_copies_not_withheld" in w and "service_concentration" in w for w in LAST_WARNINGS)
