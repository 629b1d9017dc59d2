"""`hiu reidentify` on what a real run publishes: a tiny drop through the whole pipeline, a key file
from the synthetic generator, and every neighbourhood list back with the key's NHS numbers."""

import json

import polars as pl
import pytest
from openpyxl import load_workbook

from pipeline.cli import main
from pipeline.generate.keyfile import write_key_file
from pipeline.runner import materialize_all
from pipeline.settings import HiuSettings
from tests.drops import write_drop

# Ids the formula guard, a spreadsheet or a quote would change; all high intensity users but the last.
PEOPLE = [
    {"person_id": "=kq7"},
    {"person_id": "0062533197248372"},
    {"person_id": "'kq3"},
    {"person_id": "-kq4", "practice_code": "P002"},
    {"person_id": "kq5", "practice_code": "P002"},
    {"person_id": "kq6-not-hiu", "practice_code": "P002"},
]
PRACTICES = [{}, {"practice_code": "P002", "pcn_code": "PCN2", "neighbourhood_code": "south", "neighbourhood_name": "South INT"}]
# Uncounted rows at the window's start (and an elective admission at its end), so that every required
# feed covers the 12 months to 2025-01-15.
COVERAGE = {
    "gp_appointments": [{"person_id": "kq6-not-hiu", "appointment_date": "2024-01-16", "appt_status": "DNA"}],
    "ed_attendances": [{"person_id": "kq6-not-hiu", "arrival_datetime": "2024-01-16 10:00:00", "attendance_category": "4"}],
    "admissions": [{"person_id": "kq6-not-hiu", "admission_date": "2024-01-16", "discharge_date": "2024-01-16", "admission_method": "11"}],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reidentify_run")
    drop = write_drop(
        folder / "drop",
        practices=PRACTICES,
        population=PEOPLE,
        gp_appointments=[{"person_id": p} for p in ("=kq7", "0062533197248372", "'kq3") for _ in range(20)] + COVERAGE["gp_appointments"],
        ed_attendances=[{"person_id": p} for p in ("-kq4", "kq5") for _ in range(5)] + COVERAGE["ed_attendances"],
        admissions=[{"person_id": "kq6-not-hiu", "admission_method": "11"}] + COVERAGE["admissions"],
    )
    settings = HiuSettings(extracts_dir=str(drop), output_dir=str(folder / "out"), warehouse=str(folder / "warehouse" / "w.duckdb"))
    outcome = materialize_all(settings)
    assert outcome.ok, outcome.failures
    (folder / "practice").mkdir()
    write_key_file(drop, 11, folder / "practice" / "key.csv")
    return folder


@pytest.fixture
def pipeline_settings(run, monkeypatch):
    monkeypatch.setenv("HIU_OUTPUT_DIR", str(run / "out"))
    monkeypatch.setenv("HIU_WAREHOUSE", str(run / "warehouse" / "w.duckdb"))
    return run


def copied(out) -> tuple[list[str], list[str]]:
    """(person ids, NHS numbers) of a re-identified copy, ids as the Parquet holds them."""
    if out.suffix == ".xlsx":
        book = load_workbook(out, read_only=True)
        header, *rows = book.worksheets[0].iter_rows(values_only=True)
        book.close()
        return [r[header.index("Person ID")] for r in rows], [r[header.index("NHS number")] for r in rows]
    frame = pl.read_csv(out, infer_schema=False)
    unguard = lambda v: v[1:] if v[:1] == "'" and v[1:2] in ("=", "+", "-", "@") else v  # noqa: E731
    return [unguard(v) for v in frame["person_id"]], frame["nhs_number"].to_list()


@pytest.mark.parametrize("neighbourhood", ["north", "south"])
@pytest.mark.parametrize("source", ["csv", "parquet", "xlsx"])
@pytest.mark.parametrize("target", ["csv", "xlsx"])
def test_every_listed_person_comes_back_with_the_keys_nhs_number(pipeline_settings, capsys, neighbourhood, source, target):
    run = pipeline_settings
    folder = run / "out" / "neighbourhoods" / neighbourhood
    if "xlsx" in (source, target) and not (folder / "hiu_cohort.xlsx").exists():
        pytest.skip("this tree's pipeline writes no cohort workbook yet")
    key = pl.read_csv(run / "practice" / "key.csv", infer_schema=False)
    nhs = dict(zip(key["person_id"], key["nhs_number"]))
    listed = pl.read_parquet(folder / "hiu_cohort.parquet")["person_id"].to_list()
    assert len(listed) >= 2

    out = run / "practice" / f"{neighbourhood}-from-{source}.{target}"
    code = main(["reidentify", "--list", str(folder / f"hiu_cohort.{source}"), "--key", str(run / "practice" / "key.csv"),
                 "--out", str(out), "--user", "test.practice", "--force"])
    said = capsys.readouterr()
    assert code == 0, said.err
    assert copied(out) == (listed, [nhs[p] for p in listed])  # everyone, once, in order, with their number
    assert f"{len(listed)} rows, {len(listed)} matched" in said.out and not said.err
    log = (run / "warehouse" / "reidentification_audit.jsonl").read_text()
    for secret in [*key["person_id"], *key["nhs_number"], *key["name"], *key["date_of_birth"]]:
        assert secret not in log and secret not in said.out, secret
    last = json.loads(log.splitlines()[-1])
    assert (last["user"], last["rows"], last["matched"], last["neighbourhood_code"]) == ("test.practice", len(listed), len(listed), neighbourhood)


def test_a_csv_copy_is_the_same_whichever_file_of_the_list_it_came_from(pipeline_settings, capsys):
    """A reviewer found the copy from the Parquet with 16-digit scores and the copy from the workbook
    in the workbook's column order: every copy now has the CSV's order and rounding."""
    run = pipeline_settings
    folder = run / "out" / "neighbourhoods" / "north"
    copies = {}
    for source in ("csv", "parquet", "xlsx"):
        out = run / "practice" / f"same-from-{source}.csv"
        code = main(["reidentify", "--list", str(folder / f"hiu_cohort.{source}"), "--key", str(run / "practice" / "key.csv"),
                     "--out", str(out), "--force"])
        assert code == 0, capsys.readouterr().err
        copies[source] = pl.read_csv(out, infer_schema=False)
    assert copies["csv"].columns[:2] == ["person_id", "nhs_number"]
    assert copies["parquet"].equals(copies["csv"]) and copies["xlsx"].equals(copies["csv"])
