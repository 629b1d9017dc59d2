"""Materialise the whole asset graph in this process: what `hiu run` and the end-to-end tests do.
The warehouse resource takes the run lock and keeps the warehouse as it was when the run fails."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import dagster as dg

from assets.coverage import run_tags
from pipeline.definitions import build_definitions
from pipeline.settings import HiuSettings


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.success and not self.failures


def _root_message(error) -> str:
    cause = error
    while cause.cause is not None:  # Dagster wraps user errors; the root names the file or rule
        cause = cause.cause
    message = cause.message.strip()
    # "pipeline.extract_files.ExtractFileError: <what is wrong>": the words are for people.
    return re.sub(rf"^([\w.]+\.)?{re.escape(cause.cls_name)}: ", "", message)


def _check_message(evaluation) -> str:
    message = evaluation.metadata.get("message")
    if message is not None:
        return str(getattr(message, "value", message))
    return "; ".join(f"{k}: {getattr(v, 'value', v)}" for k, v in evaluation.metadata.items())


def outcome_of(result: dg.ExecuteInProcessResult) -> RunOutcome:
    failures, warnings = [], []
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if error is not None and error.cls_name == "DagsterAssetCheckFailedError":
            continue  # the check's own evaluation, below, says what failed and why
        if event.event_type_value in ("STEP_FAILURE", "RESOURCE_INIT_FAILURE") and error:
            message = _root_message(event.event_specific_data.error)
            failures.append(f"{event.step_key}: {message}" if event.step_key else message)
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            continue
        text = f"check {evaluation.asset_key.to_user_string()}.{evaluation.check_name}: {_check_message(evaluation)}"
        (warnings if evaluation.severity == dg.AssetCheckSeverity.WARN else failures).append(text)
    return RunOutcome(result.run_id, result.success, failures, warnings)


def materialize_all(settings: HiuSettings, log_level: str = "CRITICAL") -> RunOutcome:
    """Every asset and check of the definitions, in-process. Uses the instance at DAGSTER_HOME when
    set (so the run shows in the UI's history), else a throwaway one."""
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    with instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags=run_tags(settings, settings.as_of or "from the feeds"),
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
        return outcome_of(result)
