"""A deployment partitioned by integrated care board (issue 12): the drop split by `hiu split`, one
run per ICB launched through a live Dagster instance (its queue, and the default run launcher, which
starts each run in a process of its own, as the K8sRunLauncher starts a pod), several at once. The
ICB runs together give the single run's cohorts exactly, and each reads and writes only its own
drop, output folder, manifest and warehouse."""

from __future__ import annotations

import json

import dagster as dg
import polars as pl
import pytest

from pipeline.instance import prepare_home
from pipeline.partitions import split_drop
from pipeline.runner import materialize_all
from pipeline.settings import HiuSettings
from tests.e2e.test_tiny_run import PRACTICES, drop
from tests.live import LOCATION, dagster_dev, launch_run, wait_for_runs

ICBS = {"north": "QN1", "south": "QS1"}
# The rising-risk model is fitted on each ICB's own people, so its scores are the ICB's; everything
# else about a person is the same whichever run lists them.
MODEL_COLUMNS = ("rising_risk_score",)
COHORTS = ("hiu_cohort", "frailty_cohort")  # the frailty list of this drop is empty, and must be in both


def with_icbs(practices: list[dict]) -> list[dict]:
    return [{**p, "icb_code": ICBS[p.get("neighbourhood_code", "north")]} for p in practices]


def uncounted(person: str, day: str) -> dict[str, dict]:
    """A row of each required feed that no count takes: each ICB's own feeds cover its whole window
    (a run's default as-of date is the last day its own drop's feeds all cover)."""
    return {
        "gp": {"person_id": person, "appointment_date": day, "appt_status": "DNA"},
        "ed": {"person_id": person, "arrival_datetime": f"{day} 10:00:00", "attendance_category": "4"},
        "admissions": {"person_id": person, "admission_date": day, "discharge_date": day, "admission_method": "11"},
    }


def the_drop(folder):
    ends = [uncounted(person, day) for person in ("north1", "south2") for day in ("2024-01-16", "2025-01-15")]
    gp = [{"person_id": "north1"}] * 21 + [{"person_id": "nobody"}]  # nobody's row belongs to no ICB
    return drop(folder, practices=with_icbs(PRACTICES), gp=gp + [e["gp"] for e in ends],
                ed=[{"person_id": "south1"}] * 5 + [e["ed"] for e in ends],
                admissions=[{"person_id": "south1"}] * 3 + [e["admissions"] for e in ends])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("partitioned")
    whole = the_drop(folder / "drop")
    single = materialize_all(HiuSettings(extracts_dir=str(whole), output_dir=str(folder / "single"),
                                         warehouse=str(folder / "single.duckdb")))
    assert single.ok, single.failures
    split = split_drop(whole, folder / "parts")
    assert split.partitions == sorted(ICBS.values())
    settings = {"HIU_PARTITION_BY": "icb", "HIU_EXTRACTS_DIR": str(folder / "parts"),
                "HIU_OUTPUT_DIR": str(folder / "out"), "HIU_WAREHOUSE": str(folder / "w.duckdb")}
    prepare_home(folder / "home", settings)  # the partitioned instance: ICBs at once, one run per ICB
    with dagster_dev(folder / "home", settings, folder / "dagster-dev.log") as live:
        add = """mutation($key: String!, $location: RepositorySelector!) { addDynamicPartition(
                   partitionsDefName: "icb", partitionKey: $key, repositorySelector: $location) { __typename } }"""
        for key in split.partitions:  # as the icb_extracts sensor does, if it has not yet
            added = live.query(add, {"key": key, "location": LOCATION})["addDynamicPartition"]["__typename"]
            assert added in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"), added
        launched = {key: launch_run(live, {"dagster/partition": key}) for key in split.partitions}
        statuses = wait_for_runs(live, list(launched.values()))
    with dg.DagsterInstance.from_config(str(folder / "home")) as instance:
        # when the queue let each run go, and when each ended
        for run in statuses.values():
            (dequeued,) = instance.all_logs(run["runId"], of_type=dg.DagsterEventType.RUN_STARTING)
            run["dequeued"] = dequeued.timestamp
    return folder, launched, statuses


def test_each_icb_runs_in_its_own_process_at_the_same_time_and_succeeds(runs):
    folder, launched, statuses = runs
    assert [statuses[run]["status"] for run in launched.values()] == ["SUCCESS"] * len(launched), statuses
    # several at once: the queue let every ICB's run go before any had finished (the instance of one
    # warehouse lets the second go only after the first, tests/e2e/test_live_instance.py)
    assert max(run["dequeued"] for run in statuses.values()) < min(run["endTime"] for run in statuses.values())


def test_the_icb_runs_together_give_the_single_runs_cohorts_exactly(runs):
    folder, launched, _ = runs
    for cohort in COHORTS:
        single = pl.concat([pl.read_parquet(p) for p in sorted((folder / "single").glob(f"neighbourhoods/*/{cohort}.parquet"))])
        parts = pl.concat([pl.read_parquet(p) for p in sorted((folder / "out").glob(f"*/neighbourhoods/*/{cohort}.parquet"))])
        keep = [c for c in single.columns if c not in MODEL_COLUMNS]
        assert parts.select(keep).sort("person_id").equals(single.select(keep).sort("person_id")), cohort
    assert single.height == 0 and parts.height == 0  # frailty_cohort, the last
    hiu = pl.read_parquet(folder / "single/neighbourhoods/*/hiu_cohort.parquet")
    assert sorted(hiu["person_id"]) == ["north1", "south1"]
    # each neighbourhood's service concentration is the same whichever run counts it
    concentration = [pl.read_parquet(p).filter(pl.col("neighbourhood_code") != "ALL")
                     for p in sorted((folder / "out").glob("*/metrics/service_concentration.parquet"))]
    single = pl.read_parquet(folder / "single/metrics/service_concentration.parquet").filter(pl.col("neighbourhood_code") != "ALL")
    assert pl.concat(concentration).sort("neighbourhood_code", "service").equals(single.sort("neighbourhood_code", "service"))


def test_an_icb_run_reads_and_writes_only_its_own_files(runs):
    folder, launched, _ = runs
    assert sorted(p.name for p in (folder / "out").iterdir() if not p.name.startswith(".")) == sorted(launched)
    assert sorted(p.name for p in (folder / "w").glob("*.duckdb")) == sorted(f"{key}.duckdb" for key in launched)
    for neighbourhood, key in ICBS.items():
        manifest = json.loads((folder / "out" / key / "manifest.json").read_text())
        assert manifest["run_id"] == launched[key]
        assert [p.name for p in (folder / "out" / key / "neighbourhoods").iterdir()] == [neighbourhood]
        read = {entry["path"] for entry in manifest["inputs"]}
        assert read and all(str(folder / "parts" / key) in path for path in read), read
