"""A rerun on the same extracts gives the same files, byte for byte; a `hiu run` killed at any point
(staging, writing the exports, publishing) leaves the previous files and a usable warehouse, and the
next run completes."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipeline.runner import materialize_all
from pipeline.settings import HiuSettings
from tests.e2e.test_tiny_run import drop, settings_for

# What carries the run's id or the time it was made, by design: the manifest, and the workbooks'
# About sheet (and the zip's own timestamps). Everything else must come out the same.
STAMPED = ("manifest.json", ".xlsx")


def files(out: Path) -> dict[str, bytes]:
    """What a user of the output folder sees: not the housekeeping (`.lock`, a run's `.run-<id>/`
    folder before it publishes, the publish journal) nor the failure notice."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)
            and "status" not in p.relative_to(out).parts}


def test_a_rerun_on_the_same_extracts_writes_the_same_bytes(sample_run):
    before = files(sample_run)
    settings = HiuSettings(extracts_dir=str(Path(__file__).resolve().parents[2] / "data" / "sample"),
                           output_dir=str(sample_run), warehouse=str(sample_run.parent / "w.duckdb"))
    assert materialize_all(settings).ok
    after = files(sample_run)
    assert sorted(after) == sorted(before)
    compared = [name for name in before if not name.endswith(STAMPED)]
    assert any(name.endswith("report.html") for name in compared) and "index.html" in compared
    assert [name for name in compared if after[name] != before[name]] == []


def consistent(out: Path) -> dict:
    """The output folder is exactly what its manifest lists, each file with its checksum."""
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {entry["path"]: entry["sha256"] for entry in manifest["outputs"]}
    on_disk = {name for name in files(out) if name != "manifest.json"}
    assert on_disk == set(listed), (sorted(on_disk - set(listed))[:5], sorted(set(listed) - on_disk)[:5])
    for name, sha in listed.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == sha, name
    return manifest


def hiu_run(tmp_path, extracts) -> subprocess.Popen:
    command = [sys.executable, "-m", "pipeline.cli", "run", "--extracts", str(extracts), "--output", str(tmp_path / "out"),
               "--warehouse", str(tmp_path / "w.duckdb")]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


# When to kill: the first sign on disk that the run has reached that point.
KILL_POINTS = {
    "staging": lambda tmp: list(tmp.glob("w.duckdb.run-*")),
    "writing exports": lambda tmp: list((tmp / "out").glob(".run-*/neighbourhoods/*/hiu_cohort.parquet")),
    "publishing": lambda tmp: list((tmp / "out").glob(".run-*/manifest.json")) or (tmp / "out" / ".publish-journal").exists(),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_run_killed_at_any_point_harms_nothing_and_the_next_run_completes(tmp_path, point):
    extracts = drop(tmp_path / "drop")
    settings = settings_for(tmp_path, extracts)
    assert materialize_all(settings).ok
    previous = files(tmp_path / "out")
    # a new drop: north1 now has 30 GP appointments, so a half-published run would show
    drop(tmp_path / "drop", gp=[{"person_id": "north1"}] * 30)

    run = hiu_run(tmp_path, extracts)
    deadline = time.monotonic() + 120
    while not KILL_POINTS[point](tmp_path):
        assert run.poll() is None, f"the run ended before {point}"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()

    now = files(tmp_path / "out")
    if point == "publishing" and now != previous:  # the kill landed after the publish had finished
        consistent(tmp_path / "out")
    else:
        assert now == previous
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM hiu_cohort").fetchone()[0] >= 1

    assert materialize_all(settings).ok
    manifest = consistent(tmp_path / "out")
    assert manifest["extracts"]["gp_appointments"]["rows_read"] == 30 + 1  # and the coverage row
    assert not list((tmp_path / "out").glob(".run-*")) and not list(tmp_path.glob("w.duckdb.run-*"))
