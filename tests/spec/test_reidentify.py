"""`hiu reidentify` (issue 8, point 5): a cohort list as published + a practice's key file -> the list
with NHS numbers, written only where it may be, recorded in an audit log, naming nobody on screen."""

import datetime as dt
import importlib.util
import json
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from pipeline.cli import main
from pipeline.exports import write_parquet_and_csv

needs_workbook = pytest.mark.skipif(
    importlib.util.find_spec("pipeline.workbook") is None, reason="the cohort workbook writer (pipeline.workbook) is not in this tree"
)

# Ids a spreadsheet or the formula guard would change, and one the key does not have.
LIST = pl.DataFrame(
    {
        "person_id": ["kx1", "=kx2", "'kx3", "0062533197248372", "-kx5", "kx-unmatched"],
        "neighbourhood_code": ["north"] * 6,
        "age": [70, 81, 66, 90, 75, 68],
        "efi_score": [0.25, None, 0.5, 0.125, 0.0, 1 / 3],
        "reason": ["GP 24 (20+)", "ED 6 (5+)", "GP 20 (20+)", "ED 5 (5+)", "GP 21 (20+)", "-ED 5 (5+)"],
        "as_of_date": [dt.date(2025, 3, 31)] * 6,
    }
)
NHS = {"kx1": "9434765919", "=kx2": "9990000018", "'kx3": "4010232137", "0062533197248372": "4505577104", "-kx5": "6328797966"}
KEY_ROWS = [
    ["kx1", "943 476 5919", "Ann Jones", "1955-01-02"],  # written with spaces, as on a letter
    ["=kx2", "9990000018", "=Mallory", "1944-02-03"],  # a name a spreadsheet would run as a formula
    ["'kx3", "4010232137", "", ""],
    ["0062533197248372", "4505577104", "Zoë O’Brien", "1935-03-04"],
    ["-kx5", " 6328797966 ", "Rhys Evans", "1950-04-05"],
    ["kx-not-on-the-list", "9876543210", "Someone Else", "1960-05-06"],
]
SECRETS = [*LIST["person_id"], *NHS.values(), "9876543210", "Ann Jones", "Mallory", "1955-01-02"]


@pytest.fixture
def place(tmp_path, monkeypatch):
    """A practice folder outside the pipeline's output and warehouse folders, and the settings."""
    monkeypatch.setenv("HIU_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("HIU_WAREHOUSE", str(tmp_path / "warehouse" / "w.duckdb"))
    monkeypatch.setenv("HIU_AUDIT_LOG", str(tmp_path / "audit" / "reid.jsonl"))
    (tmp_path / "practice").mkdir()
    return tmp_path


def write_key(path: Path, rows=KEY_ROWS, header="person_id,nhs_number,name,date_of_birth", bom=False) -> Path:
    lines = [header] + [",".join(f'"{c}"' if "," in c else c for c in row) for row in rows]
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def published(folder: Path, frame: pl.DataFrame = LIST) -> Path:
    """The list's CSV and Parquet as the pipeline writes them (formula guard, byte-order mark)."""
    write_parquet_and_csv(frame, folder, "hiu_cohort")
    return folder / "hiu_cohort.csv"


def published_workbook(folder: Path, frame: pl.DataFrame = LIST) -> Path:
    from pipeline.workbook import ListSheet, write_workbook
    from schemas.outputs import HEADINGS

    folder.mkdir(parents=True, exist_ok=True)
    columns = [(c, HEADINGS.get(c, c)) for c in frame.columns]
    dictionary = pl.DataFrame({"column": frame.columns, "description": [""] * frame.width})
    write_workbook(frame, folder / "hiu_cohort.xlsx", ListSheet("High intensity users", columns, {"efi_score": 2}, [("List", "test")], dictionary))
    return folder / "hiu_cohort.xlsx"


def reidentify(place, capsys, list_path, out, *extra, key=None):
    key = key or write_key(place / "practice" / "key.csv")
    code = main(["reidentify", "--list", str(list_path), "--key", str(key), "--out", str(out), *extra])
    said = capsys.readouterr()
    for secret in SECRETS:  # nothing printed names a person
        assert secret not in said.out + said.err, secret
    return code, said


def read_csv_copy(out: Path) -> pl.DataFrame:
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    return pl.read_csv(out, infer_schema=False)


def unguard(value: str) -> str:
    return value[1:] if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@") else value


def sheet_rows(path: Path) -> list[tuple]:
    book = load_workbook(path, read_only=True)
    try:
        return list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()


def audit_lines(place) -> list[dict]:
    log = place / "audit" / "reid.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


# --- each list format round-trips -------------------------------------------------------------


def test_csv_list_gives_every_row_once_in_order_with_its_nhs_number(place, capsys):
    out = place / "practice" / "north.csv"
    code, said = reidentify(place, capsys, published(place / "list"), out)
    assert code == 0
    copy = read_csv_copy(out)
    assert copy.columns[:4] == ["person_id", "nhs_number", "name", "date_of_birth"]
    assert copy.columns[4:] == [c for c in LIST.columns if c != "person_id"]
    # the copy's CSV is guarded as the list's was, so its ids read back exactly as published
    assert copy["person_id"].to_list() == pl.read_csv(place / "list/hiu_cohort.csv", infer_schema=False)["person_id"].to_list()
    assert [unguard(p) for p in copy["person_id"]] == LIST["person_id"].to_list()
    assert copy["nhs_number"].to_list() == [NHS.get(p) for p in LIST["person_id"]]
    assert copy["name"].to_list() == ["Ann Jones", "'=Mallory", None, "Zoë O’Brien", "Rhys Evans", None]
    assert copy["reason"].to_list()[-1] == "'-ED 5 (5+)"  # passed through, not guarded twice
    assert copy["age"].to_list() == [str(a) for a in LIST["age"]]
    assert "6 rows, 5 matched" in said.out and "1 of 6 list rows have no entry in the key file" in said.err


def test_parquet_list_to_csv(place, capsys):
    published(place / "list")
    out = place / "practice" / "north.csv"
    assert reidentify(place, capsys, place / "list/hiu_cohort.parquet", out)[0] == 0
    copy = read_csv_copy(out)
    assert [unguard(p) for p in copy["person_id"]] == LIST["person_id"].to_list()
    assert copy["nhs_number"].to_list() == [NHS.get(p) for p in LIST["person_id"]]
    assert copy["age"].to_list() == [str(a) for a in LIST["age"]] and copy["as_of_date"].to_list() == ["2025-03-31"] * 6


@needs_workbook
@pytest.mark.parametrize("source", ["csv", "parquet", "xlsx"])
def test_any_list_to_a_workbook_with_identifiers_as_text_cells(place, capsys, source):
    published(place / "list")
    list_path = published_workbook(place / "list") if source == "xlsx" else place / f"list/hiu_cohort.{source}"
    out = place / "practice" / "north.xlsx"
    assert reidentify(place, capsys, list_path, out)[0] == 0
    header, *rows = sheet_rows(out)
    assert header[:4] == ("Person ID", "NHS number", "Name", "Date of birth")
    assert [r[0] for r in rows] == LIST["person_id"].to_list()  # text cells, exactly the ids
    assert [r[1] for r in rows] == [NHS.get(p) for p in LIST["person_id"]]
    assert all(isinstance(r[1], str) for r in rows if r[1] is not None)
    assert rows[1][2] == "=Mallory"  # a text cell: shown as written, never run
    ages = [r[header.index("Age")] for r in rows]
    assert ages == (LIST["age"].cast(pl.String) if source == "csv" else LIST["age"]).to_list()  # a list of no known model: as read
    book = load_workbook(out)
    assert all(c.data_type != "f" for row in book.worksheets[0].iter_rows() for c in row)  # no formulas
    lines = book["About this list"].iter_rows(values_only=True)
    about = dict(r[:2] for r in iter(lambda: next(lines), (None,) * 3) if r[0])  # the lines above the column table
    assert "identifies patients" in about["Re-identified list"]
    assert "Do not forward it beyond direct care" in about["Who may see it"]
    assert str(list_path.resolve()) in about["Made from"]
    assert about["As-of date"] == "2025-03-31" and about["Neighbourhood"] == "north"


@needs_workbook
def test_a_cohort_csv_becomes_a_workbook_with_the_cohorts_types_and_order(place, capsys):
    from schemas.outputs import HiuCohort, workbook_columns

    values = {pl.String: "GP 20 (20+)", pl.Int64: 3, pl.Float64: 0.123456, pl.Boolean: True, pl.Date: dt.date(2025, 3, 31)}
    columns = HiuCohort.to_schema().columns.items()
    cohort = pl.DataFrame({name: [values[c.dtype.type]] * 2 for name, c in columns}).with_columns(person_id=pl.Series(["kx1", "=kx2"]))
    out = place / "practice" / "north.xlsx"
    assert reidentify(place, capsys, published(place / "list", cohort), out)[0] == 0
    header, *rows = sheet_rows(out)
    order = [c for c, _ in workbook_columns(HiuCohort)]
    assert list(header) == [h for _, h in workbook_columns(HiuCohort)][:1] + ["NHS number", "Name", "Date of birth"] + [
        h for _, h in workbook_columns(HiuCohort)
    ][1:]
    assert [r[0] for r in rows] == ["kx1", "=kx2"] and [r[1] for r in rows] == [NHS["kx1"], NHS["=kx2"]]
    typed = dict(zip(["person_id", "nhs_number", "name", "date_of_birth", *order[1:]], rows[0]))
    assert typed["gp_appointments_12m"] == 3 and typed["as_of_date"] == dt.datetime(2025, 3, 31)
    assert typed["himsu"] == getattr(workbook_writer(), "YES", True)  # as the pipeline's own workbook shows true
    assert typed["efi_score"] == 0.12  # to the places the pipeline's workbook shows

    # and back from that workbook to CSV: the pipeline's CSV words and numbers again
    again = place / "practice" / "again.csv"
    (place / "list2").mkdir()
    reidentify(place, capsys, published_workbook(place / "list2", cohort.with_columns(efi_score=pl.lit(0.0))), again)
    copy = read_csv_copy(again)
    assert (copy["himsu"].to_list(), copy["efi_score"].to_list(), copy["age"].to_list()) == (["true"] * 2, ["0.0"] * 2, ["3"] * 2)


def workbook_writer():
    import pipeline.workbook

    return pipeline.workbook


@needs_workbook
def test_a_workbook_id_holding_a_control_character_still_matches(place, capsys):
    # XML holds no carriage return: the workbook stores `_x000D_`, which openpyxl leaves as it is
    listed = pl.DataFrame({"person_id": ["kx\r1", "_x0041_kx"], "age": [1, 2]})
    key = write_key(place / "practice" / "key.csv", [['"kx\r1"', "9434765919"], ["_x0041_kx", "9990000018"]], header="person_id,nhs_number")
    out = place / "practice" / "north.csv"
    assert reidentify(place, capsys, published_workbook(place / "list", listed), out, key=key)[0] == 0
    assert read_csv_copy(out)["nhs_number"].to_list() == ["9434765919", "9990000018"]


@needs_workbook
def test_workbook_list_to_csv(place, capsys):
    out = place / "practice" / "north.csv"
    assert reidentify(place, capsys, published_workbook(place / "list"), out)[0] == 0
    copy = read_csv_copy(out)
    assert [unguard(p) for p in copy["person_id"]] == LIST["person_id"].to_list()
    assert copy["nhs_number"].to_list() == [NHS.get(p) for p in LIST["person_id"]]
    assert copy["as_of_date"].to_list() == ["2025-03-31"] * 6


@needs_workbook
def test_a_workbook_whose_ids_a_spreadsheet_turned_into_numbers_is_refused(place, capsys):
    import xlsxwriter

    path = place / "list" / "resaved.xlsx"
    path.parent.mkdir()
    with xlsxwriter.Workbook(str(path)) as book:
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["Person ID", "Age"])
        sheet.write_row(1, 0, ["kx1", 70])
        sheet.write_row(2, 0, [62533197248372, 81])  # what Excel makes of 0062533197248372
    code, said = reidentify(place, capsys, path, place / "practice" / "out.csv")
    assert code == 2 and "1 person ID cells are not text (sheet rows 3)" in said.err
    assert not (place / "practice" / "out.csv").exists()


def test_key_without_name_or_date_of_birth_adds_only_the_nhs_number(place, capsys):
    key = write_key(place / "practice" / "key.csv", [r[:2] for r in KEY_ROWS], header="person_id,nhs_number")
    out = place / "practice" / "north.csv"
    assert reidentify(place, capsys, published(place / "list"), out, key=key)[0] == 0
    assert read_csv_copy(out).columns[:3] == ["person_id", "nhs_number", "neighbourhood_code"]


def test_key_file_with_a_byte_order_mark_spaces_and_capitalised_headings_is_read(place, capsys):
    rows = [[f"  {r[0]} ", r[1]] for r in KEY_ROWS]
    key = write_key(place / "practice" / "key.csv", rows, header=" Person_ID , NHS_Number ", bom=True)
    out = place / "practice" / "north.csv"
    assert reidentify(place, capsys, published(place / "list"), out, key=key)[0] == 0
    assert read_csv_copy(out)["nhs_number"].to_list() == [NHS.get(p) for p in LIST["person_id"]]


def test_an_empty_list_gives_an_empty_copy(place, capsys):
    out = place / "practice" / "north.csv"
    assert reidentify(place, capsys, published(place / "list", LIST.clear()), out)[0] == 0
    assert read_csv_copy(out).height == 0 and audit_lines(place)[0]["rows"] == 0


def test_a_csv_id_that_is_either_of_two_people_is_refused(place, capsys):
    # `'=kx2` in the CSV is the guarded `=kx2`, or the id `'=kx2` itself: with both in the key, no guess
    key = write_key(place / "practice" / "key.csv", KEY_ROWS + [["'=kx2", "9990000026", "", ""]])
    code, said = reidentify(place, capsys, published(place / "list"), place / "practice" / "out.csv", key=key)
    assert code == 2 and "could be either of two people" in said.err


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rows, header, message",
    [
        (KEY_ROWS[:2] + [["kx3", "9434765918", "", ""]], None, "(3 rows): NHS number fails the modulus 11 check on line 4"),
        (KEY_ROWS[:1] + [["kx3", "9991234564", "", ""]], None, "fails the modulus 11 check on line 3"),  # remainder 10
        (KEY_ROWS[:1] + [["kx3", "94347659", "", ""], ["kx4", "", "", ""]], None, "NHS number not 10 digits on lines 3, 4"),
        (KEY_ROWS + [["kx1", "9876543210", "", ""]], None, "person_id repeated on line 8"),
        (KEY_ROWS + [["kx9", "9434765919", "", ""]], None, "NHS number repeated on line 8"),
        (KEY_ROWS + [["", "9999999999", "", ""]], None, "person_id blank on line 8"),
        ([[f"p{i}", "9434765918"] for i in range(8)], "person_id,nhs_number", "lines 2, 3, 4, 5, 6 and 3 more"),
        (KEY_ROWS, "person_id,nhs,name,date_of_birth", "has no nhs_number column"),
        (KEY_ROWS, "id,nhs_number,name,date_of_birth", "has no person_id column"),
        ([], None, "has no rows"),
    ],
)
def test_a_key_file_that_is_wrong_anywhere_is_refused_whole(place, capsys, rows, header, message):
    key = write_key(place / "practice" / "key.csv", rows, **({"header": header} if header else {}))
    out = place / "practice" / "north.csv"
    code, said = reidentify(place, capsys, published(place / "list"), out, key=key)
    assert code == 2 and message in said.err and str(key) in said.err
    assert "\n" not in said.err.strip()  # one line
    for row in rows:  # the message names lines, never the values on them
        assert not any(value and value in said.err for value in row[:2])
    assert not out.exists() and audit_lines(place) == []


def where(place, name):
    return {
        "in the output folder": place / "outputs" / "neighbourhoods" / "north" / "copy.csv",
        "in the warehouse folder": place / "warehouse" / "copy.csv",
        "the list": place / "list" / "hiu_cohort.csv",
        "the key": place / "practice" / "key.csv",
        "not csv or xlsx": place / "practice" / "copy.parquet",
        "in a missing folder": place / "practice" / "missing" / "copy.csv",
    }[name]


@pytest.mark.parametrize(
    "name, message",
    [
        ("in the output folder", "is inside the pipeline's output folder"),
        ("in the warehouse folder", "is inside the warehouse's folder"),
        ("the list", "is the list itself"),
        ("the key", "is the key file itself"),
        ("not csv or xlsx", "must end in .csv or .xlsx"),
        ("in a missing folder", "does not exist"),
    ],
)
def test_out_is_refused_where_it_must_not_go(place, capsys, name, message):
    (place / "outputs" / "neighbourhoods" / "north").mkdir(parents=True)
    (place / "warehouse").mkdir()
    list_path = published(place / "list")
    before = list_path.read_bytes()
    code, said = reidentify(place, capsys, list_path, where(place, name), "--force")
    assert code == 2 and message in said.err
    assert list_path.read_bytes() == before and audit_lines(place) == []
    assert not (place / "outputs" / "neighbourhoods" / "north" / "copy.csv").exists()


def test_out_inside_a_pipeline_output_folder_is_refused_whatever_the_setting(place, capsys, monkeypatch):
    # run from another folder, HIU_OUTPUT_DIR may name another place: the folder's look decides too
    other = place / "elsewhere" / "outputs"
    (other / "neighbourhoods" / "north").mkdir(parents=True)
    (other / "manifest.json").write_text("{}")
    list_path = published(other / "neighbourhoods" / "north")
    code, said = reidentify(place, capsys, list_path, other / "neighbourhoods" / "north" / "copy.csv")
    assert code == 2 and f"inside the pipeline's output folder ({other})" in said.err


def test_a_key_file_inside_the_output_folder_is_refused(place, capsys):
    (place / "outputs").mkdir()
    key = write_key(place / "outputs" / "key.csv")
    code, said = reidentify(place, capsys, published(place / "list"), place / "practice" / "out.csv", key=key)
    assert code == 2 and "the key file" in said.err and "inside the pipeline's output folder" in said.err


def test_an_existing_out_is_replaced_only_with_force(place, capsys):
    out = place / "practice" / "north.csv"
    out.write_text("keep me")
    list_path = published(place / "list")
    code, said = reidentify(place, capsys, list_path, out)
    assert code == 2 and "exists: give --force" in said.err and out.read_text() == "keep me"
    assert reidentify(place, capsys, list_path, out, "--force")[0] == 0
    assert read_csv_copy(out).height == LIST.height


def test_a_re_identified_copy_is_not_taken_as_a_list(place, capsys):
    out = place / "practice" / "north.csv"
    assert reidentify(place, capsys, published(place / "list"), out)[0] == 0
    code, said = reidentify(place, capsys, out, place / "practice" / "again.csv")
    assert code == 2 and "already holds nhs_number" in said.err


@pytest.mark.parametrize("content, message", [(b"not,a\nlist,at all\n", "has no person_id column"), (b"PK\x03\x04junk", "cannot be read")])
def test_a_file_that_is_not_a_list_is_refused(place, capsys, content, message):
    path = place / "practice" / ("thing.csv" if content[:2] != b"PK" else "thing.xlsx")
    path.write_bytes(content)
    code, said = reidentify(place, capsys, path, place / "practice" / "out.csv")
    assert code == 2 and message in said.err


# --- written whole, readable by its owner, recorded ---------------------------------------------


def test_the_copy_is_written_whole_or_not_at_all(place, capsys, monkeypatch):
    def fail(self, path, **_):
        Path(path).write_text("half a fi")
        raise OSError(28, "No space left on device", str(path))

    list_path, key = published(place / "list").with_suffix(".parquet"), write_key(place / "practice" / "key.csv")
    monkeypatch.setattr(pl.DataFrame, "write_csv", fail)
    out = place / "practice" / "north.csv"
    code = main(["reidentify", "--list", str(list_path), "--key", str(key), "--out", str(out)])
    assert code == 1 and "No space left on device" in capsys.readouterr().err
    assert sorted(p.name for p in (place / "practice").iterdir()) == ["key.csv"]  # no copy, no temporary file
    assert audit_lines(place) == []  # and nothing recorded for a copy never made


def test_the_copy_is_readable_by_its_owner_only(place, capsys):
    out = place / "practice" / "north.csv"
    assert reidentify(place, capsys, published(place / "list"), out)[0] == 0
    assert out.stat().st_mode & 0o077 == 0


def test_each_copy_appends_one_audit_line_without_identifiers(place, capsys):
    list_path = published(place / "list")
    key = write_key(place / "practice" / "key.csv")
    for n, out in enumerate(("one.csv", "two.csv")):
        assert reidentify(place, capsys, list_path, place / "practice" / out, *(["--user", "dr.khan"] if n else []), key=key)[0] == 0
    log = (place / "audit" / "reid.jsonl").read_text()
    for secret in SECRETS:
        assert secret not in log, secret
    first, second = audit_lines(place)
    from pipeline.exports import sha256_of

    assert second["user"] == "dr.khan" and first["user"]
    assert first["list"] == str(list_path.resolve()) and first["list_sha256"] == sha256_of(list_path)
    assert first["key_sha256"] == sha256_of(key) and str(key) not in log
    assert first["out"] == str((place / "practice" / "one.csv").resolve())
    assert (first["rows"], first["matched"], first["unmatched"]) == (6, 5, 1)
    assert (first["as_of_date"], first["neighbourhood_code"]) == ("2025-03-31", "north")
    assert first["added"] == ["nhs_number", "name", "date_of_birth"]
    assert dt.datetime.fromisoformat(first["time"]).utcoffset() == dt.timedelta(0) and first["host"]


def test_the_audit_log_defaults_to_the_warehouse_folder_and_the_flag_overrides(place, capsys, monkeypatch):
    monkeypatch.delenv("HIU_AUDIT_LOG")
    (place / "warehouse").mkdir()  # where `hiu run` put the warehouse
    list_path = published(place / "list")
    assert reidentify(place, capsys, list_path, place / "practice" / "one.csv")[0] == 0
    assert len((place / "warehouse" / "reidentification_audit.jsonl").read_text().splitlines()) == 1
    flagged = place / "elsewhere" / "log.jsonl"
    assert reidentify(place, capsys, list_path, place / "practice" / "two.csv", "--audit-log", str(flagged))[0] == 0
    assert json.loads(flagged.read_text())["out"].endswith("two.csv")


def test_without_the_warehouse_folder_here_the_default_audit_log_is_refused_not_started_elsewhere(place, capsys, monkeypatch):
    # run from a practice's own folder, `data/warehouse.duckdb` would name a folder that is not there
    monkeypatch.delenv("HIU_AUDIT_LOG")
    code, said = reidentify(place, capsys, published(place / "list"), place / "practice" / "one.csv")
    assert code == 2 and "--audit-log" in said.err
    assert not (place / "warehouse").exists() and not (place / "practice" / "one.csv").exists()


def test_a_copy_is_never_written_beside_a_warehouse_the_settings_do_not_name(place, capsys):
    (place / "elsewhere").mkdir()
    (place / "elsewhere" / "other.duckdb").write_bytes(b"")
    code, said = reidentify(place, capsys, published(place / "list"), place / "elsewhere" / "one.csv")
    assert code == 2 and "DuckDB warehouse" in said.err
    assert not (place / "elsewhere" / "one.csv").exists()


def test_a_csv_copy_has_the_csv_order_and_rounding_whatever_the_lists_format(place, capsys):
    list_path = published(place / "list")
    copies = []
    for source in (list_path, list_path.with_suffix(".parquet")):
        out = place / "practice" / f"from_{source.suffix[1:]}.csv"
        assert reidentify(place, capsys, source, out)[0] == 0
        copies.append(out.read_bytes())
    assert copies[0] == copies[1]
