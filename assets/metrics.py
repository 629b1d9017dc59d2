"""Metrics: service concentration and frailty per neighbourhood and for the whole area."""

import dagster as dg

from assets.factory import Step, failed, warehouse_asset, warehouse_check
from assets.metadata import markdown_table
from metrics.frailty_summary import build_frailty_summary
from metrics.service_concentration import ALL, build_service_concentration
from schemas.outputs import FrailtySummary, ServiceConcentration


@warehouse_asset(
    group="metrics",
    model=ServiceConcentration,
    preview=True,
    deps=["person_intensity", "stg_practices"],
    description=(
        "Per neighbourhood (and ALL) and service: population, high intensity users and their share of "
        "activity, HIMSU and their activity, means per person."
    ),
)
def service_concentration(step: Step) -> dict:
    build_service_concentration(step.conn)
    headline = step.conn.sql(
        f"""SELECT service, population, hiu_people, round(hiu_people_pct, 2) AS hiu_people_pct,
                   round(activity_hiu_pct, 1) AS activity_hiu_pct, himsu_people,
                   round(mean_per_person_all, 3) AS mean_all, round(mean_per_person_himsu, 1) AS mean_himsu
            FROM service_concentration WHERE neighbourhood_code = '{ALL}'"""
    ).pl()
    return {"whole_area": dg.MetadataValue.md(markdown_table(headline))}


@warehouse_asset(
    group="metrics",
    model=FrailtySummary,
    preview=True,
    deps=["person_intensity", "efi_scores"],
    description=(
        "People 65 and over by neighbourhood (and ALL), age band and eFI category, with their share of "
        "the age band, high intensity users and 12-month activity."
    ),
)
def frailty_summary(step: Step) -> dict:
    build_frailty_summary(step.conn)
    whole = step.conn.sql(
        "SELECT age_band, efi_category, people, people_pct_of_age_band FROM frailty_summary WHERE neighbourhood_code = 'ALL'"
    ).pl()
    return {"whole_area": dg.MetadataValue.md(markdown_table(whole))}


@warehouse_check(
    service_concentration,
    name="neighbourhoods_add_up_to_all",
    description=(
        "The neighbourhood rows add up to the ALL row for population, HIU people and activity, and the ALL "
        "population is the person register's: the totals agree with the people they count."
    ),
)
def neighbourhoods_add_up_to_all(step: Step) -> dg.AssetCheckResult:
    mismatches = step.conn.execute(
        f"""
        SELECT service FROM service_concentration
        GROUP BY service
        HAVING sum(population) FILTER (WHERE neighbourhood_code <> '{ALL}') <> any_value(population) FILTER (WHERE neighbourhood_code = '{ALL}')
            OR sum(hiu_people) FILTER (WHERE neighbourhood_code <> '{ALL}') <> any_value(hiu_people) FILTER (WHERE neighbourhood_code = '{ALL}')
            OR sum(activity_total) FILTER (WHERE neighbourhood_code <> '{ALL}') <> any_value(activity_total) FILTER (WHERE neighbourhood_code = '{ALL}')
            OR any_value(population) FILTER (WHERE neighbourhood_code = '{ALL}') <> (SELECT count(*) FROM person_register)
        """
    ).fetchall()
    if mismatches:
        return failed(f"service_concentration: neighbourhoods do not add up to ALL for {', '.join(m[0] for m in mismatches)}")
    return dg.AssetCheckResult(passed=True)
