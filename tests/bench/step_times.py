"""Seconds per step of a finished run, from the Dagster instance's event log (STEP_START to
STEP_SUCCESS), so a benchmark can say what each asset cost inside the real run."""

from __future__ import annotations

import dagster as dg


def step_seconds(run_id: str) -> dict[str, float]:
    """Step key -> wall seconds, for the run in the instance at DAGSTER_HOME."""
    with dg.DagsterInstance.get() as instance:
        started, seconds = {}, {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                started[event.step_key] = entry.timestamp
            elif event.event_type == dg.DagsterEventType.STEP_SUCCESS and event.step_key in started:
                seconds[event.step_key] = round(entry.timestamp - started[event.step_key], 2)
    return seconds


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(step_seconds(sys.argv[1]), indent=2))
