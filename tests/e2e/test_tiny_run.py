"""The whole Dagster graph, in-process, on small hand-written drops."""

import json
import subprocess
import sys

import dagster as dg
import polars as pl

from pipeline.runner import materialize_all
from pipeline.settings import HiuSettings
from tests.drops import write_drop

PRACTICES = [
    {},
    {"practice_code": "P002", "practice_name": "=Beta", "pcn_code": "PCN2", "neighbourhood_code": "south", "neighbourhood_name": "South INT"},
]
PEOPLE = [
    {"person_id": "north1"},
    {"person_id": "south1", "practice_code": "P002"},
    {"person_id": "south2", "practice_code": "P002"},
]


# Rows the counting rules do not count, at the start of the window, so that every required feed
# covers the whole 12 months to the as-of date (2025-01-15).
COVERAGE = {
    "gp_appointments": [{"person_id": "south2", "appointment_date": "2024-01-16", "appt_status": "DNA"}],
    "ed_attendances": [{"person_id": "south2", "arrival_datetime": "2024-01-16 10:00:00", "attendance_category": "4"}],
    "admissions": [{"person_id": "south2", "admission_date": "2024-01-16", "discharge_date": "2024-01-16", "admission_method": "11"}],
}


def drop(folder, practices=PRACTICES, gp=None, ed=None, admissions=None):
    return write_drop(
        folder,
        practices=practices,
        population=PEOPLE,
        # The stranger's row is quarantined, so its later date must not become the as-of date.
        gp_appointments=(gp if gp is not None else [{"person_id": "north1"}] * 21 + [{"person_id": "nobody", "appointment_date": "2026-06-30"}])
        + COVERAGE["gp_appointments"],
        ed_attendances=(ed if ed is not None else [{"person_id": "south1"}] * 5) + COVERAGE["ed_attendances"],
        admissions=(admissions if admissions is not None else [{"person_id": "south1"}] * 3) + COVERAGE["admissions"],
    )


def settings_for(tmp_path, extracts):
    return HiuSettings(
        extracts_dir=str(extracts), output_dir=str(tmp_path / "out"), warehouse=str(tmp_path / "w.duckdb")
    )


def test_run_writes_every_output_for_each_neighbourhood(tmp_path):
    settings = settings_for(tmp_path, drop(tmp_path / "drop"))
    outcome = materialize_all(settings)
    assert outcome.ok, outcome.failures
    out = tmp_path / "out"
    north = pl.read_parquet(out / "neighbourhoods/north/hiu_cohort.parquet")
    south = pl.read_parquet(out / "neighbourhoods/south/hiu_cohort.parquet")
    assert north["person_id"].to_list() == ["north1"] and north["reason"].to_list() == ["GP 21 (20+)"]
    assert south["person_id"].to_list() == ["south1"] and south["himsu"].to_list() == [True]
    assert south["practice_name"].to_list() == ["=Beta"]
    assert "'=Beta" in (out / "neighbourhoods/south/hiu_cohort.csv").read_text()
    assert (out / "neighbourhoods/south/hiu_cohort_dictionary.csv").exists()
    concentration = pl.read_parquet(out / "metrics/service_concentration.parquet")
    all_gp = concentration.filter((pl.col("neighbourhood_code") == "ALL") & (pl.col("service") == "gp")).row(0, named=True)
    assert (all_gp["population"], all_gp["hiu_people"], all_gp["activity_total"]) == (3, 1, 21)
    quarantined = pl.read_parquet(out / "quarantine/gp_appointments.parquet")
    assert quarantined["reason"].to_list() == ["person_id not found in population"]

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["as_of"] == "2025-01-15" and manifest["window_start"] == "2024-01-16"
    assert manifest["thresholds"] == {"gp_appointments": 20, "ed_attendances": 5, "emergency_admissions": 3}
    assert manifest["extracts"]["gp_appointments"] == {
        "supplied": True, "required": True, "rows_read": 23, "rows_accepted": 22, "rows_quarantined": 1,
        "rows_warned": 0, "absent_columns": [],
    }
    assert "social_care_events" in manifest["not_supplied"]
    listed = {entry["path"] for entry in manifest["outputs"]}
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert listed == {f for f in on_disk if not f.startswith(".")}  # .lock is housekeeping
    assert all(len(entry["sha256"]) == 64 for entry in manifest["inputs"] + manifest["outputs"])
    assert not list(out.glob(".run-*")) and not (out / ".previous").exists()


def test_failed_run_leaves_previous_outputs_exactly_as_they_were(tmp_path):
    extracts = drop(tmp_path / "drop")
    settings = settings_for(tmp_path, extracts)
    assert materialize_all(settings).ok
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}

    (extracts / "admissions.csv").write_text("spell_id,person_id\n")  # a required column missing
    outcome = materialize_all(settings)
    assert not outcome.ok
    assert any("admissions.csv" in f and "admission_date" in f for f in outcome.failures)
    after = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before


def test_run_is_repeatable(tmp_path):
    settings = settings_for(tmp_path, drop(tmp_path / "drop"))
    assert materialize_all(settings).ok
    first = pl.read_parquet(tmp_path / "out/neighbourhoods/south/hiu_cohort.parquet")
    assert materialize_all(settings).ok
    assert pl.read_parquet(tmp_path / "out/neighbourhoods/south/hiu_cohort.parquet").equals(first)


def test_hiu_command_exits_non_zero_and_names_the_missing_extract(tmp_path):
    extracts = drop(tmp_path / "drop")
    (extracts / "practices.csv").unlink()
    command = [sys.executable, "-m", "pipeline.cli", "run", "--extracts", str(extracts),
               "--output", str(tmp_path / "out"), "--warehouse", str(tmp_path / "w.duckdb")]
    result = subprocess.run(command, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert "required extract practices not found" in result.stderr
    notice = tmp_path / "out" / "status" / "last_run_failed.md"
    assert f"failure notice: {notice}" in result.stderr
    assert "required extract practices not found" in notice.read_text() and "No run has succeeded here yet" in notice.read_text()
    published = [p for p in (tmp_path / "out").rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert sorted(p.name for p in published) == ["last_run_failed.json", "last_run_failed.md"]  # and the lock


def test_hiu_command_prints_where_the_cohort_files_are(tmp_path):
    extracts = drop(tmp_path / "drop")
    (tmp_path / "out" / "status").mkdir(parents=True)
    (tmp_path / "out" / "status" / "last_run_failed.md").write_text("# The last refresh failed\n")  # last night's
    command = [sys.executable, "-m", "pipeline.cli", "run", "--extracts", str(extracts),
               "--output", str(tmp_path / "out"), "--warehouse", str(tmp_path / "w.duckdb"), "--as-of", "2025-01-15"]
    result = subprocess.run(command, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "out" / "status").exists()  # the run succeeded: the notice is gone
    assert f"{tmp_path / 'out' / 'neighbourhoods'}" in result.stdout
    assert json.loads((tmp_path / "out/manifest.json").read_text())["as_of"] == "2025-01-15"
    assert "as-of date 2025-01-15" in result.stdout and "window 2024-01-16 to 2025-01-15" in result.stdout


def test_rerun_after_a_practice_moves_leaves_no_list_in_the_old_neighbourhood(tmp_path):
    extracts = drop(tmp_path / "drop")
    settings = settings_for(tmp_path, extracts)
    assert materialize_all(settings).ok
    assert (tmp_path / "out/neighbourhoods/south/hiu_cohort.csv").exists()
    moved = [{}, {**PRACTICES[1], "neighbourhood_code": "north", "neighbourhood_name": "North INT"}]
    drop(extracts, practices=moved, gp=[{"person_id": "north1"}], admissions=[{"person_id": "north1"}])
    assert materialize_all(settings).ok
    assert not (tmp_path / "out/neighbourhoods/south").exists()
    north = pl.read_parquet(tmp_path / "out/neighbourhoods/north/hiu_cohort.parquet")
    assert north["person_id"].to_list() == ["south1"]
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert not [o for o in manifest["outputs"] if "south" in o["path"]]


def test_a_second_run_on_the_same_warehouse_is_refused_while_one_runs(tmp_path):
    from pipeline.locks import exclusive

    settings = settings_for(tmp_path, drop(tmp_path / "drop"))
    with exclusive(tmp_path / "w.duckdb.lock"):
        outcome = materialize_all(settings)
    assert not outcome.ok and "another run holds" in outcome.failures[0]
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_population_with_no_rows_fails_loudly(tmp_path):
    extracts = write_drop(tmp_path / "drop", practices=PRACTICES)  # population: header only
    outcome = materialize_all(settings_for(tmp_path, extracts))
    assert not outcome.ok
    assert any("population" in f and "no accepted rows" in f for f in outcome.failures), outcome.failures
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_no_patient_level_value_reaches_dagster_metadata_or_logs(tmp_path):
    from pipeline.definitions import build_definitions

    settings = settings_for(tmp_path, drop(tmp_path / "drop"))
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(raise_on_error=False)
    assert result.success
    said = []
    for event in result.all_events:
        said.append(event.message or "")
        data = event.event_specific_data
        for holder in (getattr(data, "materialization", None), getattr(data, "asset_check_evaluation", None), data):
            metadata = getattr(holder, "metadata", None) or {}
            said += [f"{key}={getattr(value, 'value', value)}" for key, value in metadata.items()]
    text = "\n".join(said)
    assert "rows_by_neighbourhood" in text or "preview" in text  # metadata was read
    for person in ("north1", "south1", "south2"):
        assert person not in text, person


def test_runs_carry_the_extract_folder_as_of_date_and_output_folder_as_tags(tmp_path):
    import dagster as dg

    from pipeline.definitions import build_definitions

    settings = settings_for(tmp_path, drop(tmp_path / "drop"))
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)  # as the UI runs it: no tags given
        tags = instance.get_run_by_id(result.run_id).tags
    assert tags["hiu/as_of"] == "2025-01-15"
    assert tags["hiu/extracts"] == str((tmp_path / "drop").resolve())
    assert tags["hiu/output"] == str((tmp_path / "out").resolve())


def test_a_baseline_before_the_data_fails_the_run_once_saying_which_dates_the_data_cover(tmp_path):
    settings = HiuSettings(
        extracts_dir=str(drop(tmp_path / "drop")), output_dir=str(tmp_path / "out"), warehouse=str(tmp_path / "w.duckdb"),
        baseline_start="2020-01-01",
    )
    outcome = materialize_all(settings)
    assert not outcome.ok and not (tmp_path / "out" / "manifest.json").exists()
    assert all("HIU_BASELINE_START 2020-01-01" in failure for failure in outcome.failures), outcome.failures
    assert {failure.split(":")[0] for failure in outcome.failures} <= {"monthly_population", "monthly_neighbourhood_activity"}


def test_the_ui_shows_column_words_with_the_runs_numbers_and_headline_figures_as_numbers(tmp_path):
    """A data engineer reading a table's columns in the Dagster UI sees "20 or more GP appointments",
    not the "{gp_threshold}" the schema writes; the headline figures are numbers, which the UI plots
    across runs; the exports say when they are due."""
    from pipeline.definitions import build_definitions

    settings = settings_for(tmp_path, drop(tmp_path / "drop"))
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(raise_on_error=False)
    assert result.success
    described, numbers = {}, {}
    for event in result.all_events:
        materialization = getattr(event.event_specific_data, "materialization", None)
        metadata = getattr(materialization, "metadata", None) or {}
        schema = metadata.get("dagster/column_schema")
        if schema is not None:
            described[materialization.asset_key.path[-1]] = {c.name: c.description or "" for c in schema.schema.columns}
        for key, value in metadata.items():
            if isinstance(value, (dg.IntMetadataValue, dg.FloatMetadataValue)):
                numbers[key] = value.value
    assert (numbers["people_in_population"], numbers["hiu_people"], numbers["himsu_people"], numbers["rows_quarantined"]) == (3, 2, 1, 1)
    graph = build_definitions(settings).resolve_asset_graph()
    for export in ("neighbourhood_cohort_files", "metric_files", "published_outputs"):
        policy = graph.get(dg.AssetKey(export)).freshness_policy
        assert (policy.deadline_cron, policy.timezone) == ("0 7 * * *", "Europe/London"), export
    assert {"hiu_cohort", "counterfactual_activity"} <= set(described)
    for asset, columns in described.items():
        for column, words in columns.items():
            assert "{" not in words and "}" not in words, (asset, column, words)
    assert "2 days" in described["counterfactual_activity"]["measure"]  # HIU_SHORT_STAY_MAX_DAYS


def test_a_check_runs_alone_on_the_table_as_it_is_without_rebuilding_it(tmp_path):
    """As the UI's "execute check" does: checks run in their asset's step, and the asset is
    subsettable, so a check selected alone evaluates the published table and materialises nothing."""
    from pipeline.definitions import build_definitions

    settings = settings_for(tmp_path, drop(tmp_path / "drop"))
    assert materialize_all(settings).ok
    defs = build_definitions(settings)
    check = dg.AssetCheckKey(dg.AssetKey("stg_gp_appointments"), "matches_schema")
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(defs.assets, instance=instance, resources=defs.resources,
                                selection=dg.AssetSelection.checks(check), raise_on_error=False)
    assert result.success
    evaluations = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert [(e.check_name, e.passed) for e in evaluations] == [("matches_schema", True)]
    assert not result.get_asset_materialization_events()
