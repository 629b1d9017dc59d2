"""A live Dagster instance for tests: `dagster dev` (webserver and daemon) on 127.0.0.1, asked
through its GraphQL endpoint as the UI asks, and runs launched through it (the queue, the run
launcher: each run in its own process)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).parent / "dagster")
LOCATION = {"repositoryLocationName": "pipeline.definitions", "repositoryName": "__repository__"}
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Instance:
    def __init__(self, url: str):
        self.url = url

    def query(self, text: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": text, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        assert "errors" not in answer, answer["errors"]
        return answer["data"]


@contextlib.contextmanager
def dagster_dev(home: Path, settings: dict[str, str], log_path: Path) -> Iterator[Instance]:
    """`dagster dev` on the instance in `home`, with the HIU_* `settings`, until the block ends."""
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), **settings}
    log = open(log_path, "w")
    process = subprocess.Popen([DAGSTER, "dev", "-m", "pipeline.definitions", "-h", "127.0.0.1", "-p", str(port)],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    live = Instance(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                live.query("{ version }")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"dagster dev did not start: see {log_path}")
                time.sleep(1)
        yield live
    finally:
        # Asked to stop, dagster dev waits out its daemon's intervals (about 13 s); the instance is
        # thrown away with the test, so after a few seconds the whole group is killed.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=4)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def launch_run(instance: Instance, tags: dict[str, str] | None = None) -> str:
    """Launch a run of every asset as the UI's Materialize all does; its id."""
    launch = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
                  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
    params = {"selector": {**LOCATION, "jobName": "__ASSET_JOB"}, "runConfigData": {},
              "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}}
    launched = instance.query(launch, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def wait_for_runs(instance: Instance, runs: list[str], timeout: float = 600) -> dict[str, dict]:
    """Each run's status, start and end time, once all of them have finished (or the time is up)."""
    statuses, deadline = {}, time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = instance.query(
            """query($ids: [String!]) { runsOrError(filter: {runIds: $ids}) { ... on Runs { results {
                 runId status startTime endTime } } } }""",
            {"ids": runs},
        )["runsOrError"]["results"]
        statuses = {run["runId"]: run for run in found}
        if len(found) == len(runs) and all(run["status"] in FINISHED for run in found):
            break
        time.sleep(2)
    return statuses
