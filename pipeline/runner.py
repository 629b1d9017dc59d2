"""Materialise the whole asset graph in this process: what `hiu run` and the end-to-end tests do."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import dagster as dg

from pathlib import Path

from pipeline.definitions import build_definitions
from pipeline.locks import RunInProgress, exclusive
from pipeline.publish import roll_back
from pipeline.settings import HiuSettings


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.success and not self.failures


def _failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            cause = error
            while cause.cause is not None:  # Dagster wraps user errors; the root names the file or rule
                cause = cause.cause
            messages.append(f"{event.step_key}: {cause.message.strip()}")
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            details = "; ".join(f"{k}: {getattr(v, 'value', v)}" for k, v in evaluation.metadata.items())
            messages.append(f"check {evaluation.asset_key.to_user_string()}.{evaluation.check_name} failed ({details})")
    return messages


def materialize_all(settings: HiuSettings, log_level: str = "CRITICAL") -> RunOutcome:
    """Every asset and check of the definitions, in-process. Uses the instance at DAGSTER_HOME when
    set (so the run shows in the UI's history), else a throwaway one."""
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    try:
        with exclusive(Path(f"{settings.warehouse}.lock"), settings.output_path / ".lock"):
            roll_back(settings.output_path.resolve())  # a publish killed half way is undone first
            with instance:
                result = job.execute_in_process(
                    instance=instance,
                    raise_on_error=False,
                    run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
                )
                return RunOutcome(result.run_id, result.success, _failure_messages(result))
    except RunInProgress as error:
        return RunOutcome("not started", False, [str(error)])
