"""Frailty: the eFI and HFRS code lists, each person's scores, and the frailty cohort."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.extracts import extract_supplied
from assets.model_checks import matches_model
from assets.metadata import counts_markdown, table_metadata
from assets.staging import PERIOD_TABLE, read_period
from cohorts.frailty import build_efi, build_frailty_cohort, build_hfrs, load_reference_lists
from pipeline.reference_data import EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS
from pipeline.resources import WAREHOUSE_POOL
from schemas.outputs import FrailtyCohort


def _distribution(conn, table: str, column: str) -> dict[str, int]:
    return {str(k): v for k, v in conn.execute(f"SELECT {column}, count(*) FROM {table} GROUP BY 1 ORDER BY 1").fetchall()}


@dg.asset(
    group_name="frailty",
    kinds={"duckdb", "csv"},
    pool=WAREHOUSE_POOL,
    description=(
        "The versioned reference lists (data/reference): eFI deficits 1-25 and 27-36 as SNOMED CT codes "
        "(`ref_efi_codes`, deficit 26 polypharmacy computed) and HFRS points per three-character ICD-10 "
        "code in whole tenths (`ref_hfrs_points`)."
    ),
)
def frailty_reference_lists(warehouse: DuckDBResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        load_reference_lists(conn, EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS)
        efi = conn.execute("SELECT count(*) FILTER (WHERE snomed_code IS NOT NULL), count(DISTINCT deficit_number) FROM ref_efi_codes").fetchall()[0]
        hfrs = conn.execute("SELECT count(*), sum(tenths) / 10.0 FROM ref_hfrs_points").fetchall()[0]
    return dg.MaterializeResult(
        metadata={
            "efi_code_rows": efi[0],
            "efi_deficits": efi[1],
            "hfrs_codes": hfrs[0],
            "hfrs_points_total": float(hfrs[1]),
            "efi_file": dg.MetadataValue.path(str(EFI_DEFICIT_CODES)),
            "hfrs_file": dg.MetadataValue.path(str(HFRS_ICD10_WEIGHTS)),
        }
    )


@dg.asset(
    group_name="frailty",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["frailty_reference_lists", "person_register", PERIOD_TABLE, "stg_gp_coded_events", "stg_gp_medications"],
    description=(
        "Electronic frailty index for everyone 65 and over on the as-of date (`efi_scores`), and which of "
        "the 36 deficits each has (`efi_deficits`): coded deficits ever recorded to the as-of date, plus "
        "polypharmacy (5+ substances, BNF chapters 01-15, in the 12 months). Null without GP coded events "
        "and medicines."
    ),
)
def efi_scores(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        period, _ = read_period(conn)
        supplied = extract_supplied(conn, "gp_coded_events") and extract_supplied(conn, "gp_medications")
        if not supplied:
            context.log.warning("eFI not scored: gp_coded_events or gp_medications not supplied")
        build_efi(conn, period, supplied)
        metadata = table_metadata(conn, "efi_scores")
        categories = _distribution(conn, "efi_scores", "coalesce(efi_category, 'not scored')")
    return dg.MaterializeResult(
        metadata={**metadata, "scored": supplied, "efi_category": dg.MetadataValue.md(counts_markdown(categories, "category", "people"))}
    )


@dg.asset(
    group_name="frailty",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["frailty_reference_lists", "person_register", PERIOD_TABLE, "stg_admissions", "stg_admission_diagnoses"],
    description=(
        "Hospital Frailty Risk Score for everyone 75 and over (`hfrs_scores`): points of each distinct "
        "three-character ICD-10 code in any admission of the 2 years to the as-of date, summed in whole "
        "tenths; bands low (<5), intermediate (5-15), high (>15). Null without admission diagnoses."
    ),
)
def hfrs_scores(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        period, _ = read_period(conn)
        supplied = extract_supplied(conn, "admission_diagnoses")
        if not supplied:
            context.log.warning("HFRS not scored: admission_diagnoses not supplied")
        build_hfrs(conn, period, supplied)
        metadata = table_metadata(conn, "hfrs_scores")
        bands = _distribution(conn, "hfrs_scores", "coalesce(hfrs_band, 'not scored')")
    return dg.MaterializeResult(
        metadata={**metadata, "scored": supplied, "hfrs_band": dg.MetadataValue.md(counts_markdown(bands, "band", "people"))}
    )


@dg.asset(
    group_name="frailty",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["efi_scores", "hfrs_scores", "person_intensity"],
    description=(
        "People with moderate or severe frailty (eFI) or housebound (deficit 16), with their deficits in "
        "words, HFRS, 12-month activity and high intensity flags, in the columns of `schemas.outputs.FrailtyCohort`."
    ),
)
def frailty_cohort(warehouse: DuckDBResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        build_frailty_cohort(conn)
        metadata = table_metadata(conn, "frailty_cohort", model=FrailtyCohort)
        categories = _distribution(conn, "frailty_cohort", "efi_category")
    return dg.MaterializeResult(metadata={**metadata, "efi_category": dg.MetadataValue.md(counts_markdown(categories, "category", "people"))})


frailty_cohort_matches_schema = matches_model(frailty_cohort, "frailty_cohort", FrailtyCohort)
