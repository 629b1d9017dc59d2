"""The failure notice in the output folder's status/ (issue 11): written in plain words after a
failed run, by `hiu run` and by the run-failure sensor, and removed by the next run that succeeds."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg

from pipeline.extract_files import ExtractFileError
from pipeline.sensors import failure_notice, failure_notice_cleared
from pipeline.status import DETAILS, NOTICE, STATUS, FailureNotice, clear_failure_notice, write_failure_notice

FAILED_AT = dt.datetime(2026, 12, 2, 2, 7, tzinfo=dt.timezone.utc)


def test_the_notice_says_what_failed_when_and_that_the_files_are_the_last_good_runs(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"run_id": "good-1", "created": "2026-12-01T02:09:00+00:00",
                                                        "as_of": "2026-11-30"}))
    path = write_failure_notice(tmp_path, FailureNotice(
        run_id="bad-2", failed_at=FAILED_AT, failures=["stg_admissions: admissions.csv: column admission_date missing"],
        extracts="/data/drop", as_of="2026-12-01", launched_by="the schedule nightly_refresh"))
    words = path.read_text()
    assert path == tmp_path / STATUS / NOTICE
    assert "Run bad-2, launched by the schedule nightly_refresh, failed at 2026-12-02 02:07 UTC." in words
    assert "- stg_admissions: admissions.csv: column admission_date missing" in words
    assert "still those of the last run that succeeded (run good-1" in words
    assert "reading the extracts in /data/drop, as of 2026-12-01." in words
    details = json.loads((tmp_path / STATUS / DETAILS).read_text())
    assert details["run_id"] == "bad-2" and details["failed_at"] == "2026-12-02T02:07:00+00:00"
    assert sorted(p.name for p in (tmp_path / STATUS).iterdir()) == [DETAILS, NOTICE]  # nothing left half-written


def test_a_first_run_that_fails_says_there_are_no_lists_yet(tmp_path):
    words = write_failure_notice(tmp_path, FailureNotice(run_id="r", failed_at=FAILED_AT, failures=[])).read_text()
    assert "No run has succeeded here yet" in words and "stopped without saying why" in words


def test_success_removes_the_notice_and_its_folder(tmp_path):
    write_failure_notice(tmp_path, FailureNotice(run_id="r", failed_at=FAILED_AT, failures=["x"]))
    assert clear_failure_notice(tmp_path) is True
    assert not (tmp_path / STATUS).exists()
    assert clear_failure_notice(tmp_path) is False  # nothing to clear: fine


# --- the sensors, on real runs of a tiny job ---------------------------------------------------------


class Broken(Exception):
    pass


def job_that(fails: bool, error: Exception | None = None) -> dg.JobDefinition:
    @dg.op(name="stg_admissions")
    def step() -> None:
        if fails:
            raise error or Broken("admissions.csv: required column admission_date missing")

    @dg.job(name="failing" if fails else "succeeding")
    def job():
        step()

    return job


def run_and_sense(tmp_path, instance: dg.DagsterInstance, fails: bool, error: Exception | None = None,
                  publishes: bool = True):
    result = job_that(fails, error).execute_in_process(instance=instance, raise_on_error=False,
                                                       tags={"hiu/output": str(tmp_path), "hiu/extracts": "/data/drop"})
    if not fails and publishes:  # what published_outputs writes last
        (tmp_path / "manifest.json").write_text(json.dumps({"run_id": result.run_id, "created": "now", "as_of": "2025-01-15"}))
    event = result.get_run_failure_event() if fails else result.get_run_success_event()
    sensor = failure_notice if fails else failure_notice_cleared
    context = dg.build_run_status_sensor_context(sensor_name=sensor.name, dagster_event=event,
                                                 dagster_instance=instance, dagster_run=result.dagster_run)
    sensor(context.for_run_failure() if fails else context)
    return result


def test_the_failure_sensor_writes_the_notice_into_the_runs_output_folder_and_success_clears_it(tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        failed = run_and_sense(tmp_path, instance, fails=True)
        words = (tmp_path / STATUS / NOTICE).read_text()
        assert f"Run {failed.run_id}" in words
        assert "stg_admissions: admissions.csv: required column admission_date missing" not in words  # not its own error
        assert "stg_admissions: Broken (its message is in the run's log)" in words
        assert "reading the extracts in /data/drop, as of the last day every feed covers." in words
        run_and_sense(tmp_path, instance, fails=False)
        assert not (tmp_path / STATUS).exists()


def test_the_pipelines_own_errors_are_told_in_full_and_no_other_message_is_copied(tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        run_and_sense(tmp_path, instance, fails=True,
                      error=ExtractFileError("admissions.csv: required column(s) missing for extract admissions: admission_date"))
        assert "stg_admissions: admissions.csv: required column(s) missing" in (tmp_path / STATUS / NOTICE).read_text()
        run_and_sense(tmp_path, instance, fails=True, error=KeyError("person 4f9c2a7e1b"))  # a library's words may quote data
        words = (tmp_path / STATUS / NOTICE).read_text()
        assert "4f9c2a7e1b" not in words and "stg_admissions: KeyError (its message is in the run's log)" in words


def test_a_run_that_succeeds_without_publishing_leaves_the_notice(tmp_path):
    """A UI run of a few assets succeeds, but the files (and what was wrong with the last refresh)
    are as they were: the notice stays until a run publishes."""
    with dg.DagsterInstance.ephemeral() as instance:
        run_and_sense(tmp_path, instance, fails=True)
        run_and_sense(tmp_path, instance, fails=False, publishes=False)
        assert (tmp_path / STATUS / NOTICE).exists()
        run_and_sense(tmp_path, instance, fails=False)
        assert not (tmp_path / STATUS).exists()
