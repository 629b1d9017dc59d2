"""Frailty: the eFI and HFRS code lists, each person's scores, and the frailty cohort."""

import dagster as dg

from assets.extracts import extract_supplied
from assets.factory import PERIOD_TABLE, Step, warehouse_asset
from assets.metadata import counts_markdown
from assets.model_checks import matches_model
from cohorts.frailty import build_efi, build_frailty_cohort, build_hfrs, load_reference_lists
from pipeline.reference_data import EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS
from schemas.outputs import FrailtyCohort


def _distribution(conn, table: str, column: str, key: str) -> dg.MetadataValue:
    counts = {str(k): v for k, v in conn.execute(f"SELECT {column}, count(*) FROM {table} GROUP BY 1 ORDER BY 1").fetchall()}
    return dg.MetadataValue.md(counts_markdown(counts, key, "people"))


@warehouse_asset(
    group="frailty",
    table=False,
    kinds=("duckdb", "csv"),
    description=(
        "The versioned reference lists (data/reference): eFI deficits 1-25 and 27-36 as SNOMED CT codes "
        "(`ref_efi_codes`, deficit 26 polypharmacy computed) and HFRS points per three-character ICD-10 "
        "code in whole tenths (`ref_hfrs_points`)."
    ),
)
def frailty_reference_lists(step: Step) -> dict:
    load_reference_lists(step.conn, EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS)
    efi = step.conn.execute(
        "SELECT count(*) FILTER (WHERE snomed_code IS NOT NULL), count(DISTINCT deficit_number) FROM ref_efi_codes"
    ).fetchall()[0]
    hfrs = step.conn.execute("SELECT count(*), sum(tenths) / 10.0 FROM ref_hfrs_points").fetchall()[0]
    return {
        "efi_code_rows": efi[0],
        "efi_deficits": efi[1],
        "hfrs_codes": hfrs[0],
        "hfrs_points_total": float(hfrs[1]),
        "efi_file": dg.MetadataValue.path(str(EFI_DEFICIT_CODES)),
        "hfrs_file": dg.MetadataValue.path(str(HFRS_ICD10_WEIGHTS)),
    }


@warehouse_asset(
    group="frailty",
    deps=["frailty_reference_lists", "person_register", PERIOD_TABLE, "stg_gp_coded_events", "stg_gp_medications"],
    description=(
        "Electronic frailty index for everyone 65 and over on the as-of date (`efi_scores`), and which of "
        "the 36 deficits each has (`efi_deficits`): coded deficits ever recorded to the as-of date, plus "
        "polypharmacy (5+ substances, BNF chapters 01-15, in the 12 months). Null without GP coded events "
        "and medicines."
    ),
)
def efi_scores(step: Step) -> dict:
    supplied = extract_supplied(step.conn, "gp_coded_events") and extract_supplied(step.conn, "gp_medications")
    if not supplied:
        step.log.warning("eFI not scored: gp_coded_events or gp_medications not supplied")
    build_efi(step.conn, step.period, supplied)
    return {"scored": supplied, "efi_category": _distribution(step.conn, "efi_scores", "coalesce(efi_category, 'not scored')", "category")}


@warehouse_asset(
    group="frailty",
    deps=["frailty_reference_lists", "person_register", PERIOD_TABLE, "stg_admissions", "stg_admission_diagnoses"],
    description=(
        "Hospital Frailty Risk Score for everyone 75 and over (`hfrs_scores`): points of each distinct "
        "three-character ICD-10 code in any admission of the 2 years to the as-of date, summed in whole "
        "tenths; bands low (<5), intermediate (5-15), high (>15). Null without admission diagnoses."
    ),
)
def hfrs_scores(step: Step) -> dict:
    supplied = extract_supplied(step.conn, "admission_diagnoses")
    if not supplied:
        step.log.warning("HFRS not scored: admission_diagnoses not supplied")
    build_hfrs(step.conn, step.period, supplied)
    return {"scored": supplied, "hfrs_band": _distribution(step.conn, "hfrs_scores", "coalesce(hfrs_band, 'not scored')", "band")}


@warehouse_asset(
    group="frailty",
    model=FrailtyCohort,
    deps=["efi_scores", "hfrs_scores", "person_intensity"],
    description=(
        "People with moderate or severe frailty (eFI) or housebound (deficit 16), with their deficits in "
        "words, HFRS, 12-month activity and high intensity flags, in the columns of `schemas.outputs.FrailtyCohort`."
    ),
)
def frailty_cohort(step: Step) -> dict:
    build_frailty_cohort(step.conn, as_of=step.period.as_of)
    return {"efi_category": _distribution(step.conn, "frailty_cohort", "efi_category", "category")}


frailty_cohort_matches_schema = matches_model(frailty_cohort, "frailty_cohort", FrailtyCohort)
