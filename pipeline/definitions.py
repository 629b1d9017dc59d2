"""The Dagster definitions: what `dagster dev -m pipeline.definitions` shows and `hiu run` executes.

Assets and checks are collected by loading their modules, so a new one cannot be left out; each
check runs inside its asset's step.
Settings are read from the HIU_* environment variables when the definitions are built.
"""

from __future__ import annotations

import dagster as dg

from assets import cohorts, coverage, exports, extracts, frailty, metrics, model_checks, people, programme, reports, risk, staging
from assets.coverage import run_tags
from assets.factory import checks_in_modules, with_checks
from pipeline.partitions import partitions_in
from pipeline.resources import warehouse_resource
from pipeline.sensors import ICB_PARTITIONS, PARTITIONED_SENSORS, SENSORS
from pipeline.settings import HiuSettings

ASSET_MODULES = [extracts, staging, coverage, people, cohorts, frailty, risk, metrics, programme, exports, reports, model_checks]

def nightly_refresh(settings: HiuSettings) -> dg.ScheduleDefinition:
    """Every asset rebuilt from the extracts folder at 02:00 London time, on by default: the exports'
    freshness policy expects it, and the runs carry the folders they read and wrote as tags."""
    return dg.ScheduleDefinition(
        name="nightly_refresh",
        target=dg.AssetSelection.all(),
        cron_schedule="0 2 * * *",
        execution_timezone="Europe/London",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        tags=run_tags(settings, settings.as_of or "from the feeds"),
        description="Rebuild every asset from the latest extract drop at 02:00.",
    )


@dg.schedule(
    name="nightly_refresh",
    target=dg.AssetSelection.all(),
    cron_schedule="0 2 * * *",
    execution_timezone="Europe/London",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Rebuild every asset of every ICB from its latest drop at 02:00: one run per ICB, queued.",
)
def nightly_refresh_by_icb(context: dg.ScheduleEvaluationContext):
    settings = HiuSettings.from_env()
    # An ICB whose drop is no longer there (a partition is never removed by itself) is not run.
    there = set(partitions_in(settings.extracts_path))  # the folder is read once, not once per ICB
    keys = [key for key in context.instance.get_dynamic_partitions(ICB_PARTITIONS.name) if key in there]
    if not keys:
        return dg.SkipReason(f"no ICB drop in {settings.extracts_path} yet (the icb_extracts sensor adds them)")
    return [dg.RunRequest(partition_key=key, tags=run_tags(settings.for_partition(key), settings.as_of or "from the feeds"))
            for key in keys]


def build_definitions(settings: HiuSettings | None = None) -> dg.Definitions:
    settings = settings or HiuSettings.from_env()
    partitioned = settings.partition_by == "icb"
    return dg.Definitions(
        # Each asset evaluates its checks in its own step (`assets.factory.WarehouseCheck`).
        assets=with_checks(dg.load_assets_from_modules(ASSET_MODULES), checks_in_modules(ASSET_MODULES),
                           ICB_PARTITIONS if partitioned else None),
        schedules=[nightly_refresh_by_icb if partitioned else nightly_refresh(settings)],
        sensors=PARTITIONED_SENSORS if partitioned else SENSORS,
        resources={"settings": settings, "warehouse": warehouse_resource(settings.warehouse, settings.output_dir, partitioned)},
        # One process per run: DuckDB allows one writer, and steps share the warehouse file.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
