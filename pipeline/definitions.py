"""The Dagster definitions: what `dagster dev -m pipeline.definitions` shows and `hiu run` executes.

Settings are read from the HIU_* environment variables when the definitions are built.
"""

from __future__ import annotations

import dagster as dg

from assets.cohorts import hiu_cohort, hiu_cohort_matches_schema, person_intensity
from assets.exports import (
    metric_files,
    neighbourhood_cohort_files,
    neighbourhood_cohort_files_check,
    neighbourhood_frailty_files,
    neighbourhood_frailty_files_check,
    published_outputs,
    quarantine_files,
)
from assets.frailty import efi_scores, frailty_cohort, frailty_cohort_matches_schema, frailty_reference_lists, hfrs_scores
from assets.extracts import raw_assets
from assets.metrics import frailty_summary, neighbourhoods_add_up_to_all, service_concentration
from assets.people import person_activity_12m, person_register
from assets.staging import quarantine_summary, reporting_period, staging_assets, staging_checks
from pipeline.resources import warehouse_resource
from pipeline.settings import HiuSettings

ALL_ASSETS = [
    *raw_assets,
    reporting_period,
    *staging_assets,
    quarantine_summary,
    person_register,
    person_activity_12m,
    person_intensity,
    frailty_reference_lists,
    efi_scores,
    hfrs_scores,
    frailty_cohort,
    hiu_cohort,
    service_concentration,
    frailty_summary,
    neighbourhood_cohort_files,
    neighbourhood_frailty_files,
    metric_files,
    quarantine_files,
    published_outputs,
]
ALL_CHECKS = [
    *staging_checks,
    hiu_cohort_matches_schema,
    frailty_cohort_matches_schema,
    neighbourhoods_add_up_to_all,
    neighbourhood_cohort_files_check,
    neighbourhood_frailty_files_check,
]

nightly_refresh = dg.ScheduleDefinition(
    name="nightly_refresh",
    target=dg.AssetSelection.all(),
    cron_schedule="0 2 * * *",
    execution_timezone="Europe/London",
    description="Rebuild every asset from the latest extract drop at 02:00.",
)


def build_definitions(settings: HiuSettings | None = None) -> dg.Definitions:
    settings = settings or HiuSettings.from_env()
    return dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=ALL_CHECKS,
        schedules=[nightly_refresh],
        resources={"settings": settings, "warehouse": warehouse_resource(settings.warehouse)},
        # One process per run: DuckDB allows one writer, and steps share the warehouse file.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
