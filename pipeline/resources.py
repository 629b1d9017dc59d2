"""The DuckDB warehouse. DuckDB allows one writer per database file, so every asset that opens it
joins the `duckdb` concurrency pool (limit 1 in dagster.yaml) and the default executor runs a
run's steps in one process, one after another."""

from __future__ import annotations

from pathlib import Path

from dagster_duckdb import DuckDBResource

WAREHOUSE_POOL = "duckdb"
# DuckDB takes 80% of RAM by default; capped, it spills to `<warehouse>.tmp/` instead, which keeps a
# 465,000-person run under the 3 GB target together with Python and Dagster.
MEMORY_LIMIT = "1500MB"


def warehouse_resource(path: str) -> DuckDBResource:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return DuckDBResource(
        database=path, connection_config={"preserve_insertion_order": True, "memory_limit": MEMORY_LIMIT},
    )
