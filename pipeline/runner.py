"""Materialise the whole asset graph in this process: what `hiu run` and the end-to-end tests do.
The warehouse resource takes the run lock and keeps the warehouse as it was when the run fails."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import dagster as dg

from assets.coverage import run_tags
from pipeline.run_messages import failures_and_warnings
from pipeline.definitions import build_definitions
from pipeline.sensors import ICB_PARTITIONS
from pipeline.settings import HiuSettings


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # The failures as a file others read may tell them: the pipeline's own messages in full, any
    # other error by its kind only (`pipeline.run_messages.OWN_ERRORS`).
    told_failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.success and not self.failures


def outcome_of(result: dg.ExecuteInProcessResult) -> RunOutcome:
    failures, warnings = failures_and_warnings(result.all_events)
    told, _ = failures_and_warnings(result.all_events, own_words_only=True)
    return RunOutcome(result.run_id, result.success, failures, warnings, told)


def materialize_all(settings: HiuSettings, log_level: str = "CRITICAL", partition: str | None = None) -> RunOutcome:
    """Every asset and check of the definitions, in-process (for one ICB's `partition` when the
    settings partition by ICB). Uses the instance at DAGSTER_HOME when set (so the run shows in the
    UI's history), else a throwaway one."""
    if bool(partition) != bool(settings.partition_by):
        raise ValueError("HIU_PARTITION_BY=icb runs one ICB at a time (hiu run --partition ICB)" if settings.partition_by
                         else "a partition was given, but HIU_PARTITION_BY is not set")
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    with instance:
        if partition:
            instance.add_dynamic_partitions(ICB_PARTITIONS.name, [partition])  # already there: unchanged
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            partition_key=partition,
            tags=run_tags(settings.for_partition(partition) if partition else settings, settings.as_of or "from the feeds"),
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
        return outcome_of(result)
