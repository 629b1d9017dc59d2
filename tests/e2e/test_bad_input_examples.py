"""Bad input, end to end (contract sections 2, 3 and 5): one tiny drop per example, one corrupted
file or cell, the whole Dagster graph in-process. An example of several cases that each touch one
person's rows (a null word in each of six columns, say) gives each case its own person in one drop
and one run (`run_cases`); each case is still its own test.

Every example ends one of two ways:
(a) the run succeeds and the published cohort holds exactly the right people with the right counts;
(b) the run fails, a failure message names the offending file and the fault, and nothing is
    published (no manifest.json, no `.run-*` folder left in the output folder).

The base drop: people p01..pNN at practice P001 (neighbourhood `north`), and one anchor row per
activity feed (GP, ED, admissions) for p01 on 2025-03-31, so that every feed's latest date is
2025-03-31 and the default as-of date is 2025-03-31 (window 2024-04-01 to 2025-03-31). Thresholds are
the defaults: GP 20, ED 5, emergency admissions 3.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.runner import RunOutcome, materialize_all
from pipeline.settings import HiuSettings
from schemas.extracts import EXTRACTS
from tests.drops import complete_rows, write_csv, write_drop

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2025-03-31"
IN_WINDOW = "2025-01-15"

# Rows the counting rules do not count, two months before the window starts, so that every required
# feed covers the whole window (for as-of dates up to 2025-03-31 and back to 2025-02-28).
START_ANCHORS = [
    ("gp_appointments", {"person_id": "p01", "appointment_date": "2024-02-01", "appt_status": "DNA"}),
    ("ed_attendances", {"person_id": "p01", "arrival_datetime": "2024-02-01 09:00:00", "attendance_category": "4"}),
    ("admissions", {"person_id": "p01", "admission_date": "2024-02-01", "discharge_date": "2024-02-01", "admission_method": "11"}),
]
# One row per activity feed on the last day, for p01: every feed ends on 2025-03-31.
ANCHORS = {
    "gp_appointments": {"person_id": "p01", "appointment_date": AS_OF},
    "ed_attendances": {"person_id": "p01", "arrival_datetime": f"{AS_OF} 09:00:00"},
    "admissions": {"person_id": "p01", "admission_date": AS_OF, "discharge_date": AS_OF},
}


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def pid(number: int) -> str:
    return f"p{number:02d}"


def base_drop(
    folder: Path,
    people: int = 3,
    population: dict[str, dict] | None = None,
    gp: Sequence[dict] = (),
    ed: Sequence[dict] = (),
    admissions: Sequence[dict] = (),
    anchors: dict[str, dict] | None = None,
    **other_extracts: list[dict],
) -> Path:
    """A drop of `people` people p01..pNN (`population` overrides cells by person_id), the given
    activity rows (named cells only), and one anchor row per activity feed on 2025-03-31."""
    anchors = {**ANCHORS, **(anchors or {})}
    rows = [{"person_id": pid(n)} for n in range(1, people + 1)]
    for row in rows:
        row.update((population or {}).get(row["person_id"], {}))
    start = dict(START_ANCHORS)
    return write_drop(
        folder,
        population=rows,
        gp_appointments=[*gp, anchors["gp_appointments"], start["gp_appointments"]],
        ed_attendances=[*ed, anchors["ed_attendances"], start["ed_attendances"]],
        admissions=[*admissions, anchors["admissions"], start["admissions"]],
        **other_extracts,
    )


def settings_for(tmp_path: Path, folder: Path, **options) -> HiuSettings:
    return HiuSettings(
        extracts_dir=str(folder), output_dir=str(tmp_path / "out"), warehouse=str(tmp_path / "w.duckdb"), **options
    )


def run(tmp_path: Path, folder: Path, **options) -> RunOutcome:
    return materialize_all(settings_for(tmp_path, folder, **options))


def cohort(tmp_path: Path, neighbourhood: str = "north") -> dict[str, tuple[int, int, int]]:
    """The published HIU cohort: person_id -> (GP appointments, ED attendances, emergency admissions)."""
    frame = pl.read_parquet(tmp_path / "out" / "neighbourhoods" / neighbourhood / "hiu_cohort.parquet")
    return {
        row["person_id"]: (row["gp_appointments_12m"], row["ed_attendances_12m"], row["emergency_admissions_12m"])
        for row in frame.iter_rows(named=True)
    }


def cohort_rows(tmp_path: Path, neighbourhood: str = "north") -> dict[str, dict]:
    frame = pl.read_parquet(tmp_path / "out" / "neighbourhoods" / neighbourhood / "hiu_cohort.parquet")
    return frame.rows_by_key("person_id", named=True, unique=True)


def manifest(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "manifest.json").read_text())


def quality(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "quality" / "data_quality.json").read_text())


def warehouse_rows(tmp_path: Path, sql: str) -> list[tuple]:
    conn = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def assert_ok(outcome: RunOutcome) -> None:
    assert outcome.ok, outcome.failures


def failures_without(outcome: RunOutcome, tmp_path: Path) -> list[str]:
    """The failure messages with the test's own folder cut out: pytest names that folder after the
    test, so a keyword such as "semicolon" must not match the path."""
    return [m.replace(str(tmp_path), "<tmp>") for m in outcome.failures]


def assert_fails_naming(outcome: RunOutcome, tmp_path: Path, name: str, *keywords: str | tuple[str, ...]) -> None:
    """The run failed and one message names `name` (a file or extract) and every keyword
    (case-insensitive; a tuple keyword means any one of its words)."""
    assert not outcome.ok, "the run should have failed"
    messages = failures_without(outcome, tmp_path)

    def matches(message: str) -> bool:
        lowered = message.lower()
        for keyword in keywords:
            options = keyword if isinstance(keyword, tuple) else (keyword,)
            if not any(option.lower() in lowered for option in options):
                return False
        return name in message

    assert any(matches(m) for m in messages), (name, keywords, outcome.failures)


def assert_nothing_published(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert not (out / "manifest.json").exists(), "a failed run published a manifest"
    assert not list(out.glob(".run-*")), f"a failed run left {list(out.glob('.run-*'))}"
    assert not list(out.glob("neighbourhoods/*/hiu_cohort.parquet")), "a failed run published a cohort"


def published_files(out: Path) -> dict[Path, bytes]:
    """Every file in the output folder outside hidden housekeeping (.lock, .run-*, .previous)."""
    return {
        p: p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)
    }


def rewrite_csv(folder: Path, extract: str, rows: list[dict], columns: list[str] | None = None) -> Path:
    """Replace one extract's CSV with these rows (named cells only; defaults fill the rest)."""
    columns = columns or EXTRACTS[extract].columns
    full = [{c: row[c] for c in columns} for row in complete_rows(extract, rows)]
    return write_csv(folder / f"{extract}.csv", columns, full)


def gp_for(person: str, count: int, **cells) -> list[dict]:
    return [{"person_id": person, "appointment_date": IN_WINDOW, **cells}] * count


def ed_for(person: str, count: int, **cells) -> list[dict]:
    return [{"person_id": person, "arrival_datetime": f"{IN_WINDOW} 10:00:00", **cells}] * count


def admissions_for(person: str, count: int, **cells) -> list[dict]:
    return [{"person_id": person, "admission_date": IN_WINDOW, "discharge_date": "2025-01-17", **cells}] * count


@dataclass(frozen=True)
class Case:
    """One example's rows, for whichever person it is given, and the counts they must publish."""

    population: dict = field(default_factory=dict)  # cells of the person's population row
    gp: int = 0  # GP appointments, ED attendances and emergency admissions in the window
    ed: int = 0
    admissions: int = 0
    gp_cells: dict = field(default_factory=dict)  # cells of each activity row
    ed_cells: dict = field(default_factory=dict)
    admission_cells: dict = field(default_factory=dict)

    @property
    def expected(self) -> tuple[int, int, int]:
        return (self.gp, self.ed, self.admissions)


@dataclass(frozen=True)
class CasesRun:
    folder: Path  # holds out/ and w.duckdb, as a test's tmp_path does
    person: dict[str, str]  # case id -> its person
    expected: dict[str, tuple[int, int, int]]  # person -> published counts


def run_cases(tmp_path_factory, cases: dict[str, Case]) -> CasesRun:
    """Every case of an example in one drop, each with its own person from p02 on, and one run.
    A case touches only its own person's rows, so it is decided as it would be alone, and an example
    of seven cases costs one run, not seven."""
    folder = tmp_path_factory.mktemp("cases")
    person = {case_id: pid(n) for n, case_id in enumerate(cases, start=2)}
    gp, ed, admissions = [], [], []
    for case_id, case in cases.items():
        who = person[case_id]
        gp += gp_for(who, case.gp, **case.gp_cells)
        ed += ed_for(who, case.ed, **case.ed_cells)
        admissions += admissions_for(who, case.admissions, **case.admission_cells)
    drop = base_drop(folder / "drop", people=len(cases) + 1, gp=gp, ed=ed, admissions=admissions,
                     population={person[case_id]: case.population for case_id, case in cases.items()})
    assert_ok(run(folder, drop))
    return CasesRun(folder, person, {person[case_id]: case.expected for case_id, case in cases.items()})


def assert_case_counted(cases: CasesRun, case_id: str, extract: str) -> str:
    """The case's person is published with their counts, the cohort is every case's person and no
    one else, and no row of `extract` was quarantined. Returns the person."""
    published = cohort(cases.folder)
    person = cases.person[case_id]
    assert published.get(person) == cases.expected[person], case_id
    assert published == cases.expected
    assert manifest(cases.folder)["extracts"][extract]["rows_quarantined"] == 0
    return person


# ----------------------------------------------------------------------------------------------
# normalisations: the row is kept and read as its one meaning
# ----------------------------------------------------------------------------------------------


def test_surrounding_whitespace_is_trimmed_and_the_row_kept(tmp_path):
    folder = base_drop(
        tmp_path / "drop",
        population={"p02": {"sex": " M "}},
        gp=gp_for("p02", 21, appt_status="Attended ", practice_code=" P001"),
    )
    assert_ok(run(tmp_path, folder))
    assert cohort(tmp_path) == {"p02": (21, 0, 0)}
    assert cohort_rows(tmp_path)["p02"]["sex"] == "M"
    assert manifest(tmp_path)["extracts"]["gp_appointments"]["rows_quarantined"] == 0


NULL_WORDS = {
    "population.registration_end NULL": Case(population={"registration_end": "NULL"}, gp=21),
    "population.date_of_death NA": Case(population={"date_of_death": "NA"}, gp=21),
    "population.imd_decile NULL": Case(population={"imd_decile": "NULL"}, gp=21),
    "ed_attendances.departure_datetime NA": Case(ed=5, ed_cells={"departure_datetime": "NA"}),
    "admissions.discharge_date NULL": Case(admissions=3, admission_cells={"discharge_date": "NULL"}),
    "admissions.discharge_destination blank": Case(admissions=3, admission_cells={"discharge_destination": "   "}),
}


@pytest.fixture(scope="session")
def null_words_run(tmp_path_factory) -> CasesRun:
    return run_cases(tmp_path_factory, NULL_WORDS)


@pytest.mark.parametrize("case_id", list(NULL_WORDS))
def test_null_words_and_blank_text_are_read_as_null(null_words_run, case_id):
    extract, column = case_id.split(" ")[0].split(".")
    person = assert_case_counted(null_words_run, case_id, extract)
    stored = warehouse_rows(null_words_run.folder, f"SELECT DISTINCT {column} FROM stg_{extract} WHERE person_id = '{person}'")
    assert stored == [(None,)]


WHOLE_FLOATS = {
    "population.birth_year": Case(population={"birth_year": "1950.0", "birth_month": 6}, gp=21),
    "population.birth_month": Case(population={"birth_year": 1950, "birth_month": "6.0"}, gp=21),
    "admissions.admission_method": Case(admissions=3, admission_cells={"admission_method": "21.0"}),
}


@pytest.fixture(scope="session")
def whole_floats_run(tmp_path_factory) -> CasesRun:
    return run_cases(tmp_path_factory, WHOLE_FLOATS)


@pytest.mark.parametrize("case_id", list(WHOLE_FLOATS))
def test_whole_number_floats_are_read_as_integers(whole_floats_run, case_id):
    extract = case_id.split(".")[0]
    person = assert_case_counted(whole_floats_run, case_id, extract)
    if extract == "population":
        assert cohort_rows(whole_floats_run.folder)[person]["age"] == 74  # born June 1950, as of 2025-03-31


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_department_type_without_leading_zero_is_read_as_01(tmp_path, file_format):
    folder = base_drop(tmp_path / "drop", ed=ed_for("p02", 5, department_type="1"))
    if file_format == "parquet":  # the column typed as an integer, as tools that write Parquet do
        rows = complete_rows("ed_attendances", [*ed_for("p02", 5), ANCHORS["ed_attendances"], dict(START_ANCHORS)["ed_attendances"]])
        frame = pl.DataFrame(rows, schema={c: pl.String for c in EXTRACTS["ed_attendances"].columns})
        frame.with_columns(pl.col("department_type").cast(pl.Int64)).write_parquet(folder / "ed_attendances.parquet")
        (folder / "ed_attendances.csv").unlink()
    assert_ok(run(tmp_path, folder))
    assert cohort(tmp_path) == {"p02": (0, 5, 0)}
    assert warehouse_rows(tmp_path, "SELECT DISTINCT department_type FROM stg_ed_attendances") == [("01",)]


MIDNIGHT = " 00:00:00.000"
MIDNIGHTS = {
    "gp_appointments": Case(gp=21, gp_cells={"appointment_date": IN_WINDOW + MIDNIGHT}),
    "admissions": Case(admissions=3, admission_cells={"admission_date": IN_WINDOW + MIDNIGHT, "discharge_date": "2025-01-17" + MIDNIGHT}),
    "population": Case(population={"registration_start": "2000-01-01" + MIDNIGHT}, gp=21),
}


@pytest.fixture(scope="session")
def midnights_run(tmp_path_factory) -> CasesRun:
    return run_cases(tmp_path_factory, MIDNIGHTS)


@pytest.mark.parametrize("extract", list(MIDNIGHTS))
def test_sql_server_midnight_timestamps_are_read_as_dates(midnights_run, extract):
    assert_case_counted(midnights_run, extract, extract)


ARRIVALS = {
    "T, no seconds": "2025-01-15T10:00",
    "space, no seconds": "2025-01-15 10:00",
    "fractions": "2025-01-15 10:00:00.123",
    "T and fractions": "2025-01-15T10:00:00.123456",
    "explicit offset": "2025-01-15T10:00+01:00",
}


@pytest.fixture(scope="session")
def arrivals_run(tmp_path_factory) -> CasesRun:
    return run_cases(tmp_path_factory, {case_id: Case(ed=5, ed_cells={"arrival_datetime": arrival})
                                        for case_id, arrival in ARRIVALS.items()})


@pytest.mark.parametrize("case_id", list(ARRIVALS))
def test_timestamp_variants_are_read(arrivals_run, case_id):
    assert_case_counted(arrivals_run, case_id, "ed_attendances")


def test_timestamps_with_an_offset_are_converted_to_england_clock_time(tmp_path):
    ed = [
        {"person_id": "p02", "attendance_id": "winter", "arrival_datetime": "2025-01-15T10:00+01:00"},  # GMT: 09:00
        {"person_id": "p02", "attendance_id": "summer", "arrival_datetime": "2024-07-01 09:00:00+00:00"},  # BST: 10:00
        # 23:30 UTC on 31 March 2024 is 00:30 BST on 1 April 2024: the window's first day.
        {"person_id": "p02", "attendance_id": "boundary", "arrival_datetime": "2024-03-31T23:30:00+00:00"},
        *ed_for("p02", 2),
    ]
    assert_ok(run(tmp_path, base_drop(tmp_path / "drop", ed=ed)))
    assert cohort(tmp_path) == {"p02": (0, 5, 0)}
    stored = dict(
        warehouse_rows(
            tmp_path,
            "SELECT attendance_id, strftime(arrival_datetime, '%Y-%m-%d %H:%M:%S') FROM stg_ed_attendances "
            "WHERE attendance_id IN ('winter', 'summer', 'boundary')",
        )
    )
    assert stored == {
        "winter": "2025-01-15 09:00:00",
        "summer": "2024-07-01 10:00:00",
        "boundary": "2024-04-01 00:30:00",
    }


# ----------------------------------------------------------------------------------------------
# ambiguous dates and the quarantine share
# ----------------------------------------------------------------------------------------------


def day_month_drop(folder: Path) -> Path:
    """Every GP date written DD/MM/YYYY. 01/04/2024 is 1 April 2024 (the window's first day); read
    month first it would be 4 January 2024, outside the window."""
    return base_drop(
        folder,
        gp=gp_for("p02", 21, appointment_date="01/04/2024"),
        anchors={"gp_appointments": {"person_id": "p01", "appointment_date": "31/03/2025"}},
    )


def test_day_month_dates_are_never_guessed_and_fail_the_run_naming_file_and_column(tmp_path):
    outcome = run(tmp_path, day_month_drop(tmp_path / "drop"))
    assert_fails_naming(outcome, tmp_path, "gp_appointments.csv", "appointment_date")
    assert_nothing_published(tmp_path)


@pytest.mark.parametrize(
    "how, formats",
    [
        ("setting", "gp_appointments=%d/%m/%Y"),
        ("setting", "*=%d/%m/%Y"),
        ("environment", "gp_appointments=%d/%m/%Y"),
    ],
)
def test_a_date_format_setting_reads_day_month_dates(tmp_path, how, formats):
    folder = day_month_drop(tmp_path / "drop")
    if how == "setting":
        settings = settings_for(tmp_path, folder, date_formats=formats)
    else:
        settings = HiuSettings.from_env(
            {
                "HIU_EXTRACTS_DIR": str(folder),
                "HIU_OUTPUT_DIR": str(tmp_path / "out"),
                "HIU_WAREHOUSE": str(tmp_path / "w.duckdb"),
                "HIU_DATE_FORMATS": formats,
            }
        )
    assert_ok(materialize_all(settings))
    assert cohort(tmp_path) == {"p02": (21, 0, 0)}
    assert manifest(tmp_path)["as_of"] == AS_OF


def share_drop(folder: Path) -> Path:
    """25 GP rows of which 3 (12%) break a rule (appt_status not an allowed value)."""
    return base_drop(folder, gp=[*gp_for("p02", 21), *gp_for("p03", 3, appt_status="Attnded")])


def test_a_quarantine_share_above_the_limit_fails_naming_the_extract(tmp_path):
    outcome = run(tmp_path, share_drop(tmp_path / "drop"))
    assert_fails_naming(outcome, tmp_path, "gp_appointments", "quarantine")
    assert_nothing_published(tmp_path)


@pytest.mark.parametrize("how", ["setting", "environment"])
def test_raising_max_quarantine_share_lets_the_run_through(tmp_path, how):
    folder = share_drop(tmp_path / "drop")
    if how == "setting":
        settings = settings_for(tmp_path, folder, max_quarantine_share=0.2)
    else:
        settings = HiuSettings.from_env(
            {
                "HIU_EXTRACTS_DIR": str(folder),
                "HIU_OUTPUT_DIR": str(tmp_path / "out"),
                "HIU_WAREHOUSE": str(tmp_path / "w.duckdb"),
                "HIU_MAX_QUARANTINE_SHARE": "0.2",
            }
        )
    assert settings.max_quarantine_share == 0.2
    assert_ok(materialize_all(settings))
    assert cohort(tmp_path) == {"p02": (21, 0, 0)}
    assert manifest(tmp_path)["extracts"]["gp_appointments"]["rows_quarantined"] == 3


@pytest.mark.parametrize("emptied", ["header-only admissions.csv", "empty gp_appointments folder"])
def test_a_required_extract_with_no_accepted_rows_fails_naming_it(tmp_path, emptied):
    folder = base_drop(tmp_path / "drop", gp=gp_for("p02", 21))
    if emptied.startswith("header-only"):
        rewrite_csv(folder, "admissions", [])
        name = "admissions.csv"
    else:
        (folder / "gp_appointments.csv").unlink()
        (folder / "gp_appointments").mkdir()
        name = "gp_appointments"
    outcome = run(tmp_path, folder)
    assert_fails_naming(outcome, tmp_path, name, "no accepted rows")
    assert_nothing_published(tmp_path)


# ----------------------------------------------------------------------------------------------
# the as-of date
# ----------------------------------------------------------------------------------------------


def test_a_later_year_typed_in_one_feed_does_not_move_the_as_of_date(tmp_path):
    typo = {"person_id": "p03", "appointment_date": "2026-03-01"}  # before today, after the other feeds
    folder = base_drop(tmp_path / "drop", gp=[*gp_for("p02", 21), typo])
    assert_ok(run(tmp_path, folder))
    assert manifest(tmp_path)["as_of"] == AS_OF
    assert cohort(tmp_path) == {"p02": (21, 0, 0)}


def test_the_default_as_of_date_is_the_earliest_of_the_feeds_latest_dates(tmp_path):
    # ED ends on 2025-02-28, GP and admissions on 2025-03-31: the as-of date is 2025-02-28.
    gp = [*gp_for("p02", 19), *gp_for("p02", 2, appointment_date="2025-03-15"), *gp_for("p03", 20)]
    folder = base_drop(
        tmp_path / "drop", gp=gp, anchors={"ed_attendances": {"person_id": "p01", "arrival_datetime": "2025-02-28 09:00:00"}},
        admissions=[{"person_id": "p01", "admission_date": "2025-01-10", "discharge_date": "2025-01-11"}],
    )
    assert_ok(run(tmp_path, folder))
    assert manifest(tmp_path)["as_of"] == "2025-02-28"
    assert cohort(tmp_path) == {"p03": (20, 0, 0)}  # p02's 2 March appointments fall after the as-of date


def test_an_as_of_date_the_feeds_do_not_cover_fails(tmp_path):
    folder = base_drop(tmp_path / "drop", gp=gp_for("p02", 21))
    outcome = run(tmp_path, folder, as_of="2030-01-01")
    assert_fails_naming(outcome, tmp_path, "2030-01-01", "cover")
    assert_nothing_published(tmp_path)


def test_cli_refuses_an_invalid_as_of_with_one_line_and_status_2(tmp_path):
    folder = base_drop(tmp_path / "drop", gp=gp_for("p02", 21))
    command = [sys.executable, "-m", "pipeline.cli", "run", "--extracts", str(folder), "--output",
               str(tmp_path / "out"), "--warehouse", str(tmp_path / "w.duckdb"), "--as-of", "2025-02-30"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "2025-02-30" in result.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()


# ----------------------------------------------------------------------------------------------
# files in the drop
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stray", ["gp_medication.csv", "population_old.csv", "ed_attendance.parquet"])
def test_an_unrecognised_data_file_in_the_drop_fails_naming_it(tmp_path, stray):
    folder = base_drop(tmp_path / "drop", gp=gp_for("p02", 21))
    if stray.endswith(".parquet"):
        pl.DataFrame({"person_id": ["p02"], "attendance_id": ["x1"]}).write_parquet(folder / stray)
    else:
        (folder / stray).write_text("person_id,issue_date,bnf_code\np02,2025-01-01,0212000B0AAABAB\n")
    outcome = run(tmp_path, folder)
    assert_fails_naming(outcome, tmp_path, stray)
    assert_nothing_published(tmp_path)


@pytest.mark.parametrize("stored_as", ["admissions.CSV", "admissions.csv.gz"])
def test_upper_case_suffix_and_gzip_are_read_as_the_extract(tmp_path, stored_as):
    folder = base_drop(tmp_path / "drop", admissions=admissions_for("p02", 3))
    plain = folder / "admissions.csv"
    if stored_as.endswith(".gz"):
        (folder / stored_as).write_bytes(gzip.compress(plain.read_bytes()))
        plain.unlink()
    else:
        plain.rename(folder / stored_as)
    assert_ok(run(tmp_path, folder))
    assert cohort(tmp_path) == {"p02": (0, 0, 3)}
    assert manifest(tmp_path)["extracts"]["admissions"]["rows_accepted"] == 5  # and the two anchors


def test_hidden_files_in_the_drop_are_ignored(tmp_path):
    folder = base_drop(tmp_path / "drop", gp=gp_for("p02", 21))
    (folder / ".done").write_text("")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1\x00")
    assert_ok(run(tmp_path, folder))
    assert cohort(tmp_path) == {"p02": (21, 0, 0)}


@pytest.mark.parametrize(
    "extract, column",
    [("practices", "int_go_live_date"), ("population", "lsoa_code"), ("ed_attendances", "departure_datetime")],
)
def test_a_nullable_column_left_out_is_fine_and_recorded_as_absent(tmp_path, extract, column):
    folder = base_drop(tmp_path / "drop", gp=gp_for("p02", 21), ed=ed_for("p03", 5))
    rows = {
        "practices": [{}],
        "population": [{"person_id": pid(n)} for n in (1, 2, 3)],
        "ed_attendances": [*ed_for("p03", 5), ANCHORS["ed_attendances"], dict(START_ANCHORS)["ed_attendances"]],
    }[extract]
    rewrite_csv(folder, extract, rows, [c for c in EXTRACTS[extract].columns if c != column])
    assert_ok(run(tmp_path, folder))
    assert cohort(tmp_path) == {"p02": (21, 0, 0), "p03": (0, 5, 0)}
    assert column in manifest(tmp_path)["extracts"][extract]["absent_columns"]


# ----------------------------------------------------------------------------------------------
# warnings, not rejections; rejections and their root cause
# ----------------------------------------------------------------------------------------------


NOT_NEEDED = {  # case id -> (the case, the sex published)
    "sex_1": (Case(population={"sex": "1"}, gp=21), "U"),
    "imd_decile_0": (Case(population={"imd_decile": "0"}, gp=21), "F"),
    "lsoa_code_empty": (Case(population={"lsoa_code": ""}, gp=21), "F"),
    "lsoa_code_malformed": (Case(population={"lsoa_code": "E0100001"}, gp=21), "F"),
    "registration_before_birth_month": (
        Case(population={"birth_year": 1960, "birth_month": 6, "registration_start": "1960-01-01"}, gp=21), "F"),
    "departure_before_arrival": (Case(ed=5, ed_cells={"departure_datetime": "2025-01-15 08:00:00"}), "F"),  # arrival 10:00
    "department_type_06": (Case(ed=5, ed_cells={"department_type": "06"}), "F"),
}


@pytest.fixture(scope="session")
def not_needed_run(tmp_path_factory) -> CasesRun:
    return run_cases(tmp_path_factory, {case_id: case for case_id, (case, _) in NOT_NEEDED.items()})


@pytest.mark.parametrize("case_id", list(NOT_NEEDED))
def test_values_the_counts_do_not_need_are_warnings_and_the_person_still_counts(not_needed_run, case_id):
    case, expected_sex = NOT_NEEDED[case_id]
    extract = "population" if case.population else "ed_attendances"
    person = assert_case_counted(not_needed_run, case_id, extract)
    assert cohort_rows(not_needed_run.folder)[person]["sex"] == expected_sex


def test_activity_of_a_person_rejected_from_population_is_quarantined_with_that_cause(tmp_path):
    # p30 of 30 people has birth_month 13 (3% of population); their 1 GP row of 51 (2%) is quarantined.
    gp = [*[{"person_id": pid(n)} for n in range(1, 30)], *gp_for("p02", 20), {"person_id": "p30", "appointment_id": "bad1"}]
    folder = base_drop(tmp_path / "drop", people=30, population={"p30": {"birth_month": 13}}, gp=gp)
    assert_ok(run(tmp_path, folder))
    assert cohort(tmp_path) == {"p02": (21, 0, 0)}
    quarantined = pl.read_parquet(tmp_path / "out" / "quarantine" / "gp_appointments.parquet")
    assert quarantined["appointment_id"].to_list() == ["bad1"]
    reason = quarantined["reason"][0]
    assert reason != "person_id not found in population"
    assert "population" in reason and "birth_month" in reason


@pytest.mark.parametrize(
    "extract, file, reason",
    [("population", "population.csv", "birth_month"), ("practices", "practices.csv", "practice_code")],
)
def test_population_or_practices_wholly_quarantined_fails_naming_file_and_reason(tmp_path, extract, file, reason):
    if extract == "population":
        folder = base_drop(tmp_path / "drop", population={pid(n): {"birth_month": 13} for n in (1, 2, 3)})
    else:
        folder = base_drop(
            tmp_path / "drop",
            practices=[{"practice_code": "p 1"}],
            population={pid(n): {"practice_code": "p 1"} for n in (1, 2, 3)},
            gp=gp_for("p02", 21, practice_code="p 1"),
        )
    outcome = run(tmp_path, folder)
    assert_fails_naming(outcome, tmp_path, file, reason)
    assert not any("no as-of date" in m for m in failures_without(outcome, tmp_path)), outcome.failures
    assert_nothing_published(tmp_path)


# ----------------------------------------------------------------------------------------------
# files that cannot be read
# ----------------------------------------------------------------------------------------------

SECRET = "ZQX9SECRET417"


@pytest.mark.parametrize(
    "broken_line", [SECRET, f"spl99,{SECRET},2025-01-15,2025-01-17,21,19,RDZ,extra"], ids=["too_few_fields", "too_many_fields"]
)
def test_a_line_with_the_wrong_number_of_fields_fails_with_duckdbs_explanation_and_no_values(tmp_path, broken_line):
    folder = base_drop(tmp_path / "drop", admissions=admissions_for("p02", 3))
    with (folder / "admissions.csv").open("a", newline="") as handle:
        handle.write(broken_line + "\r\n")  # the csv module's line ending, as the rest of the file
    outcome = run(tmp_path, folder)
    assert_fails_naming(outcome, tmp_path, "admissions.csv", "Expected")
    assert not any(SECRET in m for m in outcome.failures), "patient-level values must never go in messages"
    assert_nothing_published(tmp_path)


def test_a_latin1_file_fails_saying_utf8(tmp_path):
    folder = base_drop(tmp_path / "drop", practices=[{"practice_name": "Côté Surgery"}], gp=gp_for("p02", 21))
    path = folder / "practices.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    outcome = run(tmp_path, folder)
    assert_fails_naming(outcome, tmp_path, "practices.csv", "UTF-8")
    assert_nothing_published(tmp_path)


def test_a_semicolon_delimited_file_fails_saying_semicolon(tmp_path):
    folder = base_drop(tmp_path / "drop", gp=gp_for("p02", 21))
    path = folder / "population.csv"
    path.write_text(path.read_text().replace(",", ";"))
    outcome = run(tmp_path, folder)
    assert_fails_naming(outcome, tmp_path, "population.csv", (";", "semicolon"))
    assert_nothing_published(tmp_path)


# ----------------------------------------------------------------------------------------------
# a failed run changes nothing
# ----------------------------------------------------------------------------------------------


def test_a_failed_run_leaves_outputs_and_warehouse_as_the_last_successful_run(tmp_path):
    folder = base_drop(tmp_path / "drop", gp=gp_for("p02", 21))
    assert_ok(run(tmp_path, folder))
    out = tmp_path / "out"
    before = published_files(out)
    (people_before,) = warehouse_rows(tmp_path, "SELECT count(*) FROM stg_population")[0]
    assert people_before == 3

    # Every population row now breaks a rule: the run fails at staging.
    rewrite_csv(folder, "population", [{"person_id": pid(n), "birth_month": 13} for n in (1, 2, 3)])
    outcome = run(tmp_path, folder)
    assert not outcome.ok
    after = published_files(out)
    assert after == before
    assert not list(out.glob(".run-*"))
    assert warehouse_rows(tmp_path, "SELECT count(*) FROM stg_population")[0][0] == people_before
    assert_fails_naming(outcome, tmp_path, "population.csv", "birth_month")


# ----------------------------------------------------------------------------------------------
# the data-quality report
# ----------------------------------------------------------------------------------------------


def test_data_quality_report_counts_every_extract(tmp_path):
    folder = base_drop(tmp_path / "drop", gp=gp_for("p02", 21))
    assert_ok(run(tmp_path, folder))
    assert (tmp_path / "out" / "quality" / "data_quality.md").exists()
    report = quality(tmp_path)
    for name in ("practices", "population", "gp_appointments", "ed_attendances", "admissions"):
        entry = report["extracts"][name]
        for key in ("rows_read", "rows_accepted", "rows_quarantined", "rows_warned", "normalisations", "warnings"):
            assert key in entry, (name, key)
        assert entry["rows_read"] == entry["rows_accepted"] + entry["rows_quarantined"]
    assert report["extracts"]["gp_appointments"]["rows_read"] == 23  # 21 and the two anchors


def test_data_quality_report_counts_normalisations(tmp_path):
    folder = base_drop(tmp_path / "drop", gp=gp_for("p02", 21, appt_status="Attended "))
    assert_ok(run(tmp_path, folder))
    assert cohort(tmp_path) == {"p02": (21, 0, 0)}
    assert quality(tmp_path)["extracts"]["gp_appointments"]["normalisations"]


def test_data_quality_report_warns_about_activity_after_death(tmp_path):
    folder = base_drop(
        tmp_path / "drop",
        population={"p03": {"date_of_death": "2025-02-01"}},
        gp=[*gp_for("p02", 21), {"person_id": "p03", "appointment_date": "2025-02-15"}],
    )
    assert_ok(run(tmp_path, folder))
    assert cohort(tmp_path) == {"p02": (21, 0, 0)}  # p03 died before the as-of date
    assert manifest(tmp_path)["extracts"]["gp_appointments"]["rows_quarantined"] == 0  # kept, with a warning
    assert quality(tmp_path)["extracts"]["gp_appointments"]["warnings"]


# ----------------------------------------------------------------------------------------------
# a window the feeds do not cover, and columns that decide who is in the population
# ----------------------------------------------------------------------------------------------


def test_a_window_the_feeds_cover_only_in_part_fails_naming_the_earliest_as_of_date(tmp_path):
    folder = base_drop(tmp_path / "drop", gp=gp_for("p02", 21))  # every feed starts 2024-02-01
    outcome = run(tmp_path, folder, as_of="2024-06-30")
    assert_fails_naming(outcome, tmp_path, "2024-06-30", "starts before", "earliest as-of date they cover is 2025-01-31")
    assert_nothing_published(tmp_path)


def test_an_hfrs_look_back_the_admissions_do_not_cover_is_a_warning(tmp_path):
    folder = base_drop(
        tmp_path / "drop", gp=gp_for("p02", 21),
        admission_diagnoses=[{"spell_id": "adm1"}],
    )
    outcome = run(tmp_path, folder)
    assert_ok(outcome)
    gaps = [w for w in outcome.warnings if "window_fully_covered" in w]
    assert gaps and "admissions, whole feed: 2023-04" in gaps[0]
    assert "HFRS 2-year look-back" in (tmp_path / "out" / "quality" / "data_quality.md").read_text()


def test_columns_left_out_that_decide_who_is_in_the_population_are_a_warning(tmp_path):
    folder = base_drop(tmp_path / "drop", gp=gp_for("p02", 21))
    path = folder / "population.csv"
    frame = pl.read_csv(path, infer_schema=False).drop("date_of_death", "registration_end")
    frame.write_csv(path)
    outcome = run(tmp_path, folder)
    assert_ok(outcome)
    assert any("date_of_death" in w and "blank for every row" in w for w in outcome.warnings), outcome.warnings
