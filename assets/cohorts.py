"""Cohorts: high intensity use flags for everyone, and the HIU cohort itself."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.model_checks import matches_model
from assets.metadata import table_metadata
from assets.staging import read_period
from cohorts.hiu import Thresholds, build_hiu_cohort, build_person_intensity
from pipeline.resources import WAREHOUSE_POOL
from schemas.outputs import HiuCohort


@dg.asset(
    group_name="cohorts",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["person_activity_12m"],
    description=(
        "Every registered person with high intensity flags per service (thresholds from the reporting "
        "period), the number of services over threshold, HIMSU, and the reason in words."
    ),
)
def person_intensity(warehouse: DuckDBResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        _, period_row = read_period(conn)
        thresholds = Thresholds(
            period_row["gp_threshold"], period_row["ed_threshold"], period_row["admissions_threshold"]
        )
        build_person_intensity(conn, thresholds)
        metadata = table_metadata(conn, "person_intensity")
        by_services = conn.execute(
            "SELECT high_intensity_services, count(*) FROM person_intensity GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "thresholds": dg.MetadataValue.json(vars(thresholds)),
            "people_by_services_over_threshold": dg.MetadataValue.json({str(k): v for k, v in by_services}),
        }
    )


@dg.asset(
    group_name="cohorts",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["person_intensity", "efi_scores", "hfrs_scores"],
    description=(
        "The high intensity user cohort: one row per person in the population who is over the threshold "
        "of at least one service, with frailty scores, in the columns of `schemas.outputs.HiuCohort`."
    ),
)
def hiu_cohort(warehouse: DuckDBResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        build_hiu_cohort(conn, efi="efi_scores", hfrs="hfrs_scores")
        metadata = table_metadata(conn, "hiu_cohort", model=HiuCohort)
        hiu, himsu = conn.execute("SELECT count(*), count(*) FILTER (WHERE himsu) FROM hiu_cohort").fetchall()[0]
    return dg.MaterializeResult(metadata={**metadata, "hiu_people": hiu, "himsu_people": himsu})


hiu_cohort_matches_schema = matches_model(hiu_cohort, "hiu_cohort", HiuCohort)
