"""Sensors: one that launches a run when a new or changed drop has settled in the extracts folder,
and two that tell people how the unattended runs went (a failed run leaves a plain notice in the
output folder's `status/`, `pipeline.status`, and the next run that succeeds removes it).

They run in the Dagster daemon (`make ui` starts it), for runs launched by the schedule, a sensor
or the UI. `hiu run` writes and clears the same notice itself. The output folder is the run's own
`hiu/output` tag where it has one, else this code location's setting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import dagster as dg

from assets.coverage import run_tags
from pipeline.extract_files import ExtractFileError, find_extract_files
from pipeline.partitions import partitions_in
from pipeline.resources import PARTITION_TAG
from pipeline.run_messages import failures_and_warnings
from schemas.extracts import EXTRACTS
from pipeline.settings import HiuSettings
from pipeline.status import FailureNotice, clear_failure_notice, last_published, write_failure_notice


def _output_of(run: dg.DagsterRun) -> Path:
    tagged = run.tags.get("hiu/output")
    if tagged:
        return Path(tagged)
    settings, key = HiuSettings.from_env(), run.tags.get(PARTITION_TAG)
    if key and settings.partition_by and key in partitions_in(settings.extracts_path):
        settings = settings.for_partition(key)
    return settings.output_path.resolve()


def _launched_by(run: dg.DagsterRun) -> str:
    for tag, what in (("dagster/schedule_name", "the schedule"), ("dagster/sensor_name", "the sensor")):
        if tag in run.tags:
            return f"{what} {run.tags[tag]}"
    return "the Dagster UI or a command"


def notice_for(instance: dg.DagsterInstance, run: dg.DagsterRun, failed_at: dt.datetime,
               run_failure: str | None = None) -> FailureNotice:
    """The notice for a failed run, from its events in the instance (`run_failure`: what the run's
    own failure event says, for a run that died without a failed step, e.g. its process killed)."""
    events = [entry.dagster_event for entry in instance.all_logs(run.run_id) if entry.dagster_event is not None]
    failures, warnings = failures_and_warnings(events, own_words_only=True)
    if not failures and run_failure:
        failures = [run_failure]
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
    said = getattr(context.failure_event, "message", None)
    path = write_failure_notice(_output_of(run), notice_for(context.instance, run, failed_at, said))
    context.log.info(f"failure notice written: {path}")


def published_by(output: Path, run_id: str) -> bool:
    """Whether the output folder's files are this run's: its manifest names it (a UI run of a few
    assets succeeds without publishing, and the files, and what failed, are as they were)."""
    said = last_published(output)
    return said is not None and said.get("run_id") == run_id


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="failure_notice_cleared",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a run that succeeded and published the files: the failure notice in status/, if any, is removed.",
)
def failure_notice_cleared(context: dg.RunStatusSensorContext) -> None:
    output = _output_of(context.dagster_run)
    if published_by(output, context.dagster_run.run_id) and clear_failure_notice(output):
        context.log.info("failure notice removed: the run succeeded and published")


# A drop counts as settled when no file has changed for this long: a supplier copying a 2 GB
# extract over the network is not picked up half-way.
SETTLE_SECONDS = 120
# Names of files still being written by common copy tools.
IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".filepart", "~")


def now() -> float:
    return time.time()  # a function, so tests can move the clock


def drop_state(folder: Path) -> dict[str, list[int]]:
    """Every visible file under the extracts folder: relative path -> [size, modified ns]. Hidden
    files (.DS_Store, a supplier's .done marker) are not data and do not count."""
    if not folder.is_dir():
        return {}
    state = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        stat = path.stat()
        state[str(relative)] = [stat.st_size, stat.st_mtime_ns]
    return state


def _digest(state: dict) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


@dg.sensor(
    name="new_extracts",
    target=dg.AssetSelection.all(),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        f"Launches one run of the whole graph when the files in the extracts folder are new or changed and have "
        f"then stayed as they are for {SETTLE_SECONDS} s (a drop being copied is not read half-way). The drop as it "
        "is when the sensor is first switched on counts as already run."
    ),
)
def new_extracts(context: dg.SensorEvaluationContext):
    settings = HiuSettings.from_env()
    cursor = json.loads(context.cursor) if context.cursor else None
    cursor, waiting = settled_drop(settings.extracts_path, cursor, now())
    context.update_cursor(json.dumps(cursor))
    if waiting:
        return dg.SkipReason(waiting)
    # The key is this launch's own: a drop that comes back as it was after another still runs.
    return dg.RunRequest(run_key=f"drop-{cursor['ran']}-{cursor['launches']}", tags=run_tags(settings, settings.as_of or "from the feeds"))


def settled_drop(folder: Path, cursor: dict | None, clock: float) -> tuple[dict, str | None]:
    """Whether the drop in `folder` is new, and settled, since `cursor` (this folder's part of the
    sensor's cursor): the cursor to keep, and why not to launch (None: launch a run now)."""
    state = drop_state(folder)
    if not state:  # a share not mounted, or a supplier clearing the old drop first: nothing to run
        return cursor or {}, f"the extracts folder {folder} is missing or empty: waiting"
    digest = _digest(state)
    if not cursor:
        return {"ran": digest, "launches": 0}, f"watching {folder}; the drop there now counts as already run"
    if digest == cursor.get("ran"):
        return cursor, "no new or changed extract since the last run"
    in_progress = [name for name in state if name.lower().endswith(IN_PROGRESS_SUFFIXES)]
    if in_progress or digest != cursor.get("seen"):
        what = f"{len(in_progress)} file(s) still being copied" if in_progress else "the drop changed"
        return {**cursor, "seen": digest, "since": clock}, f"{what}: waiting until nothing changes for {SETTLE_SECONDS} s"
    if clock - cursor.get("since", clock) < SETTLE_SECONDS:
        return cursor, f"the drop changed {clock - cursor['since']:.0f} s ago: waiting until {SETTLE_SECONDS} s"
    missing = missing_required(folder)
    if missing:  # a drop copied file by file, with gaps: not yet whole
        return cursor, f"waiting for the required extract(s) {', '.join(missing)}"
    return {"ran": digest, "launches": cursor.get("launches", 0) + 1}, None


# Partitioned by integrated care board (HIU_PARTITION_BY=icb): each ICB drop in the extracts folder
# (`hiu split` writes them) is a partition, added when it first appears.
ICB_PARTITIONS = dg.DynamicPartitionsDefinition(name="icb")


@dg.sensor(
    name="icb_extracts",
    target=dg.AssetSelection.all(),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Partitioned by ICB: adds a partition for each ICB drop (a folder) in the extracts folder, and launches one "
        f"run for an ICB whose drop is new or changed and has then stayed as it is for {SETTLE_SECONDS} s. Each run "
        "waits in the queue for its place."
    ),
)
def icb_extracts(context: dg.SensorEvaluationContext):
    settings = HiuSettings.from_env()
    keys = partitions_in(settings.extracts_path)
    known = set(context.instance.get_dynamic_partitions(ICB_PARTITIONS.name))
    cursors = json.loads(context.cursor) if context.cursor else {}
    requests, waiting, clock = [], {}, now()
    for key in keys:
        # An ICB seen for the first time runs once its drop has settled; a known one when it changes.
        first = {"ran": None, "launches": 0} if key not in known and key not in cursors else cursors.get(key)
        cursors[key], waiting[key] = settled_drop(settings.extracts_path / key, first, clock)
        if waiting[key] is None:
            requests.append(dg.RunRequest(
                run_key=f"{key}-{cursors[key]['ran']}-{cursors[key]['launches']}", partition_key=key,
                tags=run_tags(settings.for_partition(key), settings.as_of or "from the feeds"),
            ))
    context.update_cursor(json.dumps(cursors))
    new = sorted(set(keys) - known)
    if not requests and not new:
        said = "; ".join(f"{key}: {why}" for key, why in waiting.items() if why) or f"no ICB drop in {settings.extracts_path}"
        return dg.SkipReason(said)
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[ICB_PARTITIONS.build_add_request(new)] if new else [],
    )


def missing_required(folder: Path) -> list[str]:
    """Required extracts with no file in the folder yet (an ambiguous one counts as there: the run
    says what is wrong with it)."""
    missing = []
    for name, extract in EXTRACTS.items():
        try:
            if extract.required and find_extract_files(folder, name) is None:
                missing.append(name)
        except ExtractFileError:
            pass
    return missing


SENSORS = [new_extracts, failure_notice, failure_notice_cleared]
PARTITIONED_SENSORS = [icb_extracts, failure_notice, failure_notice_cleared]
