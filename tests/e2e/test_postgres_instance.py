"""The Dagster instance on PostgreSQL (issue 11), as a production deployment keeps it: with
DAGSTER_PG_URL set, the home's dagster.yaml keeps runs and events in the database, and a run's
history and asset materialisations land there, not in SQLite files.

The fixture starts Debian's PostgreSQL server (installed by `.ci/run`) on 127.0.0.1 only, in a
throwaway data folder, and stops it after."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from pipeline.instance import PG_URL, prepare_home
from pipeline.runner import materialize_all
from tests.live import free_port
from tests.e2e.test_tiny_run import drop, settings_for

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


@pytest.fixture(scope="module")
def postgres():
    if not BIN:
        pytest.skip("PostgreSQL server is not installed (.ci/run installs Debian's postgresql)")
    tools = Path(BIN[-1])
    # Its own folder under /tmp: pytest's are closed to any user but ours, and the server's user needs one.
    folder = Path(tempfile.mkdtemp(prefix="hiu-postgres-"))
    data, sockets, port = folder / "data", folder / "sockets", free_port()
    sockets.mkdir()
    as_server = []
    if os.geteuid() == 0:  # the server refuses to run as root: as Debian's postgres user
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
        as_server = ["runuser", "-u", "postgres", "--"]

    def run(*command: str) -> None:
        subprocess.run([*as_server, *command], check=True, capture_output=True, text=True)

    run(str(tools / "initdb"), "-D", str(data), "-U", "hiu", "--auth=trust", "--encoding=UTF8")
    run(str(tools / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "start",
        "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets}")
    try:
        run(str(tools / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "hiu", "dagster")
        yield f"postgresql://hiu@127.0.0.1:{port}/dagster"
    finally:
        run(str(tools / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_a_runs_history_and_materialisations_land_in_postgres(postgres, tmp_path, monkeypatch):
    import psycopg2

    home = tmp_path / "home"
    words = prepare_home(home, {PG_URL: postgres}).read_text()
    assert "env: DAGSTER_PG_URL" in words and postgres not in words  # the URL is never written down
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv(PG_URL, postgres)
    outcome = materialize_all(settings_for(tmp_path, drop(tmp_path / "drop")))
    assert outcome.ok, outcome.failures
    with psycopg2.connect(postgres) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (outcome.run_id,))
        assert cursor.fetchall() == [("SUCCESS",)]
        cursor.execute("SELECT count(DISTINCT asset_key) FROM event_logs WHERE run_id = %s AND "
                       "dagster_event_type = 'ASSET_MATERIALIZATION'", (outcome.run_id,))
        assert cursor.fetchone()[0] > 40  # every asset of the graph
    assert not list(home.rglob("*.db"))  # nothing kept in SQLite


def test_without_the_url_the_home_keeps_sqlite(tmp_path):
    words = prepare_home(tmp_path / "home", {}).read_text()
    assert "postgres" not in words.split("# A run whose process dies")[0].lower() and "storage:" not in words
