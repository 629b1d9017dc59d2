"""Small DuckDB helpers. DuckDB 2.0 streams results: a half-fetched `execute()` keeps the
connection busy, so read scalars and rows through these, which always fetch to the end."""

from __future__ import annotations

from typing import Any

import duckdb


def scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> Any:
    rows = conn.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def row_count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    return scalar(conn, f"SELECT count(*) FROM {table}")
