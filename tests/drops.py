"""Tiny hand-written extract drops for tests.

A test names only the cells that matter; every other column takes a plain default, ids are
numbered, and required extracts the test does not mention are written empty (header only).
The drop then goes through the real ingest and counting functions, without Dagster.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb

from cohorts.activity import build_person_activity
from cohorts.events import build_person_events
from cohorts.hiu import Thresholds, build_hiu_cohort, build_person_intensity
from cohorts.period import Period
from cohorts.register import build_person_register
from pipeline.extract_files import create_empty_raw, find_extract_files, load_raw
from pipeline.staging import stage_extract
from schemas.extracts import EXTRACTS

AS_OF = "2025-03-31"

DEFAULTS: dict[str, dict[str, object]] = {
    "practices": {
        "practice_code": "P001",
        "practice_name": "Alpha Surgery",
        "pcn_code": "PCN1",
        "pcn_name": "North PCN",
        "neighbourhood_code": "north",
        "neighbourhood_name": "North INT",
        "int_go_live_date": None,
    },
    "population": {
        "sex": "F",
        "birth_year": 1960,
        "birth_month": 6,
        "practice_code": "P001",
        "lsoa_code": "E01000001",
        "imd_decile": 5,
        "registration_start": "2000-01-01",
        "registration_end": None,
        "date_of_death": None,
    },
    "gp_appointments": {
        "appointment_date": "2025-01-15",
        "appt_status": "Attended",
        "appt_mode": "Face-to-Face",
        "hcp_type": "GP",
        "practice_code": "P001",
    },
    "ed_attendances": {
        "arrival_datetime": "2025-01-15 10:00:00",
        "department_type": "01",
        "attendance_category": "1",
        "arrival_mode": "1048071000000103",
        "departure_datetime": None,
    },
    "admissions": {
        "admission_date": "2025-01-15",
        "discharge_date": "2025-01-17",
        "admission_method": "21",
        "discharge_destination": "19",
        "provider_code": "RDZ",
    },
    "admission_diagnoses": {"diagnosis_position": 1, "icd10_code": "J18.9"},
    "social_care_events": {
        "event_type": "Request",
        "event_start_date": "2025-01-15",
        "event_end_date": "2025-01-20",
        "request_route_of_access": "Community / Other route",
        "service_type": None,
        "review_reason": None,
        "event_outcome": None,
    },
    "gp_coded_events": {"event_date": "2024-01-01", "snomed_code": "21134002"},
    "gp_medications": {"issue_date": "2025-01-01", "bnf_code": "0212000B0AAABAB"},
}


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return path


def complete_rows(extract: str, rows: list[dict]) -> list[dict]:
    """Fill every column a row does not name with its default, and number missing ids."""
    spec = EXTRACTS[extract]
    completed = []
    for number, row in enumerate(rows, start=1):
        full = {c: DEFAULTS[extract].get(c) for c in spec.columns}
        if spec.id_column and spec.id_column not in row and full.get(spec.id_column) is None:
            full[spec.id_column] = f"{extract[:3]}{number}"
        full.update(row)
        completed.append(full)
    return completed


def write_drop(folder: Path, **extracts: list[dict]) -> Path:
    """A drop in contract layout. `practices` defaults to one practice in neighbourhood `north`."""
    extracts.setdefault("practices", [{}])
    for name, spec in EXTRACTS.items():
        if name in extracts:
            write_csv(folder / f"{name}.csv", spec.columns, complete_rows(name, extracts[name]))
        elif spec.required:
            write_csv(folder / f"{name}.csv", spec.columns, [])
    return folder


def stage_drop(
    conn: duckdb.DuckDBPyConnection, folder: Path, today: dt.date | None = None, date_formats: dict | None = None
) -> dict:
    """Load and check every extract as the staging assets do; returns the staging counts."""
    today = today or dt.date.today()
    date_formats = date_formats or {}
    counts = {}
    for name, spec in EXTRACTS.items():
        files = find_extract_files(folder, name)
        if files is not None:
            load_raw(conn, spec, files, f"raw_{name}")
        else:
            create_empty_raw(conn, spec.columns, f"raw_{name}")
        counts[name] = stage_extract(conn, spec, today, date_formats.get(name))
    return counts


def person_rows(
    folder: Path, as_of: str = AS_OF, thresholds: Thresholds = Thresholds(), social_care: bool | None = None
) -> dict[str, dict]:
    """Every registered person's counts and flags, keyed by person_id, from a drop."""
    conn = duckdb.connect()
    stage_drop(conn, folder)
    period = Period(dt.date.fromisoformat(as_of))
    build_person_register(conn, period.as_of)
    supplied = social_care if social_care is not None else find_extract_files(folder, "social_care_events") is not None
    build_person_events(conn)
    build_person_activity(conn, period, social_care_supplied=supplied)
    build_person_intensity(conn, thresholds)
    build_hiu_cohort(conn, as_of=period.as_of)
    rows = conn.sql("SELECT * FROM person_intensity").pl().rows_by_key("person_id", named=True, unique=True)
    conn.close()
    return rows


def events_connection(folder: Path) -> duckdb.DuckDBPyConnection:
    """A connection holding the staged drop and its `person_events` view (caller closes it)."""
    conn = duckdb.connect()
    stage_drop(conn, folder)
    build_person_events(conn)
    return conn


def frailty_rows(folder: Path, as_of: str = AS_OF) -> tuple[dict[str, dict], dict[str, list[int]]]:
    """Every scored person's eFI and HFRS, and their eFI deficits, from a drop."""
    from cohorts.frailty import build_efi, build_hfrs, load_reference_lists
    from pipeline.reference_data import EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS

    conn = duckdb.connect()
    stage_drop(conn, folder)
    period = Period(dt.date.fromisoformat(as_of))
    build_person_register(conn, period.as_of)
    load_reference_lists(conn, EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS)
    build_efi(conn, period, supplied=find_extract_files(folder, "gp_coded_events") is not None)
    build_hfrs(conn, period, supplied=find_extract_files(folder, "admission_diagnoses") is not None)
    scores = conn.sql(
        "SELECT person_id, e.* EXCLUDE (person_id), h.* EXCLUDE (person_id) FROM person_register "
        "LEFT JOIN efi_scores e USING (person_id) LEFT JOIN hfrs_scores h USING (person_id)"
    ).pl().rows_by_key("person_id", named=True, unique=True)
    deficits: dict[str, list[int]] = {}
    for person_id, number in conn.execute("SELECT person_id, deficit_number FROM efi_deficits ORDER BY 1, 2").fetchall():
        deficits.setdefault(person_id, []).append(number)
    conn.close()
    return scores, deficits
