"""No patient rows in the Dagster instance (issue 8): a run stored in a real, persistent instance
(DAGSTER_HOME with its own dagster.yaml, as `make run` and the UI use) leaves no person id in its
event log, nor anywhere in the instance's files, so nobody with the UI or the instance database sees
who is on a list."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import polars as pl
from dagster_shared.serdes import serialize_value

from pipeline.runner import materialize_all
from pipeline.settings import HiuSettings
from tests.drops import write_drop

IN_WINDOW = "2025-01-15"
AS_OF = "2025-03-31"
HOUSEBOUND = "160689007"
PRACTICES = [
    {},
    {"practice_code": "P002", "practice_name": "Beta Surgery", "pcn_code": "PCN2", "neighbourhood_code": "south", "neighbourhood_name": "South INT"},
]
# Distinctive ids, so that finding one in the log can only mean it leaked.
PEOPLE = [f"qz{n:02d}xk7w" for n in range(1, 13)]
STRANGER = "qz99ghost"  # in the GP feed, not in the population: quarantined
# A person is on a list, quarantined or warned about: every path that might quote a row runs.


def person(n: int) -> str:
    return PEOPLE[n - 1]


def drop(folder: Path) -> Path:
    population = [
        {"person_id": pid, "practice_code": "P001" if n % 2 else "P002", "birth_year": 1938 if n <= 4 else 1970}
        for n, pid in enumerate(PEOPLE, start=1)
    ]
    population[10]["registration_end"] = "1999-01-01"  # before registration_start: a warning, the row stays
    gp = [{"person_id": person(n), "appointment_date": IN_WINDOW, "practice_code": "P001" if n % 2 else "P002"}
          for n in (1, 2, 5, 6) for _ in range(22)]
    gp += [{"person_id": STRANGER, "appointment_date": IN_WINDOW}]
    ed = [{"person_id": person(n), "arrival_datetime": f"{IN_WINDOW} 10:00:00"} for n in (1, 3, 7) for _ in range(6)]
    ed.append({"person_id": person(9), "arrival_datetime": f"{IN_WINDOW} 10:00:00", "departure_datetime": "2025-01-14 10:00:00"})
    admissions = [{"person_id": person(n), "admission_date": IN_WINDOW, "discharge_date": "2025-01-18"} for n in (4, 8) for _ in range(3)]
    for day in ("2024-02-01", AS_OF):  # uncounted rows at both ends: every feed covers the window
        gp.append({"person_id": person(12), "appointment_date": day, "appt_status": "DNA"})
        ed.append({"person_id": person(12), "arrival_datetime": f"{day} 09:00:00", "attendance_category": "4"})
        admissions.append({"person_id": person(12), "admission_date": day, "discharge_date": day, "admission_method": "11"})
    return write_drop(
        folder, practices=PRACTICES, population=population, gp_appointments=gp, ed_attendances=ed, admissions=admissions,
        gp_coded_events=[{"person_id": person(n), "event_date": "2024-06-01", "snomed_code": HOUSEBOUND} for n in range(1, 5)],
        gp_medications=[{"person_id": person(12)}],
        social_care_events=[{"person_id": person(n)} for n in (1, 2, 3)],
    )


def leaked(text: str, ids: set[str]) -> set[str]:
    return {pid for pid in ids if pid in text}


def test_the_event_log_and_instance_files_of_a_run_hold_no_person_id(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    settings = HiuSettings(
        extracts_dir=str(drop(tmp_path / "drop")), output_dir=str(tmp_path / "out"), warehouse=str(tmp_path / "w.duckdb")
    )
    outcome = materialize_all(settings)
    assert outcome.ok, outcome.failures
    extracts = json.loads((tmp_path / "out" / "manifest.json").read_text())["extracts"]
    assert extracts["gp_appointments"]["rows_quarantined"] == 1
    assert extracts["population"]["rows_warned"] == 1 and extracts["ed_attendances"]["rows_warned"] == 1

    listed = set()
    for path in (tmp_path / "out").glob("neighbourhoods/*/*_cohort.parquet"):
        listed |= set(pl.read_parquet(path)["person_id"])
    assert {person(1), person(2), person(3), person(4)} <= listed  # the lists were made and hold people
    ids = set(PEOPLE) | listed | {STRANGER}

    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(outcome.run_id) is not None, "the run is stored in the instance at DAGSTER_HOME"
        entries = instance.all_logs(outcome.run_id)
    text = "\n".join(serialize_value(entry) + "\n" + (entry.user_message or "") for entry in entries)

    # The search can fail: the log holds the metadata it would leak through, and a planted id is found.
    assert len(entries) > 50 and "ASSET_MATERIALIZATION" in text and "rows_by_neighbourhood" in text
    assert person(5) in leaked(text + f"\n| {person(5)} | 22 |", ids)
    assert leaked(text, ids) == set(), "person ids in the run's event log"

    stored = "\n".join(p.read_bytes().decode("latin-1") for p in home.rglob("*") if p.is_file())
    assert outcome.run_id in stored and "rows_by_neighbourhood" in stored  # the files hold the event log
    assert leaked(stored, ids) == set(), f"person ids in the files of the instance at {home}"
