"""Sensors that tell people how the unattended runs went: a failed run leaves a plain notice in
the output folder's `status/` (`pipeline.status`), and the next run that succeeds removes it.

They run in the Dagster daemon (`make ui` starts it), for runs launched by the schedule, a sensor
or the UI. `hiu run` writes and clears the same notice itself. The output folder is the run's own
`hiu/output` tag where it has one, else this code location's setting.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from pipeline.run_messages import failures_and_warnings
from pipeline.settings import HiuSettings
from pipeline.status import FailureNotice, clear_failure_notice, write_failure_notice


def _output_of(run: dg.DagsterRun) -> Path:
    tagged = run.tags.get("hiu/output")
    return Path(tagged) if tagged else HiuSettings.from_env().output_path.resolve()


def _launched_by(run: dg.DagsterRun) -> str:
    for tag, what in (("dagster/schedule_name", "the schedule"), ("dagster/sensor_name", "the sensor")):
        if tag in run.tags:
            return f"{what} {run.tags[tag]}"
    return "the Dagster UI or a command"


def notice_for(instance: dg.DagsterInstance, run: dg.DagsterRun, failed_at: dt.datetime) -> FailureNotice:
    """The notice for a failed run, from its events in the instance."""
    events = [entry.dagster_event for entry in instance.all_logs(run.run_id) if entry.dagster_event is not None]
    failures, warnings = failures_and_warnings(events)
    return FailureNotice(
        run_id=run.run_id, failed_at=failed_at, failures=failures, warnings=warnings,
        extracts=run.tags.get("hiu/extracts"), as_of=run.tags.get("hiu/as_of"), launched_by=_launched_by(run),
    )


@dg.run_failure_sensor(
    name="failure_notice",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a failed run: a plain notice (what failed, when, where to look) in the output folder's status/.",
)
def failure_notice(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    record = context.instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record is not None and record.end_time else None
    failed_at = dt.datetime.fromtimestamp(ended, dt.timezone.utc) if ended else dt.datetime.now(dt.timezone.utc)
    path = write_failure_notice(_output_of(run), notice_for(context.instance, run, failed_at))
    context.log.info(f"failure notice written: {path}")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="failure_notice_cleared",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a run that succeeded: the failure notice in status/, if any, is removed.",
)
def failure_notice_cleared(context: dg.RunStatusSensorContext) -> None:
    if clear_failure_notice(_output_of(context.dagster_run)):
        context.log.info("failure notice removed: the run succeeded")


SENSORS = [failure_notice, failure_notice_cleared]
