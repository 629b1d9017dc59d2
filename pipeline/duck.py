"""Small DuckDB helpers. DuckDB 2.0 streams results: a half-fetched `execute()` keeps the
connection busy, so read scalars and rows through these, which always fetch to the end."""

from __future__ import annotations

from typing import Any

import duckdb

from schemas.sql_rules import quote_ident


def scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> Any:
    rows = conn.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def row_count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    return scalar(conn, f"SELECT count(*) FROM {table}")


def drop_relation(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop a table or view of this name, whichever it is (DuckDB refuses the wrong kind)."""
    kinds = conn.execute(
        "SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = ? AND NOT temporary "
        "UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE view_name = ? AND NOT internal AND NOT temporary",
        [name, name],
    ).fetchall()
    for (kind,) in kinds:
        conn.execute(f"DROP {kind} {quote_ident(name)}")
