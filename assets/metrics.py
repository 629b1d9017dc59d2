"""Metrics: service concentration per neighbourhood and for the whole area."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.metadata import markdown_table, table_metadata
from metrics.service_concentration import ALL, build_service_concentration
from pipeline.resources import WAREHOUSE_POOL
from metrics.frailty_summary import build_frailty_summary
from schemas.outputs import FrailtySummary, ServiceConcentration


@dg.asset(
    group_name="metrics",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["person_intensity", "stg_practices"],
    description=(
        "Per neighbourhood (and ALL) and service: population, high intensity users and their share of "
        "activity, HIMSU and their activity, means per person."
    ),
)
def service_concentration(warehouse: DuckDBResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        build_service_concentration(conn)
        metadata = table_metadata(conn, "service_concentration", model=ServiceConcentration)
        headline = conn.sql(
            f"""SELECT service, population, hiu_people, round(hiu_people_pct, 2) AS hiu_people_pct,
                       round(activity_hiu_pct, 1) AS activity_hiu_pct, himsu_people,
                       round(mean_per_person_all, 3) AS mean_all, round(mean_per_person_himsu, 1) AS mean_himsu
                FROM service_concentration WHERE neighbourhood_code = '{ALL}'"""
        ).pl()
    return dg.MaterializeResult(metadata={**metadata, "whole_area": dg.MetadataValue.md(markdown_table(headline))})


@dg.asset(
    group_name="metrics",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["person_intensity", "efi_scores"],
    description=(
        "People 65 and over by neighbourhood (and ALL), age band and eFI category, with their share of "
        "the age band, high intensity users and 12-month activity."
    ),
)
def frailty_summary(warehouse: DuckDBResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        build_frailty_summary(conn)
        metadata = table_metadata(conn, "frailty_summary", model=FrailtySummary)
        whole = conn.sql(
            "SELECT age_band, efi_category, people, people_pct_of_age_band FROM frailty_summary WHERE neighbourhood_code = 'ALL'"
        ).pl()
    return dg.MaterializeResult(metadata={**metadata, "whole_area": dg.MetadataValue.md(markdown_table(whole))})


@dg.asset_check(
    asset=service_concentration,
    blocking=True,
    description="The neighbourhood rows add up to the ALL row for population, HIU people and activity.",
)
def neighbourhoods_add_up_to_all(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    with warehouse.get_connection() as conn:
        mismatches = conn.execute(
            f"""
            SELECT service FROM service_concentration
            GROUP BY service
            HAVING sum(population) FILTER (WHERE neighbourhood_code <> '{ALL}') <> any_value(population) FILTER (WHERE neighbourhood_code = '{ALL}')
                OR sum(hiu_people) FILTER (WHERE neighbourhood_code <> '{ALL}') <> any_value(hiu_people) FILTER (WHERE neighbourhood_code = '{ALL}')
                OR sum(activity_total) FILTER (WHERE neighbourhood_code <> '{ALL}') <> any_value(activity_total) FILTER (WHERE neighbourhood_code = '{ALL}')
            """
        ).fetchall()
    return dg.AssetCheckResult(passed=not mismatches, metadata={"services_not_adding_up": str([m[0] for m in mismatches])})
