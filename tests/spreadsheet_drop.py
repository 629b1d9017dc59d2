"""A tiny drop whose ids, codes and names are the ones spreadsheets damage (issue 8), and a run of
the whole pipeline on it. Shared by the spreadsheet-safety and readable-cohort-file tests.

Every nasty person is a high intensity user; the first four are 84 and housebound, so they are on
the frailty list of their neighbourhood too (eFI 1/36 or 2/36: scores with many decimals).
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.runner import materialize_all
from pipeline.settings import HiuSettings
from tests.drops import write_drop

AS_OF = "2025-03-31"
IN_WINDOW = "2025-01-15"
HOUSEBOUND = "160689007"  # eFI deficit 16
ACTIVITY_LIMITATION = "160983005"  # eFI deficit 1

# Ids a spreadsheet reads as numbers, dates or formulas.
NASTY_IDS = [
    "0062533197248372",  # leading zeros
    "7088648137655043",  # more digits than a double holds
    "640693096024e057",  # scientific notation
    "2025-01-02",  # a date
    "=1+1",
    "-42",
    "@SUM(A1)",
    "+44",
]
NAMES = ["Médical Centre", "St Mary’s Surgery", "St Mary’s INT", "Médical Quarter"]

PRACTICES = [
    {"practice_code": "P001", "practice_name": "Médical Centre", "pcn_code": "00452", "pcn_name": "St Mary’s PCN",
     "neighbourhood_code": "north", "neighbourhood_name": "St Mary’s INT"},
    {"practice_code": "1E10", "practice_name": "St Mary’s Surgery", "pcn_code": "=PCN2", "pcn_name": "Médical PCN",
     "neighbourhood_code": "007", "neighbourhood_name": "Médical Quarter"},
]
ANCHOR = "anchor01"  # an ordinary person who carries the rows that make every feed cover the window


def practice_of(index: int) -> str:
    return "P001" if index % 2 == 0 else "1E10"


def write_spreadsheet_drop(folder: Path) -> Path:
    people = [{"person_id": ANCHOR}] + [
        {"person_id": pid, "practice_code": practice_of(i), "birth_year": 1940 if i < 4 else 1960, "sex": "MF"[i % 2]}
        for i, pid in enumerate(NASTY_IDS)
    ]
    gp, ed, admissions = [], [], []
    for i, pid in enumerate(NASTY_IDS):
        if i < 4:
            gp += [{"person_id": pid, "appointment_date": IN_WINDOW, "practice_code": practice_of(i)}] * (21 + i)
        elif i < 6:
            ed += [{"person_id": pid, "arrival_datetime": f"{IN_WINDOW} 10:00:00"}] * 5
        else:
            admissions += [{"person_id": pid, "admission_date": IN_WINDOW, "discharge_date": "2025-01-17"}] * 3
    ed += [{"person_id": NASTY_IDS[0], "arrival_datetime": f"{IN_WINDOW} 11:00:00"}] * 5  # a HIMSU
    # Rows the counting rules do not count, at both ends, so every required feed covers the window.
    for day in ("2024-02-01", AS_OF):
        gp.append({"person_id": ANCHOR, "appointment_date": day, "appt_status": "DNA"})
        ed.append({"person_id": ANCHOR, "arrival_datetime": f"{day} 09:00:00", "attendance_category": "4"})
        admissions.append({"person_id": ANCHOR, "admission_date": day, "discharge_date": day, "admission_method": "11"})
    coded = [{"person_id": pid, "event_date": "2024-06-01", "snomed_code": HOUSEBOUND} for pid in NASTY_IDS[:4]]
    coded.append({"person_id": NASTY_IDS[0], "event_date": "2024-06-01", "snomed_code": ACTIVITY_LIMITATION})
    return write_drop(
        folder, practices=PRACTICES, population=people, gp_appointments=gp, ed_attendances=ed,
        admissions=admissions, gp_coded_events=coded,
        gp_medications=[{"person_id": ANCHOR}],  # eFI is scored only when both GP feeds are supplied
    )


LAST_WARNINGS: list[str] = []


def run_spreadsheet_drop(root: Path) -> tuple[Path, dict]:
    """Run the whole pipeline on the drop under `root`; returns the output folder and its manifest
    (the run's warnings are in `LAST_WARNINGS`)."""
    drop = write_spreadsheet_drop(root / "drop")
    settings = HiuSettings(extracts_dir=str(drop), output_dir=str(root / "out"), warehouse=str(root / "w.duckdb"))
    outcome = materialize_all(settings)
    assert outcome.ok, outcome.failures
    LAST_WARNINGS[:] = outcome.warnings
    out = root / "out"
    return out, json.loads((out / "manifest.json").read_text())
