"""Every blocking check can fail: each test breaks what one check guards (after the builder that
the check does not restate has run) and shows that the run fails naming that check, and that
nothing is published and the warehouse is not switched."""

import duckdb
import polars as pl
import pytest

import assets.cohorts
import assets.exports
import assets.frailty
import assets.metrics
import assets.programme
import assets.reports
import assets.risk
import assets.staging
from pipeline.runner import materialize_all
from tests.e2e.test_tiny_run import drop, settings_for


def after(module, name, sabotage):
    """Wrap `module.name` so that `sabotage(conn, *args)` runs after it."""
    original = getattr(module, name)

    def wrapped(conn, *args, **kwargs):
        result = original(conn, *args, **kwargs)
        sabotage(conn, *args, **kwargs)
        return result

    return wrapped


def staged_then(extract, sql):
    def sabotage(conn, spec, *args, **kwargs):
        if spec.name == extract:
            conn.execute(sql)

    return sabotage


def corrupt_files(stem, frame_for):
    def sabotage(frame, neighbourhoods, run_dir, cohort, about):
        if cohort.stem == stem:
            frame_for(frame).write_parquet(run_dir / "neighbourhoods" / next(iter(neighbourhoods)) / f"{stem}.parquet")

    return sabotage


def written_then(module, name, sabotage):
    original = getattr(module, name)

    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        sabotage(*args, **kwargs)
        return result

    return wrapped


RISING_RISK_ROW = (
    "INSERT INTO rising_risk_cohort VALUES ('{person}', 'north', NULL, 'P001', 50, 'F', {score}, 1, 'Age 50', 21, 0, 0, "
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, DATE '2025-03-31')"
)
SABOTAGE = {
    "stg_gp_appointments.rows_read_equal_accepted_plus_quarantined": (
        assets.staging, "stage_extract",
        staged_then("gp_appointments", "DELETE FROM quarantine_gp_appointments"),
    ),
    "stg_gp_appointments.matches_schema": (
        assets.staging, "stage_extract",
        staged_then("gp_appointments", "UPDATE stg_gp_appointments SET appt_status = 'attended' WHERE appointment_id = 'gp_1'"),
    ),
    "stg_gp_appointments.appointment_id_is_unique": (
        assets.staging, "stage_extract",
        staged_then("gp_appointments", "UPDATE stg_gp_appointments SET appointment_id = 'gp_1' WHERE appointment_id = 'gp_2'"),
    ),
    "stg_population.quarantine_within_limit": (
        assets.staging, "stage_extract",
        staged_then("population", "DELETE FROM stg_population WHERE person_id = 'south2'"),
    ),
    "hiu_cohort.hiu_cohort_matches_schema": (
        assets.cohorts, "build_hiu_cohort", lambda conn, **_: conn.execute("UPDATE hiu_cohort SET high_intensity_services = 0")
    ),
    "frailty_cohort.frailty_cohort_matches_schema": (
        assets.frailty, "build_frailty_cohort",
        lambda conn, **_: conn.execute(  # 99 of 36 deficits
            "INSERT INTO frailty_cohort VALUES ('x', 'north', NULL, 'P001', 70, 'F', 0.5, 'severe', 99, false, '', "
            "NULL, NULL, 0, 0, 0, false, false, false, 0, false, NULL, NULL, NULL, NULL, NULL, DATE '2025-03-31')"
        ),
    ),
    # The tiny drop is too short for a model, so its rising-risk lists are empty: a listed current high
    # intensity user (north1) is one person too many, and a score of 2 is no probability.
    "rising_risk_cohort.rising_risk_lists_are_the_top_share": (
        assets.risk, "build_lists", lambda conn, *_: conn.execute(RISING_RISK_ROW.format(person="north1", score=0.5)),
    ),
    "rising_risk_cohort.rising_risk_cohort_matches_schema": (
        assets.risk, "build_lists", lambda conn, *_: conn.execute(RISING_RISK_ROW.format(person="nobody", score=2.0)),
    ),
    "service_concentration.neighbourhoods_add_up_to_all": (
        assets.metrics, "build_service_concentration",
        lambda conn, **_: conn.execute("UPDATE service_concentration SET population = population + 1 WHERE neighbourhood_code = 'ALL'"),
    ),
}
def table_written_then(table, sql):
    """Sabotage for `assets.programme._write`: once `table` is written, run `sql`."""
    def sabotage(step, name, frame):
        if name == table:
            step.conn.execute(sql)

    return sabotage


COUNTERFACTUAL_ROW = (
    "INSERT INTO counterfactual_activity VALUES ('{code}', DATE '2025-01-01', '{measure}', 'all', 'population_standardised', "
    "10, {observed}, 5.0, -5.0, 1.0, 9.0, 4.0, 18.0, -13.0, 1.0, NULL, NULL)"
)
PROGRAMME_SABOTAGE = {
    "counterfactual_activity.counterfactual_activity_matches_schema": table_written_then(
        "counterfactual_activity", COUNTERFACTUAL_ROW.format(code="north", measure="bed_nights", observed=10)
    ),
    # north has 10 emergency admissions one month and ALL says 3
    "counterfactual_activity.counterfactual_activity_adds_up": table_written_then(
        "counterfactual_activity",
        COUNTERFACTUAL_ROW.format(code="north", measure="emergency_admissions", observed=10) + "; "
        + COUNTERFACTUAL_ROW.format(code="ALL", measure="emergency_admissions", observed=3),
    ),
    "counterfactual_activity.programme_summary_matches_schema": table_written_then(
        "programme_summary",
        "INSERT INTO programme_summary VALUES ('north', 'last_12_months', 'ed_attendances', 'all', 'population_standardised', "
        "DATE '2024-06-01', 3, DATE '2024-06-01', DATE '2024-08-01', -4, 5.0, 9.0, 1.0, 2.0, 0.0, 3.0, 2.0, 5.0, 180.0, "
        "1.0, 1.0, 0.5)",
    ),
    "cohort_followup.cohort_followup_matches_schema": table_written_then(
        "cohort_followup",
        "INSERT INTO cohort_followup VALUES ('north', 'unplanned_activity', DATE '2024-01-15', NULL, -1, 0, 0, 0, 0, 0, "
        "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    ),
}
SABOTAGE["social_care_profile.social_care_profile_matches_schema"] = (
    assets.programme, "build_social_care_profile",
    lambda conn, *_, **__: conn.execute("UPDATE social_care_profile SET people = -5 WHERE neighbourhood_code = 'ALL'"),
)
FILE_SABOTAGE = {
    "neighbourhood_cohort_files.files_partition_the_table": corrupt_files("hiu_cohort", lambda frame: frame.head(0)),
    "neighbourhood_frailty_files.files_partition_the_table": corrupt_files(
        "frailty_cohort", lambda frame: pl.DataFrame({"person_id": ["stranger"], "neighbourhood_code": ["north"], "practice_code": ["P001"]})
    ),
    "neighbourhood_rising_risk_files.files_partition_the_table": corrupt_files(
        "rising_risk_cohort", lambda frame: pl.DataFrame({"person_id": ["stranger"], "neighbourhood_code": ["north"], "practice_code": ["P001"]})
    ),
}


def _report_of(run_dir, code="south"):
    return run_dir / "neighbourhoods" / code / "report.html"


REPORT_CHECK = "neighbourhood_reports.reports_are_self_contained"
# Each breaks what that check guards, after the reports are written.
REPORT_SABOTAGE = {
    "a report fetches an image": lambda run_dir: _report_of(run_dir).write_text(
        _report_of(run_dir).read_text().replace("</main>", '<img src="https://example.org/logo.png" alt="logo"></main>')),
    "a report is missing": lambda run_dir: _report_of(run_dir).unlink(),
    "the index leaves a report out": lambda run_dir: (run_dir / "index.html").write_text(
        (run_dir / "index.html").read_text().replace('href="neighbourhoods/south/report.html"', 'href="#"')),
}


def assert_failed_and_nothing_published(outcome, check, tmp_path):
    assert not outcome.ok
    assert any(f"check {check}:" in failure for failure in outcome.failures), outcome.failures
    out = tmp_path / "out"
    assert not (out / "manifest.json").exists() and not list(out.glob(".run-*"))
    assert not (tmp_path / "w.duckdb").exists() and not list(tmp_path.glob("w.duckdb.run-*"))


@pytest.mark.parametrize("check", sorted(SABOTAGE))
def test_a_broken_table_fails_its_check_and_nothing_is_published(tmp_path, monkeypatch, check):
    module, name, sabotage = SABOTAGE[check]
    monkeypatch.setattr(module, name, after(module, name, sabotage))
    outcome = materialize_all(settings_for(tmp_path, drop(tmp_path / "drop")))
    assert_failed_and_nothing_published(outcome, check, tmp_path)


@pytest.mark.parametrize("check", sorted(FILE_SABOTAGE))
def test_broken_neighbourhood_files_fail_their_check_and_nothing_is_published(tmp_path, monkeypatch, check):
    monkeypatch.setattr(assets.exports, "write_neighbourhood_files", written_then(assets.exports, "write_neighbourhood_files", FILE_SABOTAGE[check]))
    outcome = materialize_all(settings_for(tmp_path, drop(tmp_path / "drop")))
    assert_failed_and_nothing_published(outcome, check, tmp_path)


@pytest.mark.parametrize("check", sorted(PROGRAMME_SABOTAGE))
def test_broken_programme_metrics_fail_their_check_and_nothing_is_published(tmp_path, monkeypatch, check):
    original = assets.programme._write

    def wrapped(step, table, frame):
        original(step, table, frame)
        PROGRAMME_SABOTAGE[check](step, table, frame)

    monkeypatch.setattr(assets.programme, "_write", wrapped)
    outcome = materialize_all(settings_for(tmp_path, drop(tmp_path / "drop")))
    assert_failed_and_nothing_published(outcome, check, tmp_path)


@pytest.mark.parametrize("fault", sorted(REPORT_SABOTAGE))
def test_broken_reports_fail_their_check_and_nothing_is_published(tmp_path, monkeypatch, fault):
    original = assets.reports.write_reports

    def wrapped(run_dir, *args, **kwargs):
        result = original(run_dir, *args, **kwargs)
        REPORT_SABOTAGE[fault](run_dir)
        return result

    monkeypatch.setattr(assets.reports, "write_reports", wrapped)
    outcome = materialize_all(settings_for(tmp_path, drop(tmp_path / "drop")))
    assert_failed_and_nothing_published(outcome, REPORT_CHECK, tmp_path)


def _kind(check_name: str) -> str:
    """Checks made by one factory for several tables count as one kind."""
    return "id_is_unique" if check_name.endswith("_is_unique") else check_name


def test_every_blocking_check_has_a_test_that_makes_it_fail():
    from pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    blocking = {_kind(key.name) for key in graph.asset_check_keys if graph.get(key).blocking}
    tested = {_kind(name.split(".")[1]) for name in [*SABOTAGE, *FILE_SABOTAGE, *PROGRAMME_SABOTAGE]}
    if REPORT_SABOTAGE:  # test_broken_reports_fail_their_check_and_nothing_is_published
        tested.add(_kind(REPORT_CHECK.split(".")[1]))
    warn_only = {"warnings_reported", "window_fully_covered", "published_copies_not_withheld", "rising_risk_model_trained"}
    assert blocking - warn_only <= tested, blocking - warn_only - tested


def test_the_schema_check_samples_a_large_table_and_still_finds_a_fault_of_the_passes(tmp_path, monkeypatch):
    """Over SCHEMA_SAMPLE_ROWS rows the check reads a sample: a fault of staging's passes (here every
    accepted GP status written in lower case) is in any sample, so the run still fails."""
    monkeypatch.setattr(assets.staging, "SCHEMA_SAMPLE_ROWS", 5)  # the tiny drop has 22 GP appointments
    sabotage = staged_then("gp_appointments", "UPDATE stg_gp_appointments SET appt_status = lower(appt_status)")
    monkeypatch.setattr(assets.staging, "stage_extract", after(assets.staging, "stage_extract", sabotage))
    outcome = materialize_all(settings_for(tmp_path, drop(tmp_path / "drop")))
    assert_failed_and_nothing_published(outcome, "stg_gp_appointments.matches_schema", tmp_path)
    assert any("sampled accepted rows break a contract rule" in failure for failure in outcome.failures), outcome.failures


def test_a_check_that_raises_has_failed_naming_itself_and_nothing_is_published(tmp_path, monkeypatch):
    """A check that cannot run (the table it reads is gone) is a failed check, not a lost one: the
    run names it and stops before publishing."""
    sabotage = staged_then("gp_appointments", "DROP TABLE quarantine_gp_appointments")
    monkeypatch.setattr(assets.staging, "stage_extract", after(assets.staging, "stage_extract", sabotage))
    outcome = materialize_all(settings_for(tmp_path, drop(tmp_path / "drop")))
    check = "stg_gp_appointments.rows_read_equal_accepted_plus_quarantined"
    assert_failed_and_nothing_published(outcome, check, tmp_path)
    assert any(f"check {check}: the check raised CatalogException" in failure for failure in outcome.failures), outcome.failures
