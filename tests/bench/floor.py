"""The floor `make bench` measures the pipeline against (issue 12): the same deliverable written by
hand as one plain DuckDB script, with no quarantine, checks, orchestration, metadata or atomic
publishing.

It types the extracts, counts each registered person's 12-month activity by the contract's rules,
flags the high intensity users, scores eFI and HFRS, and writes each neighbourhood's HIU cohort as
Parquet and CSV. The drop must be clean (`hiu generate` output): with no row to quarantine, the
pipeline's cohort and this one hold the same people with the same numbers, which `make bench`
checks (`same_cohort`).

    python -m tests.bench.floor DROP OUT [--memory-limit 3GB] [--threads 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import time
from pathlib import Path

import duckdb

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference"  # the code lists the pipeline ships
TYPES = {
    "practices": {"practice_code": "VARCHAR", "pcn_code": "VARCHAR", "pcn_name": "VARCHAR", "practice_name": "VARCHAR",
                  "neighbourhood_code": "VARCHAR", "neighbourhood_name": "VARCHAR"},
    "population": {"person_id": "VARCHAR", "sex": "VARCHAR", "birth_year": "BIGINT", "birth_month": "BIGINT",
                   "practice_code": "VARCHAR", "imd_decile": "BIGINT", "registration_start": "DATE",
                   "registration_end": "DATE", "date_of_death": "DATE"},
    "gp_appointments": {"person_id": "VARCHAR", "appointment_date": "DATE", "appt_status": "VARCHAR"},
    "ed_attendances": {"person_id": "VARCHAR", "arrival_datetime": "TIMESTAMP", "attendance_category": "VARCHAR"},
    "admissions": {"spell_id": "VARCHAR", "person_id": "VARCHAR", "admission_date": "DATE", "admission_method": "VARCHAR"},
    "admission_diagnoses": {"spell_id": "VARCHAR", "icd10_code": "VARCHAR"},
    "social_care_events": {"person_id": "VARCHAR", "event_type": "VARCHAR", "event_start_date": "DATE",
                           "event_end_date": "DATE"},
    "gp_coded_events": {"person_id": "VARCHAR", "event_date": "DATE", "snomed_code": "VARCHAR"},
    "gp_medications": {"person_id": "VARCHAR", "issue_date": "DATE", "bnf_code": "VARCHAR"},
}


def source(drop: Path, name: str) -> str:
    """A reader over an extract's file or folder of files, Parquet or CSV."""
    folder = drop / name
    if folder.is_dir():
        files = sorted(folder.iterdir())
        pattern, suffix = str(folder / f"*{files[0].suffix}"), files[0].suffix
    else:
        found = next(p for p in (drop / f"{name}.parquet", drop / f"{name}.csv") if p.exists())
        pattern, suffix = str(found), found.suffix
    return f"read_parquet('{pattern}')" if suffix == ".parquet" else f"read_csv('{pattern}', header = true, all_varchar = true)"


def typed(drop: Path, name: str) -> str:
    columns = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in TYPES[name].items())
    return f"CREATE TABLE {name} AS SELECT {columns} FROM {source(drop, name)}"


def years_before(day: dt.date, years: int) -> dt.date:
    # Written again on purpose, not imported from cohorts.period: the floor re-derives every rule
    # by hand, so that its cohort equal to the pipeline's also checks the pipeline's windows.
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def run(drop: Path, out: Path, memory_limit: str, threads: int) -> dict:
    started = time.perf_counter()
    conn = duckdb.connect(config={"memory_limit": memory_limit, "threads": threads,
                                  "temp_directory": str(out.with_name(out.name + ".tmp"))})
    for name in TYPES:
        conn.execute(typed(drop, name))
    as_of = conn.execute(
        """SELECT least((SELECT max(appointment_date) FROM gp_appointments),
                        (SELECT max(CAST(arrival_datetime AS DATE)) FROM ed_attendances),
                        (SELECT max(admission_date) FROM admissions))"""
    ).fetchone()[0]
    start, start_2y = years_before(as_of, 1) + dt.timedelta(days=1), years_before(as_of, 2) + dt.timedelta(days=1)
    a, s, s2 = (f"DATE '{d}'" for d in (as_of, start, start_2y))
    conn.execute(f"""
        CREATE TABLE register AS
        SELECT p.person_id, pr.neighbourhood_code, pr.pcn_code, p.practice_code, p.sex, p.imd_decile,
               pr.neighbourhood_name, pr.pcn_name, pr.practice_name,
               year({a}) - p.birth_year - CASE WHEN month({a}) < p.birth_month THEN 1 ELSE 0 END AS age
        FROM population p JOIN practices pr USING (practice_code)
        WHERE p.registration_start <= {a} AND (p.registration_end IS NULL OR p.registration_end > {a})
          AND (p.date_of_death IS NULL OR p.date_of_death > {a})""")
    conn.execute(f"""
        CREATE TABLE counts AS
        SELECT r.*,
          coalesce(g.n, 0) AS gp_appointments_12m, coalesce(e.n, 0) AS ed_attendances_12m,
          coalesce(m.n, 0) AS emergency_admissions_12m, c.person_id IS NOT NULL AS social_care_involved
        FROM register r
        LEFT JOIN (SELECT person_id, count(*) AS n FROM gp_appointments
                   WHERE appt_status = 'Attended' AND appointment_date BETWEEN {s} AND {a} GROUP BY 1) g USING (person_id)
        LEFT JOIN (SELECT person_id, count(*) AS n FROM ed_attendances
                   WHERE attendance_category IN ('1', '2', '3') AND CAST(arrival_datetime AS DATE) BETWEEN {s} AND {a}
                   GROUP BY 1) e USING (person_id)
        LEFT JOIN (SELECT person_id, count(*) AS n FROM admissions
                   WHERE admission_method LIKE '2%' AND admission_date BETWEEN {s} AND {a} GROUP BY 1) m USING (person_id)
        LEFT JOIN (SELECT DISTINCT person_id FROM social_care_events
                   WHERE (event_type = 'Request' AND event_start_date BETWEEN {s} AND {a})
                      OR (event_type = 'Service' AND event_start_date <= {a}
                          AND (event_end_date IS NULL OR event_end_date >= {s}))) c USING (person_id)""")
    conn.execute(f"""
        CREATE TABLE efi AS
        WITH old AS (SELECT person_id FROM counts WHERE age >= 65),
        codes AS (SELECT DISTINCT CAST(deficit_number AS INTEGER) AS d, snomed_code
                  FROM read_csv('{REFERENCE / "efi_deficit_snomed_codes" / "v1" / "efi_deficit_snomed_codes.csv"}', header = true, all_varchar = true)),
        deficits AS (
            SELECT DISTINCT e.person_id, c.d FROM gp_coded_events e JOIN codes c USING (snomed_code)
            WHERE e.event_date <= {a} AND e.person_id IN (SELECT person_id FROM old)
            UNION
            SELECT person_id, 26 FROM gp_medications
            WHERE issue_date BETWEEN {s} AND {a} AND left(bnf_code, 2) BETWEEN '01' AND '15'
              AND person_id IN (SELECT person_id FROM old)
            GROUP BY person_id HAVING count(DISTINCT left(bnf_code, 9)) >= 5)
        SELECT o.person_id, count(d.d) / 36.0 AS efi_score,
               CASE WHEN count(d.d) <= 4 THEN 'fit' WHEN count(d.d) <= 8 THEN 'mild'
                    WHEN count(d.d) <= 12 THEN 'moderate' ELSE 'severe' END AS efi_category
        FROM old o LEFT JOIN deficits d USING (person_id) GROUP BY o.person_id""")
    conn.execute(f"""
        CREATE TABLE hfrs AS
        WITH old AS (SELECT person_id FROM counts WHERE age >= 75),
        points AS (SELECT upper(icd10_3char) AS icd, CAST(round(CAST(points AS DECIMAL(4, 1)) * 10) AS INTEGER) AS tenths
                   FROM read_csv('{REFERENCE / "hfrs_icd10_weights" / "v1" / "hfrs_icd10_weights.csv"}', header = true, all_varchar = true)),
        coded AS (SELECT DISTINCT a.person_id, upper(left(replace(d.icd10_code, '.', ''), 3)) AS icd
                  FROM admission_diagnoses d JOIN admissions a USING (spell_id)
                  WHERE a.admission_date BETWEEN {s2} AND {a} AND a.person_id IN (SELECT person_id FROM old))
        SELECT o.person_id, coalesce(sum(p.tenths), 0) / 10.0 AS hfrs_score,
               CASE WHEN coalesce(sum(p.tenths), 0) < 50 THEN 'low' WHEN coalesce(sum(p.tenths), 0) <= 150
                    THEN 'intermediate' ELSE 'high' END AS hfrs_band
        FROM old o LEFT JOIN coded c USING (person_id) LEFT JOIN points p USING (icd) GROUP BY o.person_id""")
    conn.execute(f"""
        CREATE TABLE hiu_cohort AS
        WITH f AS (
            SELECT *, gp_appointments_12m >= 20 AS hiu_gp, ed_attendances_12m >= 5 AS hiu_ed,
                   emergency_admissions_12m >= 3 AS hiu_admissions FROM counts)
        SELECT f.person_id, neighbourhood_code, pcn_code, practice_code, age, sex,
               gp_appointments_12m, ed_attendances_12m, emergency_admissions_12m, hiu_gp, hiu_ed, hiu_admissions,
               hiu_gp::INT + hiu_ed::INT + hiu_admissions::INT AS high_intensity_services,
               hiu_gp::INT + hiu_ed::INT + hiu_admissions::INT >= 2 AS himsu, social_care_involved,
               efi_score, efi_category, hfrs_score, hfrs_band,
               concat_ws(', ', CASE WHEN hiu_gp THEN 'GP ' || gp_appointments_12m || ' (20+)' END,
                               CASE WHEN hiu_ed THEN 'ED ' || ed_attendances_12m || ' (5+)' END,
                               CASE WHEN hiu_admissions THEN 'emergency admissions ' || emergency_admissions_12m || ' (3+)' END)
                 AS reason,
               neighbourhood_name, pcn_name, practice_name, imd_decile, {a} AS as_of_date
        FROM f LEFT JOIN efi USING (person_id) LEFT JOIN hfrs USING (person_id)
        WHERE hiu_gp OR hiu_ed OR hiu_admissions""")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for kind in ("parquet", "csv"):
        conn.execute(f"COPY hiu_cohort TO '{out / kind}' (FORMAT {kind}, PARTITION_BY (neighbourhood_code))")
    people = conn.execute("SELECT count(*) FROM hiu_cohort").fetchone()[0]
    conn.close()
    shutil.rmtree(out.with_name(out.name + ".tmp"), ignore_errors=True)
    return {"seconds_inside": round(time.perf_counter() - started, 1), "as_of": str(as_of), "hiu_people": people}


def same_cohort(floor_out: Path, pipeline_out: Path) -> dict:
    """Whether the pipeline's published HIU cohort holds the floor's people with the same counts,
    flags and scores (rows in one and not the other, on every compared column)."""
    columns = ("person_id, neighbourhood_code, pcn_code, practice_code, age, sex, imd_decile, gp_appointments_12m, "
               "ed_attendances_12m, emergency_admissions_12m, hiu_gp, hiu_ed, hiu_admissions, high_intensity_services, "
               "himsu, social_care_involved, round(efi_score, 9) AS efi, efi_category, hfrs_score, hfrs_band, reason, "
               "CAST(as_of_date AS DATE) AS as_of_date")
    conn = duckdb.connect()
    ours = f"SELECT {columns} FROM read_parquet('{floor_out}/parquet/*/*.parquet', hive_partitioning = true, hive_types_autocast = false)"
    theirs = f"SELECT {columns} FROM read_parquet('{pipeline_out}/neighbourhoods/*/hiu_cohort.parquet')"
    only_floor = conn.execute(f"SELECT count(*) FROM ({ours} EXCEPT ALL {theirs})").fetchone()[0]
    only_pipeline = conn.execute(f"SELECT count(*) FROM ({theirs} EXCEPT ALL {ours})").fetchone()[0]
    rows = conn.execute(f"SELECT count(*) FROM ({theirs})").fetchone()[0]
    return {"pipeline_rows": rows, "only_in_floor": only_floor, "only_in_pipeline": only_pipeline,
            "equal": only_floor == 0 and only_pipeline == 0 and rows > 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("drop", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--memory-limit", default="3GB")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(run(args.drop, args.out, args.memory_limit, args.threads)))


if __name__ == "__main__":
    main()
