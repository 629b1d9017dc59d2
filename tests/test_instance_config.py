"""dagster.yaml (issue 11): the instance a team leaves running. It loads, and says what we rely on."""

import shutil
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[1]


def test_the_instance_settings_load_and_hold_what_the_nightly_runs_rely_on(tmp_path):
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert instance.run_retries_retry_on_asset_or_op_failure is False  # crashed runs only
        assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert not instance.telemetry_enabled


def test_the_partitioned_instance_runs_icbs_at_once_but_never_two_runs_of_one_icb(tmp_path):
    from pipeline.instance import prepare_home

    prepare_home(tmp_path, {"HIU_PARTITION_BY": "icb"})
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        runs = instance.get_concurrency_config().run_queue_config
        assert runs.max_concurrent_runs == 2 and instance.get_concurrency_config().pool_config.default_pool_limit == 2
        (limit,) = runs.tag_concurrency_limits
        assert limit == {"key": "dagster/partition", "limit": 1, "value": {"applyLimitPerUniqueValue": True}}
        assert instance.run_retries_enabled and not instance.telemetry_enabled  # the rest as dagster.yaml
